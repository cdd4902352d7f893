//! From a command's inputs to the plan of one environment, with every problem found
//! on the way. `deploy`, `plan` and `validate` all start here.

use std::path::{Path, PathBuf};

use crate::config::settings::{self, EnvVars};
use crate::config::yaml::Doc;
use crate::error::Problem;
use crate::plan::graph::Graph;
use crate::plan::select::{self, Choice};
use crate::plan::{self, Context, Plan};
use crate::repo::{TOOL_CONFIG, inputs};

/// What a command asks of the plan beyond its inputs.
#[derive(Debug, Default)]
pub struct PlanOptions<'a> {
    pub only: &'a [String],
    pub skip: &'a [String],
    pub with_deps: bool,
    /// `--changed-since`: the files changed since the commit.
    pub changed: Option<&'a crate::repo::changes::Changes>,
    pub dry_run: bool,
    pub dry_run_hooks: bool,
    pub grace: std::time::Duration,
    /// bitops' state folder (`--state-dir`): the deploy locks, and each step's own folder.
    pub state_dir: PathBuf,
}

/// The plan of one environment, with every problem found on the way in
/// `plan.problems` (each once): the settings, the deployment selection, every step, and
/// the links a run would copy. `deploy`, `plan` and `validate` all start here.
pub fn plan_env(
    repo: &Path,
    environment: &str,
    image: &Doc,
    env: EnvVars,
    plugins_dir: Option<PathBuf>,
    options: &PlanOptions,
) -> (Context, Plan) {
    let mut problems = Vec::new();
    let mut settings = inputs::env_settings(repo, environment, image, &env, &mut problems);
    let env_file = repo.join(environment).join(TOOL_CONFIG);
    settings::require_deployments(&settings, &env_file, &mut problems);
    // Every deployment of the environment, before --only/--skip choose among them.
    let all_aliases: Vec<String> = settings
        .deployments
        .iter()
        .map(|d| d.alias.clone())
        .collect();
    let file = settings.deployments_file.clone();
    let all = Graph::of(&settings.deployments, file.as_deref(), &mut problems);
    let changed = options.changed.map(|c| {
        let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let candidates: Vec<crate::plan::changed::Candidate> = settings
            .deployments
            .iter()
            .map(|d| crate::plan::changed::Candidate {
                alias: &d.alias,
                plugin: &d.plugin,
                plugin_dir: crate::plugin::locate(plugins_dir.as_deref(), None, &d.plugin)
                    .filter(|p| !p.builtin)
                    .map(|p| real(&p.dir)),
                linked: linked(&[
                    repo.join(environment).join(&d.alias),
                    repo.join(&settings.default_folder).join(&d.alias),
                ]),
            })
            .collect();
        crate::plan::changed::changed(
            &c.files,
            &real(repo),
            environment,
            &settings.default_folder,
            &candidates,
        )
    });
    let choice = Choice {
        only: options.only,
        skip: options.skip,
        with_deps: options.with_deps,
        changed: changed.as_deref(),
    };
    let mut selected = select::select(
        &all,
        &settings.deployments,
        file.as_deref(),
        &choice,
        &mut problems,
    );
    let everything = std::mem::take(&mut settings.deployments);
    let mut ctx = Context {
        environment: environment.to_string(),
        ops_repo: repo.to_path_buf(),
        plugins_dir,
        env,
        bitops_dir: inputs::bitops_dir(),
        dry_run: options.dry_run,
        dry_run_hooks: options.dry_run_hooks,
        grace: options.grace,
        state_dir: options.state_dir.clone(),
        settings,
    };
    // The hooks, the link check and the lints list the same tool folders.
    let view =
        inputs::env_view(repo, environment, &ctx.settings.default_folder).remembering_listings();
    // The link check walks the environment on the other core meanwhile; the listings
    // it reads are the ones the steps' hooks need (building a plan mostly waits on
    // system calls: P8a). Its findings join in the same place as before.
    let (mut plan, links) = std::thread::scope(|scope| {
        let check = || crate::repo::links::check_links(repo, &view);
        let walker = std::thread::Builder::new().spawn_scoped(scope, check);
        let plan = loop {
            ctx.settings.deployments = selected
                .keep
                .iter()
                .map(|&i| everything[i].clone())
                .collect();
            let reasons: Vec<String> = selected
                .keep
                .iter()
                .map(|i| selected.reasons.get(i).cloned().unwrap_or_default())
                .collect();
            let plan = plan::build(&ctx, &view, all.restricted(&selected.keep), &reasons);
            // A changed step that reads the outputs of an unchanged one runs it too.
            let extra = match options.changed {
                Some(_) => providers(&all, &selected.keep, &plan, options.skip),
                None => Vec::new(),
            };
            if extra.is_empty() {
                break plan;
            }
            for (i, why) in extra {
                selected.reasons.entry(i).or_insert(why);
            }
            selected.keep = selected.reasons.keys().copied().collect();
        };
        let links = match walker {
            Ok(walker) => walker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: walked here.
            Err(_) => check(),
        };
        (plan, links)
    });
    problems.append(&mut plan.problems);
    check_references(&all, &selected.keep, &plan, &mut problems);
    problems.extend(links);
    listed_but_missing(repo, &ctx, &plan, &mut problems);
    nothing_would_run(repo, &ctx, &plan, &mut problems);
    problems.extend(crate::plan::lint::unlisted_tool_folders(
        &ctx,
        &view,
        &all_aliases,
    ));
    problems.extend(crate::plan::lint::near_miss_hook_folders(&ctx, &view));
    problems.extend(crate::plan::tool_files::check(&view, &plan));
    problems.extend(crate::plan::terraform_state::check(&ctx, &view, &plan));
    problems.extend(crate::plan::unpublished::check(&view, &plan));
    // Sub-folder configs share the tool folder's: report a shared finding once.
    let mut seen = Vec::new();
    problems.retain(|p| {
        let new = !seen.contains(p);
        if new {
            seen.push(p.clone());
        }
        new
    });
    plan.problems = problems;
    (ctx, plan)
}

