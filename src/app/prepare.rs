//! Everything `deploy` and `plan` do before running: the inputs, the config layers,
//! the checked plan. Reads only: no log file, no folder, no lock.

use crate::app::cli::{Common, DryRun};
use crate::config::settings::{EnvVars, LogLevel};
use crate::error::{Error, Problem, Result};
use crate::plan::{Context, Plan};
use crate::repo::inputs;
use crate::report::mask::{Mask, Masker};

/// A checked plan with the masks of its run.
pub struct Prepared {
    pub ctx: Context,
    pub plan: Plan,
    pub masker: Masker,
    /// Warnings, to be shown.
    pub warnings: Vec<Problem>,
}

/// What a failed preparation leaves: the error, and the masks when they were known.
pub struct Failed {
    pub error: Error,
    pub masker: Box<Masker>,
}

pub fn prepare(
    args: &Common,
    dry: &DryRun,
    grace: std::time::Duration,
    state_dir: Option<&std::path::Path>,
) -> Result<Prepared, Failed> {
    let env = EnvVars::from_process();
    let state_dir = crate::run::lock::state_dir(
        state_dir.or(env.get("BITOPS_STATE_DIR").map(std::path::Path::new)),
        &env,
    );
    let early = |error: Error| Failed {
        error,
        masker: Box::new(Masker::new(&[], &EnvVars::from_process(), &[])),
    };
    let mut problems = Vec::new();
    let ops_repo = inputs::ops_repo(args.inputs.ops_repo.as_deref()).map_err(early)?;
    let environment =
        inputs::environment(args.environment.as_deref(), &env, &ops_repo, &mut problems)
            .map_err(early)?;
    let image_doc = inputs::image_config(args.inputs.config.as_deref()).map_err(early)?;
    let changes = match &args.changed_since {
        Some(reference) => match crate::repo::changes::since(&ops_repo, reference) {
            Ok(c) => Some(c),
            Err(p) => {
                return Err(early(Error::Invalid(vec![p])));
            }
        },
        None => None,
    };
    let options = crate::plan::load::PlanOptions {
        only: &args.only,
        skip: &args.skip,
        with_deps: args.with_deps,
        changed: changes.as_ref(),
        dry_run: dry.dry_run,
        dry_run_hooks: dry.dry_run_hooks,
        grace,
        state_dir,
    };
    let plugins_dir = inputs::plugins_dir(args.inputs.plugins_dir.as_deref());
    let (mut ctx, mut plan) = crate::plan::load::plan_env(
        &ops_repo,
        &environment,
        &image_doc,
        env,
        plugins_dir,
        &options,
    );
    problems.append(&mut plan.problems);
    if let Some(level) = &args.log_level {
        match LogLevel::parse(level) {
            Some(l) => ctx.settings.log_level = l,
            None => problems.push(
                Problem::error(format!("unknown log level `{level}` given to --log-level"))
                    .hint("use DEBUG, INFO, WARNING, ERROR or CRITICAL"),
            ),
        }
    }
    let masker = crate::report::mask::for_plan(&ctx, &plan);
    // Error messages quote values: they are masked like everything else.
    problems.mask_with(&masker);
    let (errors, mut warnings): (Vec<Problem>, Vec<Problem>) =
        problems.into_iter().partition(Problem::is_error);
    if ctx.settings.log_level > LogLevel::Warning {
        warnings.clear();
    }
    if !errors.is_empty() {
        // The warnings first, as a run that goes ahead shows them.
        warnings.extend(errors);
        return Err(Failed {
            error: Error::Invalid(warnings),
            masker: Box::new(masker),
        });
    }
    Ok(Prepared {
        ctx,
        plan,
        masker,
        warnings,
    })
}
