//! A step's environment: the one place the variables a hook, a deploy script or an
//! install script sees are built.

use std::path::{Path, PathBuf};

use crate::config::settings::{Deployment, EnvVars};
use crate::plan::{Context, Target};
use crate::plugin::schema;

/// The variables of spec section 4, then the schema's exports.
pub fn step_env(
    ctx: &Context,
    dep: &Deployment,
    target: &Target,
    plugin_dir: &Path,
    res: &schema::Resolution,
) -> Vec<(String, String)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let workspace = target.root;
    let env_root = workspace.join(&ctx.environment);
    let tool_dir = env_root.join(&dep.alias);
    let mut vars = vec![
        ("BITOPS_ENVIRONMENT".to_string(), ctx.environment.clone()),
        ("BITOPS_TEMPDIR".into(), s(workspace)),
        ("BITOPS_ENVROOT".into(), s(&env_root)),
        ("BITOPS_OPSREPO_ENVIRONMENT_DIR".into(), s(&tool_dir)),
        (
            "BITOPS_OPSREPO_ENV_FILE".into(),
            s(&tool_dir.join("ENV_FILE")),
        ),
        ("BITOPS_DEPLOYMENT_ALIAS".into(), dep.alias.clone()),
        (
            "BITOPS_STEP_STATE_DIR".into(),
            s(&step_state_dir(ctx, &dep.alias)),
        ),
    ];
    vars.extend(plugin_vars(
        &dep.plugin,
        plugin_dir,
        ctx.plugins_dir.as_deref(),
        &ctx.env,
    ));
    // A real folder, or not set at all: only a run that uses a built-in plugin writes them.
    if let Some(builtins) = target.builtins {
        vars.push(("BITOPS_BUILTIN_PLUGINS_DIR".into(), s(builtins)));
    }
    vars.extend([
        ("BITOPS_DIR".into(), s(&ctx.bitops_dir)),
        (
            "BITOPS_SCRIPTS_DIR".into(),
            s(&ctx.bitops_dir.join("scripts")),
        ),
        // As written, as BitOps exports it.
        (
            "BITOPS_FAIL_FAST".into(),
            ctx.settings.fail_fast_text.clone(),
        ),
        (
            "BITOPS_KUBE_CONFIG_FILE".into(),
            s(&workspace.join(".kube/config")),
        ),
        (
            "BITOPS_DEFAULT_ROOT_DIR".into(),
            ctx.settings.default_folder.clone(),
        ),
    ]);
    // Read once per process, not once per step (a `readlink` of /proc/self/exe).
    static EXE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    if let Some(exe) = EXE.get_or_init(|| std::env::current_exe().ok()) {
        vars.push(("BITOPS_BIN".into(), s(exe)));
    }
    // Outputs: where this step publishes, what the steps it depends on published.
    if let Some(io) = target.io {
        vars.push(("BITOPS_OUTPUTS".into(), s(&io.outputs_file)));
        vars.push(("BITOPS_INPUTS".into(), s(&io.inputs_file)));
        for (alias, published) in &io.inputs {
            for (key, output) in published {
                let name = crate::plan::outputs::env_name(alias, key);
                match io.in_files.get(&name) {
                    Some(file) => vars.push((format!("{name}_FILE"), s(file))),
                    None => vars.push((name, output.value.clone())),
                }
            }
        }
    }
    if ctx.dry_run {
        vars.push(("BITOPS_DRY_RUN".into(), "true".into()));
        if ctx.dry_run_hooks {
            vars.push(("BITOPS_DRY_RUN_HOOKS".into(), "true".into()));
        }
    }
    // The step's own variables last (`plan` lists them: `Step::own_vars`).
    vars.extend(own_vars(&dep.plugin, res));
    vars
}

/// The step's own folder in the state folder, which outlives the runs (the built-in
/// terraform plugin keeps a local state there with `options.local-state: keep`):
/// `<state>/steps/<ops repo>/<env>/<alias>`, the ops repo named by a hash of its real
/// path, so two repos with a `dev/terraform` never share one. Not created: a plugin that
/// uses it creates it (mode 0700).
pub fn step_state_dir(ctx: &Context, alias: &str) -> PathBuf {
    use sha2::Digest;
    let repo = std::fs::canonicalize(&ctx.ops_repo).unwrap_or_else(|_| ctx.ops_repo.clone());
    let digest = sha2::Sha256::digest(repo.as_os_str().as_encoded_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    ctx.state_dir
        .join("steps")
        .join(name)
        .join(&ctx.environment)
        .join(alias)
}

/// The variables a step's config resolves to: `BITOPS_<PLUGIN>_CLI` (and its quoted
/// form) unless the CLI is empty — BitOps leaves it unset then —, and the exports.
pub fn own_vars<'a>(
    plugin: &str,
    res: &'a schema::Resolution,
) -> impl Iterator<Item = (String, String)> + 'a {
    let cli = if res.cli_words.is_empty() {
        Vec::new()
    } else {
        res.cli_vars(plugin)
    };
    cli.into_iter().chain(res.exports.iter().cloned())
}

/// What a plugin's scripts learn of where they are: its name, its folder and the
/// plugins folder. A step gets these among its variables; an install script gets
/// only these.
pub fn plugin_vars(
    name: &str,
    plugin_dir: &Path,
    plugins_dir: Option<&Path>,
    caller: &EnvVars,
) -> Vec<(String, String)> {
    let plugins_dir = plugins_dir
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    vec![
        ("BITOPS_PLUGIN_NAME".to_string(), name.to_string()),
        (
            "BITOPS_INSTALLED_PLUGIN_DIR".into(),
            plugin_dir.to_string_lossy().into_owned(),
        ),
        (
            "BITOPS_PLUGINS_DIR".into(),
            // With a trailing `/` as BitOps; empty when there is no plugins folder.
            if plugins_dir.is_empty() {
                String::new()
            } else {
                format!("{}/", plugins_dir.trim_end_matches('/'))
            },
        ),
        (
            "BITOPS_PLUGIN_DIR".into(),
            bitops_plugin_dir(caller.get("BITOPS_PLUGIN_DIR")),
        ),
    ]
}

/// BitOps' `BITOPS_PLUGIN_DIR`: its `plugins.plugin_dir` setting, which bitops does not
/// have; the caller's value when set, else BitOps' default.
fn bitops_plugin_dir(ctx_env: Option<&str>) -> String {
    ctx_env
        .unwrap_or("/opt/bitops/scripts/plugins/")
        .to_string()
}