/// Where the links of these tool folders lead, resolved: a folder that is itself a link,
/// and each link directly in it (for `--changed-since`).
fn linked(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_symlink());
        if is_link(dir)
            && let Ok(real) = std::fs::canonicalize(dir)
        {
            out.push(real);
        }
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if is_link(&entry.path())
                && let Ok(real) = std::fs::canonicalize(entry.path())
            {
                out.push(real);
            }
        }
    }
    out
}

/// Whether the deployments come from the environment's own config (or its default
/// folder's), not from the image-level sequence: then a missing tool folder is a mistake.
pub fn listed_by_environment(repo: &Path, ctx: &Context) -> bool {
    let settings = &ctx.settings;
    settings.deployments_file.as_ref().is_some_and(|f| {
        f.starts_with(repo.join(&ctx.environment))
            || f.starts_with(repo.join(&settings.default_folder))
    })
}

/// Deployments from the image-level sequence (or the built-in one) none of whose tool
/// folders exist: the run would deploy nothing and say "ok". Most often the repo's own
/// sequence lives in an image-level file that was not passed (`-c`).
fn nothing_would_run(repo: &Path, ctx: &Context, plan: &Plan, problems: &mut Vec<Problem>) {
    // Not when something is wrong already: that is the cause to fix first.
    if plan.steps.is_empty()
        || plan.steps.iter().any(|s| s.skip.is_none())
        || listed_by_environment(repo, ctx)
        || problems.iter().any(Problem::is_error)
    {
        return;
    }
    let settings = &ctx.settings;
    let aliases: Vec<&str> = plan.steps.iter().map(|s| s.alias.as_str()).collect();
    let source = match &settings.deployments_file {
        Some(f) if f.as_os_str() != crate::repo::inputs::BUILTIN_CONFIG_NAME => {
            format!("the image-level config {}", f.display())
        }
        _ => "the built-in config (BitOps' standard order)".to_string(),
    };
    let folders: Vec<String> = std::fs::read_dir(repo.join(&ctx.environment))
        .map(|entries| {
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            names
        })
        .unwrap_or_default();
    let has = if folders.is_empty() {
        String::new()
    } else {
        format!(" (its folders: {})", folders.join(", "))
    };
    let mut p = Problem::error(format!(
        "every deployment would be skipped: {source} lists {}, and `{}` has none of these tool folders{has}",
        aliases.join(", "),
        ctx.environment
    ))
    .key("bitops.deployments")
    .hint(format!(
        "pass the image-level config that lists this repo's deployments with `-c FILE` (or BITOPS_BUILD_CONFIG_YAML), or list them under `bitops.deployments` in {}/{}",
        ctx.environment,
        crate::repo::TOOL_CONFIG
    ));
    p.file = settings.deployments_file.clone();
    problems.push(p);
}

