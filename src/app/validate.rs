//! `bitops validate`: every problem of one or every environment; runs and writes nothing.

use crate::app::cli::{Format, ValidateArgs};
use crate::app::emit;
use crate::config::settings::EnvVars;
use crate::error::{Error, Result};
use crate::repo::inputs;
use crate::report::ci::{Ci, github_problem};
use crate::report::mask::{Mask, Masker, json_pretty};

pub fn validate(args: &ValidateArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let repo = inputs::ops_repo(args.inputs.ops_repo.as_deref())?;
    let environments = if args.all {
        inputs::environments(&repo)
    } else {
        let mut problems = Vec::new();
        let name = inputs::environment(args.environment.as_deref(), &env, &repo, &mut problems)?;
        vec![name]
    };
    let request = crate::plan::validate::Request {
        repo: &repo,
        environments,
        config: args.inputs.config.as_deref(),
        plugins_dir: inputs::plugins_dir(args.inputs.plugins_dir.as_deref()),
        strict: args.strict,
    };
    let mut report = crate::plan::validate::validate(&request, &env)?;
    // Problems quote values: masked on the values, before any escaping.
    let secrets = &report.secrets;
    let masker = Masker::with_values(&secrets.rules, &env, &secrets.names, &secrets.values);
    for finding in &mut report.problems {
        finding.problem.mask_with(&masker);
    }
    match args.format {
        Format::Json => emit(&json_pretty(&report, &masker)),
        Format::Text => emit(&crate::plan::validate::text(&report)),
    }
    if args.ci.resolve(&env) == Ci::Github {
        for finding in report.problems.iter().filter(|f| f.problem.is_error()) {
            emit(&(github_problem(&finding.problem) + "\n"));
        }
    }
    if report.errors > 0 {
        Err(Error::Reported)
    } else {
        Ok(())
    }
}
