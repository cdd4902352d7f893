//! Tool preflight: the programs each step's plugin needs (`plugin.tools`), looked up on
//! the `PATH` the steps will get, before anything runs.

use std::ffi::OsStr;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Kind, Problem};
use crate::plan::{Plan, Step};
use crate::plugin::schema::Val;

/// A program that is not on `PATH`, and who needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub tool: String,
    pub needed_by: Vec<String>,
    pub get: Option<String>,
}

/// Where `program` is on `path` (an executable file), like a shell finds it. The one
/// `PATH` lookup: preflight, `doctor` and spawning (run::process) all use it.
pub fn find(program: impl AsRef<OsStr>, path: Option<&OsStr>) -> Option<PathBuf> {
    let program = program.as_ref();
    use std::os::unix::fs::PermissionsExt;
    let path = path?;
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether a step will run its plugin: not skipped (missing folder), and not switched
/// off by the plugin's own `options.skip-deploy`.
fn runs(step: &Step) -> bool {
    step.skip.is_none()
        && !step
            .values
            .iter()
            .any(|v| v.key == "options.skip-deploy" && v.value == Val::Bool(true))
}

/// Every program a running step needs that is not on `path`.
pub fn missing(plan: &Plan, path: Option<&OsStr>) -> Vec<Missing> {
    let mut out: Vec<Missing> = Vec::new();
    for step in plan.steps.iter().filter(|s| runs(s)) {
        for need in &step.tools {
            if find(&need.name, path).is_some() {
                continue;
            }
            match out.iter_mut().find(|m| m.tool == need.name) {
                Some(m) => m.needed_by.push(step.alias.clone()),
                None => out.push(Missing {
                    tool: need.name.clone(),
                    needed_by: vec![step.alias.clone()],
                    get: need.get.clone(),
                }),
            }
        }
    }
    out
}

fn line(m: &Missing) -> String {
    let get = m
        .get
        .as_deref()
        .map_or(String::new(), |g| format!("; get it: {g}"));
    format!("`{}` (needed by {}{get})", m.tool, m.needed_by.join(", "))
}

/// For `plan` and `validate`: one warning per missing program.
pub fn warnings(missing: &[Missing]) -> Vec<Problem> {
    missing
        .iter()
        .map(|m| {
            Problem::warning(format!("not on PATH: {}", line(m)))
                .hint("a deploy stops before step 1 until it is installed; `bitops doctor` lists every tool")
        })
        .collect()
}

/// One error listing every missing program (exit 127): for `deploy` before step 1
/// (`before_run`), and for `doctor`.
pub fn error(missing: &[Missing], before_run: bool) -> Problem {
    let list: Vec<String> = missing
        .iter()
        .map(|m| format!("\n    {}", line(m)))
        .collect();
    let one = missing.len() == 1;
    Problem::error(format!(
        "{} {} not on PATH{}:{}",
        if one { "a program this needs" } else { "programs this needs" },
        if one { "is" } else { "are" },
        if before_run { "; nothing was run" } else { "" },
        list.join("")
    ))
    .kind(Kind::ToolMissing)
    .hint("install them or put them on PATH (`bitops doctor` shows what is found where); in the bitops image they are all there")
}

/// The `PATH` a step gets (the caller's).
pub fn path_of(env: &crate::config::settings::EnvVars) -> Option<&OsStr> {
    env.1
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str())
}
