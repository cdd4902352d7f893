//! From a command's inputs to the plan of one environment, with every problem found
//! on the way. `deploy`, `plan` and `validate` all start here.

use std::path::{Path, PathBuf};

use crate::config::settings::{self, EnvVars};
use crate::config::yaml::Doc;
use crate::error::Problem;
use crate::plan::{self, Context, Plan};
use crate::repo::{TOOL_CONFIG, inputs};

/// What a command asks of the plan beyond its inputs.
#[derive(Debug, Default)]
pub struct PlanOptions<'a> {
    pub only: &'a [String],
    pub skip: &'a [String],
    pub dry_run: bool,
    pub dry_run_hooks: bool,
    pub grace: std::time::Duration,
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
    settings::select(&mut settings, options.only, options.skip, &mut problems);
    let ctx = Context {
        environment: environment.to_string(),
        ops_repo: repo.to_path_buf(),
        plugins_dir,
        env,
        bitops_dir: inputs::bitops_dir(),
        dry_run: options.dry_run,
        dry_run_hooks: options.dry_run_hooks,
        grace: options.grace,
        settings,
    };
    let view = inputs::env_view(repo, environment, &ctx.settings.default_folder);
    let mut plan = plan::build(&ctx, &view);
    problems.append(&mut plan.problems);
    problems.extend(crate::repo::links::check_links(repo, &view));
    listed_but_missing(repo, &ctx, &plan, &mut problems);
    problems.extend(crate::plan::lint::unlisted_tool_folders(
        &ctx,
        &view,
        &all_aliases,
    ));
    problems.extend(crate::plan::lint::near_miss_hook_folders(&ctx, &view));
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

/// Whether the deployments come from the environment's own config (or its default
/// folder's), not from the image-level sequence: then a missing tool folder is a mistake.
pub fn listed_by_environment(repo: &Path, ctx: &Context) -> bool {
    let settings = &ctx.settings;
    settings.deployments_file.as_ref().is_some_and(|f| {
        f.starts_with(repo.join(&ctx.environment))
            || f.starts_with(repo.join(&settings.default_folder))
    })
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