/// A deployment that the environment's own config lists (not the image's default
/// sequence) but whose tool folder is missing: a mistake, stopped before step 1.
fn listed_but_missing(repo: &Path, ctx: &Context, plan: &Plan, problems: &mut Vec<Problem>) {
    let settings = &ctx.settings;
    if !listed_by_environment(repo, ctx) {
        return;
    }
    for step in plan.steps.iter().filter(|s| s.skip.is_some()) {
        let mut p = Problem::error(format!(
            "deployment `{}` is listed here but its tool folder {} does not exist",
            step.alias,
            step.tool_dir.display()
        ))
        .key(format!("bitops.deployments.{}", step.alias))
        .hint(format!(
            "create the folder {}, or remove the deployment",
            step.tool_dir.display()
        ));
        p.file = settings.deployments_file.clone();
        p.line = settings
            .deployments
            .iter()
            .find(|d| d.alias == step.alias)
            .map(|d| d.line)
            .filter(|l| *l > 0);
        problems.push(p);
    }
}

/// The steps left out whose outputs a chosen step reads (and may read: it depends on
/// them), with why they are needed; not those left out by --skip.
fn providers(all: &Graph, keep: &[usize], plan: &Plan, skip: &[String]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (step, &me) in plan.steps.iter().zip(keep) {
        if step.references.is_empty() {
            continue;
        }
        let ancestors = all.ancestors(me);
        for r in &step.references {
            if let Some(them) = all.index_of(&r.alias)
                && !keep.contains(&them)
                && ancestors.contains(&them)
                && !skip.iter().any(|s| s.trim() == r.alias)
                && !out.iter().any(|(i, _)| *i == them)
            {
                out.push((them, format!("`{}` reads its outputs", step.alias)));
            }
        }
    }
    out
}

/// Every `${{ outputs.<alias>.<key> }}` names a step this one depends on (its outputs
/// exist only then) that is part of this run.
fn check_references(all: &Graph, keep: &[usize], plan: &Plan, problems: &mut Vec<Problem>) {
    for (step, &me) in plan.steps.iter().zip(keep) {
        if step.references.is_empty() {
            continue;
        }
        let ancestors = all.ancestors(me);
        for r in &step.references {
            let Some(them) = all.index_of(&r.alias) else {
                problems.push(
                    r.problem(format!(
                        "{} names `{}`, which is not a deployment of this environment",
                        r.text(),
                        r.alias
                    ))
                    .hint(crate::config::names::choices_hint(
                        &r.alias,
                        &all.aliases,
                        "deployments",
                    )),
                );
                continue;
            };
            if !ancestors.contains(&them) {
                problems.push(
                    r.problem(format!(
                        "{} reads an output of `{}`, but `{}` does not depend on it: its outputs may not exist yet when `{}` runs",
                        r.text(), r.alias, step.alias, step.alias
                    ))
                    .hint(format!("add `{}` to `bitops.deployments.{}.depends_on`", r.alias, step.alias)),
                );
            } else if !keep.contains(&them) {
                problems.push(
                    r.problem(format!(
                        "{} reads an output of `{}`, which does not run in this selection: the output will not exist",
                        r.text(), r.alias
                    ))
                    .hint(format!("run `{}` too: add it to --only, or use --with-deps (with --only)", r.alias)),
                );
            }
        }
    }
}
