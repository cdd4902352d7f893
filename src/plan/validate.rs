//! `bitops validate`: build the plan of one or every environment and report every
//! problem at once. Runs nothing, writes nothing.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::settings::EnvVars;
use crate::config::yaml::Doc;
use crate::error::{Error, Problem, Severity};

#[derive(Debug, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub problem: Problem,
    pub environments: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub environments: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    pub problems: Vec<Finding>,
    /// What the problems must be masked with before they are shown.
    #[serde(skip)]
    pub secrets: Secrets,
}

/// The masks of every environment checked: `logging.masks`, `logging.secret_env` and
/// the values of secret-named exports.
#[derive(Debug, Default)]
pub struct Secrets {
    pub rules: Vec<crate::config::settings::MaskRule>,
    pub names: Vec<String>,
    pub values: Vec<String>,
}

pub struct Request<'a> {
    pub repo: &'a Path,
    pub environments: Vec<String>,
    pub config: Option<&'a Path>,
    pub plugins_dir: Option<PathBuf>,
    pub strict: bool,
}

/// Problems of one environment, as `validate` sees them.
fn check_env(
    req: &Request,
    image: &Doc,
    name: &str,
    env: &EnvVars,
    secrets: &mut Secrets,
) -> Vec<Problem> {
    let (ctx, mut built) = crate::plan::load::plan_env(
        req.repo,
        name,
        image,
        env.clone(),
        req.plugins_dir.clone(),
        &crate::plan::load::PlanOptions::default(),
    );
    let mut problems = std::mem::take(&mut built.problems);
    let missing = crate::plan::preflight::missing(&built, crate::plan::preflight::path_of(env));
    problems.extend(crate::plan::preflight::warnings(&missing));
    let settings = &ctx.settings;
    secrets.rules.extend(settings.masks.iter().cloned());
    secrets.names.extend(settings.secret_env.iter().cloned());
    for step in &built.steps {
        secrets.values.extend(
            step.env
                .iter()
                .filter(|(k, _)| crate::config::settings::is_secret_name(k, &settings.secret_env))
                .map(|(_, v)| v.clone()),
        );
    }
    let from_env_file = crate::plan::load::listed_by_environment(req.repo, &ctx);
    let view = crate::repo::inputs::env_view(req.repo, name, &settings.default_folder);
    for step in &built.steps {
        // Listed by the environment itself, a missing folder is an error of the plan
        // (see plan::load); from the image's default sequence it is a warning here.
        if let Some(reason) = &step.skip
            && !from_env_file
        {
            let mut p = Problem::warning(format!(
                "deployment `{}`: {reason}; it will be skipped",
                step.alias
            ))
            .lenient()
            .key(format!("bitops.deployments.{}", step.alias))
            .hint(format!(
                "create the folder {}, or remove the deployment",
                step.tool_dir.display()
            ));
            p.file = ctx.settings.deployments_file.clone();
            p.line = ctx
                .settings
                .deployments
                .iter()
                .find(|d| d.alias == step.alias)
                .map(|d| d.line)
                .filter(|l| *l > 0);
            problems.push(p);
        }
        for hook in step.before_hooks.iter().chain(&step.after_hooks) {
            if let Some(reason) = &hook.skip_reason
                && !hook.name.starts_with('.')
            {
                problems.push(
                    Problem::warning(format!("this hook will be skipped: {reason}"))
                        .file(&hook.path)
                        .hint("name it *.sh, make it executable (chmod +x), or move it out of the hook folder")
                        .strict(),
                );
            }
        }
    }
    for hidden in view.hidden_defaults() {
        problems.push(
            Problem::warning(format!("hides {}", hidden.default.display()))
                .file(&hidden.env)
                .hint(format!(
                    "{}; the default folder's file is not used",
                    hidden.why
                )),
        );
    }
    problems
}

pub fn validate(req: &Request, env: &EnvVars) -> Result<Report, Error> {
    let image = crate::repo::inputs::image_config(req.config)?;
    let mut findings: Vec<Finding> = Vec::new();
    let mut secrets = Secrets::default();
    for name in &req.environments {
        let mut problems = check_env(req, &image, name, env, &mut secrets);
        for p in &mut problems {
            if p.strict || (req.strict && !p.lenient) {
                p.severity = Severity::Error;
            }
        }
        for p in problems {
            match findings.iter_mut().find(|f| f.problem == p) {
                Some(f) => f.environments.push(name.clone()),
                None => findings.push(Finding {
                    problem: p,
                    environments: vec![name.clone()],
                }),
            }
        }
    }
    let errors = findings.iter().filter(|f| f.problem.is_error()).count();
    Ok(Report {
        environments: req.environments.clone(),
        errors,
        warnings: findings.len() - errors,
        problems: findings,
        secrets,
    })
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let several = report.environments.len() > 1;
    for f in &report.problems {
        out.push_str(&f.problem.to_string());
        if several {
            out.push_str(&format!("\n  in: {}", f.environments.join(", ")));
        }
        out.push('\n');
    }
    let envs = format!(
        "{} environment{} ({})",
        report.environments.len(),
        if report.environments.len() == 1 {
            ""
        } else {
            "s"
        },
        report.environments.join(", ")
    );
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if report.problems.is_empty() {
        out.push_str(&format!("no problems found in {envs}\n"));
    } else {
        out.push_str(&format!(
            "{} and {} found in {envs}\n",
            plural(report.errors, "error"),
            plural(report.warnings, "warning")
        ));
    }
    out
}
