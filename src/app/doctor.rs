//! `bitops doctor`: the programs the plugins need, where they are found, and their
//! versions. Reads only; runs each program found once, for its version.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::app::cli::{DoctorArgs, Format};
use crate::app::discover::table;
use crate::app::{emit, print_json};
use crate::config::settings::EnvVars;
use crate::error::{Error, Result};
use crate::plan::preflight::{self, Missing};
use crate::plugin::{self, ToolNeed};
use crate::repo::inputs;

#[derive(Debug, Serialize)]
struct Row {
    tool: String,
    needed_by: Vec<String>,
    found_at: Option<PathBuf>,
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_version: Option<String>,
    ok: bool,
    #[serde(skip)]
    get: Option<String>,
}

/// `(tool, who needs it)` for every plugin, or for the deployments of one environment.
fn needs(args: &DoctorArgs, env: &EnvVars) -> Result<Vec<(ToolNeed, String)>> {
    let plugins_dir = inputs::plugins_dir(args.inputs.plugins_dir.as_deref());
    let name = args
        .environment
        .clone()
        .or_else(|| env.get("BITOPS_ENVIRONMENT").map(String::from));
    let Some(name) = name else {
        let mut out = Vec::new();
        for p in plugin::available(plugins_dir.as_deref()) {
            if let Some(located) = plugin::locate(plugins_dir.as_deref(), None, &p) {
                let manifest = plugin::load_manifest(&located, &mut Vec::new());
                out.extend(manifest.tools.into_iter().map(|t| (t, p.clone())));
            }
        }
        return Ok(out);
    };
    let repo = inputs::ops_repo(args.inputs.ops_repo.as_deref())?;
    let environment = inputs::environment(Some(&name), env, &repo, &mut Vec::new())?;
    let image = inputs::image_config(args.inputs.config.as_deref())?;
    let (_, plan) = crate::plan::load::plan_env(
        &repo,
        &environment,
        &image,
        env.clone(),
        plugins_dir,
        &crate::plan::load::PlanOptions::default(),
    );
    Ok(plan
        .steps
        .iter()
        .filter(|s| s.skip.is_none())
        .flat_map(|s| s.tools.iter().map(|t| (t.clone(), s.alias.clone())))
        .collect())
}

/// The first line a program prints for its version, if it answers within 10 s.
fn version(path: &PathBuf, args: &[String]) -> Option<String> {
    let handle = duct::cmd(path, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let out = loop {
        if let Some(out) = handle.try_wait().ok()? {
            break out.clone();
        }
        if std::time::Instant::now() > deadline {
            let _ = handle.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
}

pub fn doctor(args: &DoctorArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let path = preflight::path_of(&env);
    let mut rows: Vec<Row> = Vec::new();
    for (need, who) in needs(args, &env)? {
        if let Some(row) = rows.iter_mut().find(|r| r.tool == need.name) {
            if !row.needed_by.contains(&who) {
                row.needed_by.push(who);
            }
            continue;
        }
        let found_at = preflight::find(&need.name, path);
        let version = found_at
            .as_ref()
            .and_then(|p| version(p, &need.version_args));
        let old_enough = match (&need.min_version, &version) {
            (Some(min), Some(have)) => at_least(have, min),
            (Some(_), None) => false,
            (None, _) => true,
        };
        rows.push(Row {
            ok: found_at.is_some() && old_enough,
            min_version: need.min_version.clone(),
            tool: need.name,
            needed_by: vec![who],
            found_at,
            version,
            get: need.get,
        });
    }
    match args.format {
        Format::Json => print_json(&rows),
        Format::Text => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.tool.clone(),
                        r.needed_by.join(", "),
                        r.found_at
                            .as_ref()
                            .map_or("-".into(), |p| p.display().to_string()),
                        r.version.clone().unwrap_or_else(|| "-".into()),
                        match (&r.found_at, r.ok, &r.min_version) {
                            (_, true, _) => "OK".to_string(),
                            (Some(_), false, Some(min)) => {
                                format!("too old (needs {min} or newer)")
                            }
                            _ => "missing".to_string(),
                        },
                    ]
                })
                .collect();
            emit(&table(
                &["TOOL", "NEEDED BY", "FOUND AT", "VERSION", "STATUS"],
                &cells,
            ));
        }
    }
    let mut problems = Vec::new();
    for r in rows.iter().filter(|r| r.found_at.is_some() && !r.ok) {
        problems.push(
            crate::error::Problem::error(format!(
                "`{}` is {}, older than {} (needed by {})",
                r.tool,
                r.version.as_deref().unwrap_or("of an unknown version"),
                r.min_version.as_deref().unwrap_or("required"),
                r.needed_by.join(", ")
            ))
            .kind(crate::error::Kind::ToolMissing)
            .hint(r.get.clone().map_or("install a newer one".into(), |g| {
                format!("install a newer one: {g}")
            })),
        );
    }
    let missing: Vec<Missing> = rows
        .into_iter()
        .filter(|r| r.found_at.is_none())
        .map(|r| Missing {
            tool: r.tool,
            needed_by: r.needed_by,
            get: r.get,
        })
        .collect();
    if !missing.is_empty() {
        problems.insert(0, preflight::error(&missing, false));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Whether the first version number in `text` (`Terraform v1.15.5`) is at least `min`.
fn at_least(text: &str, min: &str) -> bool {
    let numbers = |t: &str| -> Vec<u64> {
        let start = t.find(|c: char| c.is_ascii_digit()).unwrap_or(t.len());
        t[start..]
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()
            .unwrap_or("")
            .split('.')
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let (have, want) = (numbers(text), numbers(min));
    !have.is_empty() && have >= want
}

#[cfg(test)]
mod tests {
    use super::at_least;

    #[test]
    fn versions_compare_by_number() {
        assert!(at_least("Terraform v1.15.5", "1.0"));
        assert!(at_least("v3.19.0+g123", "3.0"));
        assert!(!at_least("Terraform v0.13.2", "1.0"));
        assert!(at_least("1.10", "1.9"));
        assert!(!at_least("no version here", "1.0"));
    }
}
