//! The plan: every step of a run with all of its inputs resolved. Building it reads
//! files but starts no process and writes nothing; every problem of every step is
//! collected so that a mistake in the last tool stops the run before the first one.

pub mod changed;
pub mod env;
pub mod graph;
pub mod json_schema;
pub mod lint;
pub mod load;
pub mod outputs;
pub mod plugins;
pub mod preflight;
pub mod select;
pub mod terraform_state;
pub mod tool_files;
pub mod unpublished;
pub mod validate;

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::config::settings::{Deployment, EnvVars, Settings};
use crate::config::yaml::Doc;
use crate::error::{Kind, Problem};
use crate::plugin::schema::{self, Resolved, ToolConfig};
use crate::plugin::{self, Manifest};
use crate::repo::hooks::{self, Hook};
use crate::repo::view::{EnvView, Kind as PathKind};

pub use crate::repo::TOOL_CONFIG;

/// Everything a plan is built from.
pub struct Context {
    pub environment: String,
    pub ops_repo: PathBuf,
    pub settings: Settings,
    pub plugins_dir: Option<PathBuf>,
    pub env: EnvVars,
    /// bitops' own install folder (`BITOPS_DIR`).
    pub bitops_dir: PathBuf,
    pub dry_run: bool,
    /// With `dry_run`, run the user's hooks anyway.
    pub dry_run_hooks: bool,
    /// Time a step's processes get after SIGTERM before SIGKILL.
    pub grace: std::time::Duration,
    /// bitops' state folder: the deploy locks, and each step's own folder
    /// (`BITOPS_STEP_STATE_DIR`).
    pub state_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub environment: String,
    pub ops_repo: PathBuf,
    pub fail_fast: bool,
    pub dry_run: bool,
    pub steps: Vec<Step>,
    /// Which step waits for which (indexes into `steps`); in JSON its edges and levels.
    #[serde(serialize_with = "graph::Graph::serialize_summary")]
    pub graph: graph::Graph,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub index: usize,
    pub alias: String,
    pub plugin: String,
    pub plugin_dir: Option<PathBuf>,
    /// Whether the plugin is bitops' own (no installed plugin of that name).
    pub plugin_builtin: bool,
    /// The tool folder, relative to the workspace root (`<env>/<alias>`).
    pub tool_dir: PathBuf,
    /// Why the step will not run, when it will not.
    pub skip: Option<String>,
    pub before_hooks: Vec<Hook>,
    pub deploy: Vec<String>,
    pub after_hooks: Vec<Hook>,
    pub cli: String,
    /// The step's own variables, added to the caller's environment.
    #[serde(serialize_with = "ordered_map")]
    pub env: Vec<(String, String)>,
    /// How many of `env`'s last variables are the step's own (its CLI and exports).
    #[serde(skip)]
    pub own_vars: usize,
    pub values: Vec<Resolved>,
    pub timeout_secs: Option<u64>,
    /// Programs the plugin needs on `PATH` (its `plugin.tools`).
    pub tools: Vec<plugin::ToolNeed>,
    /// The steps this one waits for (`depends_on`; empty in listed order).
    pub needs: Vec<String>,
    /// Why the step is part of the run (`listed`, `--only`, what changed).
    pub selected: String,
    /// The `${{ outputs.… }}` its tool config reads.
    #[serde(skip)]
    pub references: Vec<outputs::Reference>,
}

impl Step {
    /// The resolved value of a setting (`cli.stack-action`), with where it came from.
    pub fn resolved(&self, key: &str) -> Option<&Resolved> {
        self.values.iter().find(|v| v.key == key)
    }

    /// The resolved value of a setting.
    pub fn value(&self, key: &str) -> Option<&schema::Val> {
        self.resolved(key).map(|v| &v.value)
    }

