//! Mistakes that would otherwise pass silently: a tool folder with a config that no
//! deployment runs, a folder named almost like a hook folder.

use std::path::Path;

use crate::config::names;
use crate::error::Problem;
use crate::plan::Context;
use crate::repo::TOOL_CONFIG;
use crate::repo::hooks::{AFTER, BEFORE};
use crate::repo::view::{EnvView, Source};

/// Folders of the environment that hold a `bitops.config.yaml` but are in none of its
/// deployments: they will not be deployed (a warning), and their YAML is still read so
/// that its errors show (warnings for `deploy`, errors for `validate`).
pub fn unlisted_tool_folders(ctx: &Context, view: &EnvView, aliases: &[String]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Ok(entries) = view.entries(Path::new("")) else {
        return problems;
    };
    let skip = [ctx.settings.default_folder.as_str()];
    let listed: std::collections::HashSet<&str> = aliases.iter().map(String::as_str).collect();
    for entry in entries {
        let name = entry.name.to_string_lossy().into_owned();
        if entry.source != Source::Dir
            || name.starts_with('.')
            || skip.contains(&name.as_str())
            || listed.contains(name.as_str())
            // the folder of deployments such as `terraform/aws`
            || aliases.iter().any(|a| a.starts_with(&format!("{name}/")))
        {
            continue;
        }
        let Some(config) = view
            .file_layers(&Path::new(&name).join(TOOL_CONFIG))
            .into_iter()
            .next()
        else {
            continue;
        };
        let guess = names::suggest(&name, aliases.iter().map(String::as_str))
            .map_or(String::new(), |g| {
                format!(" (did you mean deployment `{g}`?)")
            });
        problems.push(
            Problem::warning(format!(
                "tool folder `{name}` has a {TOOL_CONFIG} but is in none of this environment's deployments, so it will not be deployed{guess}"
            ))
            .file(&config)
            .hint(format!(
                "add `{name}: {{plugin: PLUGIN}}` under `bitops.deployments` in {}/{TOOL_CONFIG}",
                ctx.environment
            ))
            .strict(),
        );
        if let Err(e) = crate::config::yaml::load_file(&config) {
            let mut p = e.at(&config);
            p.severity = crate::error::Severity::Warning;
            problems.push(p.strict());
        }
    }
    problems
}

/// A folder beside the hook folders whose name is close to one: its scripts would never
/// run.
pub fn near_miss_hook_folders(ctx: &Context, view: &EnvView) -> Vec<Problem> {
    let mut problems = Vec::new();
    for dep in &ctx.settings.deployments {
        let tool = Path::new(&dep.alias);
        let Ok(entries) = view.entries(tool) else {
            continue;
        };
        for entry in entries.iter().filter(|e| e.source == Source::Dir) {
            let name = entry.name.to_string_lossy();
            if name == BEFORE || name == AFTER {
                continue;
            }
            if let Some(meant) = names::suggest(&name, [BEFORE, AFTER]) {
                problems.push(
                    Problem::warning(format!(
                        "folder `{name}` is not a hook folder, so its scripts will not run (did you mean `{meant}`?)"
                    ))
                    .file(&view.env_dir.join(tool).join(entry.name.clone()))
                    .hint(format!("rename it to `{meant}`")),
                );
            }
        }
    }
    problems
}
