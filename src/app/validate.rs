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
        Format::Text => {
            let text = crate::plan::validate::text(&report);
            // On a terminal (or with --color always): errors red, warnings yellow.
            let color = crate::app::use_color(args.color, &env, false)
                && std::io::IsTerminal::is_terminal(&std::io::stdout())
                || args.color == crate::app::cli::ColorChoice::Always;
            let text = if color {
                use crate::report::render::paint;
                text.lines()
                    .map(|l| {
                        if let Some(rest) = l.strip_prefix("error:") {
                            format!("{}{rest}\n", paint("31", "error:"))
                        } else if let Some(rest) = l.strip_prefix("warning:") {
                            format!("{}{rest}\n", paint("33", "warning:"))
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect()
            } else {
                text
            };
            emit(&text)
        }
    }
    if args.ci.resolve(&env) == Ci::Github {
        let workspace = env.get("GITHUB_WORKSPACE").map(std::path::Path::new);
        for finding in &report.problems {
            crate::app::emit_command(&(github_problem(&finding.problem, workspace) + "\n"));
        }
    }
    if report.errors > 0 {
        Err(Error::Reported)
    } else {
        Ok(())
    }
}