    /// `problem`, placed where the setting `key` is set: its line in a config file, else
    /// the tool's config file (a value from a variable or the schema default).
    pub fn at_setting(&self, problem: Problem, key: &str, view: &EnvView) -> Problem {
        match self.resolved(key).map(|v| &v.origin) {
            Some(schema::Origin::Config { file, line }) => problem.at(file, *line),
            _ => match view
                .file_layers(&Path::new(&self.alias).join(TOOL_CONFIG))
                .first()
            {
                Some(file) => problem.file(file),
                None => problem,
            },
        }
    }
}

fn ordered_map<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// The placeholder for the workspace root in a plan printed before staging.
pub const WORKSPACE_PLACEHOLDER: &str = "<workspace>";

/// Where a step is resolved: the ops repo before staging, or the workspace of a run.
pub struct Target<'a> {
    pub view: &'a EnvView,
    /// The workspace root (a placeholder before staging).
    pub root: &'a Path,
    /// Where the run wrote the built-in plugins; `None` before staging.
    pub builtins: Option<&'a Path>,
    /// During a run: the step's outputs file and what it receives; `None` before.
    pub io: Option<&'a outputs::StepIo>,
    /// The plugins read so far (one plan's steps share them).
    pub plugins: &'a plugins::Plugins,
}

/// The plan of the chosen deployments (`ctx.settings.deployments`), ordered by `graph`
/// (over the same deployments), each step with the reason it was chosen.
pub fn build(ctx: &Context, view: &EnvView, graph: graph::Graph, reasons: &[String]) -> Plan {
    let mut problems = Vec::new();
    let plugins = plugins::Plugins::default();
    let target = Target {
        view,
        root: Path::new(WORKSPACE_PLACEHOLDER),
        builtins: None,
        io: None,
        plugins: &plugins,
    };
    let steps = ctx
        .settings
        .deployments
        .iter()
        .enumerate()
        .map(|(i, dep)| {
            let mut step = build_step(ctx, i + 1, dep, &target, &mut problems);
            if graph.declared {
                step.needs = graph.deps[i]
                    .iter()
                    .map(|&d| graph.aliases[d].clone())
                    .collect();
            }
            step.selected = reasons.get(i).cloned().unwrap_or_else(|| "listed".into());
            step
        })
        .collect();
    Plan {
        environment: ctx.environment.clone(),
        ops_repo: ctx.ops_repo.clone(),
        fail_fast: ctx.settings.fail_fast,
        dry_run: ctx.dry_run,
        steps,
        graph,
        problems,
    }
}

/// One step, resolved against `target` (the ops repo before staging, the workspace after).
pub fn build_step(
    ctx: &Context,
    index: usize,
    dep: &Deployment,
    target: &Target,
    problems: &mut Vec<Problem>,
) -> Step {
    let view = target.view;
    let tool_rel = PathBuf::from(&dep.alias);
    let mut step = Step {
        index,
        alias: dep.alias.clone(),
        plugin: dep.plugin.clone(),
        plugin_dir: None,
        plugin_builtin: false,
        tool_dir: Path::new(&ctx.environment).join(&dep.alias),
        skip: None,
        before_hooks: Vec::new(),
        deploy: Vec::new(),
        after_hooks: Vec::new(),
        cli: String::new(),
        env: Vec::new(),
        own_vars: 0,
        values: Vec::new(),
        // 0 means no limit (a deployment's own 0 lifts the global one).
        tools: Vec::new(),
        needs: Vec::new(),
        selected: String::new(),
        references: Vec::new(),
        timeout_secs: dep
            .timeout
            .or(ctx.settings.timeout)
            .map(|d| d.as_secs())
            .filter(|s| *s > 0),
    };
    let found = target
        .plugins
        .get(ctx.plugins_dir.as_deref(), target.builtins, &dep.plugin);
    let Some(facts) = found else {
        let available = plugin::available(ctx.plugins_dir.as_deref());
        let mut p = Problem::error(format!(
            "unknown plugin `{}` for deployment `{}`",
            dep.plugin, dep.alias
        ))
        .key(format!("bitops.deployments.{}.plugin", dep.alias));
        p.file = ctx.settings.deployments_file.clone();
        p.line = (dep.line > 0).then_some(dep.line);
        let folder = match &ctx.plugins_dir {
            Some(dir) => format!("installed in {} or built in", dir.display()),
            None => "built in (no --plugins-dir)".to_string(),
        };
        let guess =
            crate::config::names::suggest(&dep.plugin, available.iter().map(String::as_str))
                .map_or(String::new(), |g| format!("did you mean `{g}`? "));
        p = p.hint(format!("{guess}plugins {folder}: {}", available.join(", ")));
        // `--plugins-dir plugins/terraform`: one plugin's own folder, not the folder of plugins.
        if let Some(dir) = &ctx.plugins_dir
            && [plugin::MANIFEST, plugin::SCHEMA]
                .iter()
                .any(|f| dir.join(f).is_file())
        {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            p = p.hint(format!(
                "--plugins-dir {} is one plugin's own folder (it holds its {}): pass the folder that holds the plugins{}",
                dir.display(),
                if dir.join(plugin::SCHEMA).is_file() { plugin::SCHEMA } else { plugin::MANIFEST },
                parent.map_or(String::new(), |p| format!(", `--plugins-dir {}`", p.display()))
            ));
        }
        problems.push(p);
        return step;
    };
    let plugin = &facts.located;
    step.plugin_dir = Some(plugin.dir.clone());
    step.plugin_builtin = plugin.builtin;
    if !view.is_dir(&tool_rel) {
        step.skip = Some(format!("tool folder {} not found", step.tool_dir.display()));
        return step;
    }
    let manifest = facts.manifest(problems);
    step.tools = manifest.tools.clone();
    let script = plugin.path(&manifest.deployment.deployment_script);
    if !facts.has_script(&manifest.deployment.deployment_script) {
        problems.push(
            Problem::error(format!(
                "the plugin's deploy script `{}` is missing",
                manifest.deployment.deployment_script
            ))
            .file(&script)
            .hint("reinstall the plugin, or fix `plugin.deployment.deployment_script` in its plugin.config.yaml"),
        );
    }
    let resolution = if manifest.deployment.core_schema_parsing {
        let known = target.io.map(|io| &io.inputs);
        let mut reads = Reads {
            known,
            refs: &mut step.references,
        };
        resolve_config(
            ctx, dep, view, &tool_rel, &facts, manifest, &mut reads, problems,
        )
    } else {
        schema::Resolution::default()
    };
    let hooks_of = |enabled: bool, folder: &str, problems: &mut Vec<Problem>| {
        if !enabled {
            return Vec::new();
        }
        let mut hooks = hooks::list(view, &tool_rel, folder).unwrap_or_else(|p| {
            problems.push(p);
            Vec::new()
        });
        if ctx.dry_run && !ctx.dry_run_hooks {
            for hook in hooks.iter_mut().filter(|h| h.argv.is_some()) {
                hook.argv = None;
                hook.skip_reason = Some("dry run (--dry-run-hooks runs hooks)".into());
            }
        }
        hooks
    };
    step.before_hooks = hooks_of(
        manifest.deployment.before_hook_scripts,
        hooks::BEFORE,
        problems,
    );
    step.after_hooks = hooks_of(
        manifest.deployment.after_hook_scripts,
        hooks::AFTER,
        problems,
    );
    step.deploy = deploy_argv(manifest, &script, resolution.stack_action.as_deref());
    step.cli = resolution.cli_words.join(" ");
    step.env = env::step_env(ctx, dep, target, &plugin.dir, &resolution);
    step.own_vars = env::own_vars(&dep.plugin, &resolution).count();
    step.values = resolution.values;
    step
}

/// The `${{ outputs.… }}` references of a tool config: found, and replaced during a run.
struct Reads<'a> {
    known: Option<&'a outputs::Outputs>,
    refs: &'a mut Vec<outputs::Reference>,
}

impl Reads<'_> {
    fn apply(&mut self, mut doc: Doc, problems: &mut Vec<Problem>) -> Doc {
        outputs::substitute(&mut doc.root, self.known, &doc.path, self.refs, problems);
        doc
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_config(
    ctx: &Context,
    dep: &Deployment,
    view: &EnvView,
    tool_rel: &Path,
    facts: &plugins::Facts,
    manifest: &Manifest,
    reads: &mut Reads,
    problems: &mut Vec<Problem>,
) -> schema::Resolution {
    let subfolders = manifest.deployment.subfolder_configs;
    let schema_path = facts.located.path(plugin::SCHEMA);
    let config_files = view.file_layers(&tool_rel.join(TOOL_CONFIG));
    let mut missing = false;
    if !facts.has_schema() {
        missing = true;
        problems.push(
            Problem::error(format!("plugin `{}` has no {}", dep.plugin, plugin::SCHEMA))
                .file(&schema_path)
                .kind(Kind::MissingConfig)
                .hint("reinstall the plugin, or set `core_schema_parsing: false` in its plugin.config.yaml"),
        );
    }
    let config_path = view.env_dir.join(tool_rel).join(TOOL_CONFIG);
    if matches!(view.kind(&config_path), PathKind::Dir | PathKind::Other) {
        problems.push(
            Problem::error(format!("{TOOL_CONFIG} is not a regular file"))
                .file(&config_path)
                .hint(
                    "it must be a YAML file; a folder, a pipe or a device cannot be read as config",
                ),
        );
        return schema::Resolution::default();
    }
    if config_files.is_empty() && !subfolders {
        missing = true;
        problems.push(
            Problem::error(format!("the tool folder has no {TOOL_CONFIG}"))
                .file(&view.env_dir.join(tool_rel).join(TOOL_CONFIG))
                .kind(Kind::MissingConfig)
                .hint(format!(
                    "create it with a `{}:` root key (it may be `{}: {{}}`)",
                    dep.plugin, dep.plugin
                )),
        );
    }
    if missing {
        return schema::Resolution::default();
    }
    let schema_doc = facts
        .schema()
        .and_then(|loaded| keep(&schema_path, loaded, problems));
    let layers: Vec<Doc> = config_files
        .iter()
        .filter_map(|p| keep(p, crate::config::yaml::load_file(p), problems))
        .collect();
    let layers: Vec<Doc> = layers
        .into_iter()
        .map(|d| reads.apply(d, problems))
        .collect();
    let Some(schema) = schema_doc.and_then(|d| schema::parse_schema(&d, &dep.plugin, problems))
    else {
        return schema::Resolution::default();
    };
    if layers.len() != config_files.len() {
        return schema::Resolution::default();
    }
    let roots = vec![dep.plugin.clone(), dep.alias.clone()];
    if !subfolders {
        let config = ToolConfig {
            layers: &layers,
            roots,
            secret_env: &ctx.settings.secret_env,
        };
        return schema::resolve(&schema, &config, &ctx.env, problems);
    }
    // Each sub-folder's config over the tool folder's, checked as the plugin will resolve it.
    let skip = [
        ctx.settings.default_folder.as_str(),
        crate::repo::hooks::BEFORE,
        crate::repo::hooks::AFTER,
    ];
    let marker = manifest.deployment.subfolder_marker.as_str();
    let mut any_sub = false;
    // Marked sub-folders (charts) without a config of their own, and with one.
    let mut bare: Vec<String> = Vec::new();
    let mut marked = 0;
    for entry in view.entries(tool_rel).unwrap_or_default() {
        let name = entry.name.to_string_lossy();
        if entry.source != crate::repo::view::Source::Dir
            || name.starts_with('.')
            || skip.contains(&name.as_ref())
        {
            continue;
        }
        let is_marked = !marker.is_empty()
            && !view
                .file_layers(&tool_rel.join(name.as_ref()).join(marker))
                .is_empty();
        marked += usize::from(is_marked);
        let sub_files = view.file_layers(&tool_rel.join(name.as_ref()).join(TOOL_CONFIG));
        if sub_files.is_empty() {
            if is_marked {
                bare.push(name.into_owned());
            }
            continue;
        }
        any_sub = true;
        let sub_layers: Vec<Doc> = sub_files
            .iter()
            .filter_map(|p| keep(p, crate::config::yaml::load_file(p), problems))
            .collect();
        let mut sub_layers: Vec<Doc> = sub_layers
            .into_iter()
            .map(|d| reads.apply(d, problems))
            .collect();
        if sub_layers.len() != sub_files.len() {
            continue;
        }
        sub_layers.extend(layers.iter().cloned());
        let config = ToolConfig {
            layers: &sub_layers,
            roots: roots.clone(),
            secret_env: &ctx.settings.secret_env,
        };
        schema::resolve(&schema, &config, &ctx.env, problems);
    }
    // No sub-folder has a config of its own, or a marked one has none: the tool folder's
    // is what the plugin reads (for that one), checked like any tool config (types,
    // required values), before the sub-folders before it are deployed.
    let tool_dir = view.env_dir.join(tool_rel);
    if !bare.is_empty() {
        let config = ToolConfig {
            layers: &layers,
            roots,
            secret_env: &ctx.settings.secret_env,
        };
        let mut found = Vec::new();
        schema::resolve(&schema, &config, &ctx.env, &mut found);
        let which = bare.join(", ");
        for mut p in found {
            if p.is_error() {
                p.message = format!(
                    "{} (for {which} in {}, which has no {TOOL_CONFIG} of its own)",
                    p.message,
                    Path::new(&view.env_name).join(tool_rel).display()
                );
            }
            if p.file.is_none() {
                p.file = Some(tool_dir.join(&bare[0]).join(TOOL_CONFIG));
            }
            problems.push(p);
        }
    } else if !any_sub && !layers.is_empty() {
        let config = ToolConfig {
            layers: &layers,
            roots,
            secret_env: &ctx.settings.secret_env,
        };
        schema::resolve(&schema, &config, &ctx.env, problems);
    }
    // Nothing the plugin would deploy, and no hook that could bring it: said, not silent.
    if !marker.is_empty() && marked == 0 && !view.is_dir(&tool_rel.join(crate::repo::hooks::BEFORE))
    {
        problems.push(
            Problem::warning(format!(
                "no folder of {} holds a {marker}: the {} plugin would deploy nothing",
                Path::new(&view.env_name).join(tool_rel).display(),
                dep.plugin
            ))
            .file(&tool_dir)
            .hint(format!(
                "add a folder with a {marker} (one per chart), or remove the deployment"
            )),
        );
    }
    schema::Resolution::default()
}

/// A parsed file, or its problem recorded.
fn keep(
    path: &Path,
    loaded: Result<crate::config::yaml::Node, crate::config::yaml::YamlError>,
    problems: &mut Vec<Problem>,
) -> Option<Doc> {
    match loaded {
        Ok(root) => Some(Doc {
            path: path.to_path_buf(),
            root,
        }),
        Err(e) => {
            problems.push(e.at(path));
            None
        }
    }
}

fn deploy_argv(manifest: &Manifest, script: &Path, stack_action: Option<&str>) -> Vec<String> {
    let mut argv = vec![
        manifest.deployment.language.clone(),
        script.to_string_lossy().into_owned(),
    ];
    // Always an argument, empty when there is no stack-action, as BitOps passes it
    // (plugins that read `$1` under `set -u` rely on it).
    argv.push(stack_action.unwrap_or_default().to_string());
    argv
}
