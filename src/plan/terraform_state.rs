//! Terraform state that a run would throw away, found before step 1. A stack with no
//! backend block (or a local backend whose path is relative) writes its state into the
//! tool folder — bitops' private copy, deleted after the run — so the next run would
//! create everything again and nothing could destroy the first copy. An apply or
//! destroy of such a stack is refused unless `options.local-state` says `keep` (the
//! state kept in the step's folder of the state folder) or `discard`.
//!
//! Read from the top-level `.tf` and `.tf.json` files of the tool folder. A step with a
//! before-hook is left to the plugin (a hook may write the backend), which makes the same
//! check after `terraform init`.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::Problem;
use crate::plan::{Context, Plan, Step};
use crate::plugin::schema::Val;
use crate::repo::view::EnvView;

/// Where a stack keeps its state.
#[derive(Debug, PartialEq)]
enum State {
    /// A backend other than a local one with a relative path: it outlives the run.
    Kept,
    /// In the tool folder; why.
    InFolder(&'static str),
}

pub fn check(ctx: &Context, view: &EnvView, plan: &Plan) -> Vec<Problem> {
    if ctx.dry_run {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for step in &plan.steps {
        if step.plugin != "terraform"
            || !step.plugin_builtin
            || step.skip.is_some()
            || !step.before_hooks.is_empty()
        {
            continue;
        }
        let action = match step.value("cli.stack-action") {
            Some(Val::Str(a)) if a == "apply" || a == "destroy" => a.clone(),
            _ => continue,
        };
        if step.value("options.skip-deploy") == Some(&Val::Bool(true))
            || step.value("options.local-state").is_some()
        {
            continue;
        }
        let Some(why) = in_folder(view, step) else {
            continue;
        };
        let folder = Path::new(&view.env_name).join(&step.alias);
        let problem = Problem::error(format!(
            "`{action}` would keep the Terraform state in bitops' private copy of {}, which is deleted after the run ({why}): the next run would not know what this one made",
            folder.display()
        ))
        .key("terraform.cli.stack-action")
        .hint("configure a backend (s3, or local with an absolute path: `backend-config: [path=/var/lib/tfstate/dev.tfstate]`), or set `options.local-state: keep` to keep the state in bitops' state folder (`discard` to throw it away)");
        problems.push(step.at_setting(problem, "cli.stack-action", view));
    }
    problems
}

/// Why a terraform step's state lives in the private workspace, when it does.
pub fn in_folder(view: &EnvView, step: &Step) -> Option<&'static str> {
    match state_of(view, step) {
        State::InFolder(why) => Some(why),
        State::Kept => None,
    }
}

fn state_of(view: &EnvView, step: &Step) -> State {
    let absolute_path_given = match step.value("cli.backend-config") {
        Some(Val::List(items)) => items.iter().any(|i| i.starts_with("path=/")),
        Some(Val::Str(item)) => item.starts_with("path=/"),
        _ => false,
    };
    let mut found: Option<State> = None;
    let entries = view.entries(Path::new(&step.alias)).unwrap_or_default();
    for entry in entries {
        let name = entry.name.to_string_lossy();
        let json = name.ends_with(".tf.json");
        if !(json || name.ends_with(".tf")) {
            continue;
        }
        let rel = Path::new(&step.alias).join(entry.name.clone());
        let Some(file) = view.file_layers(&rel).into_iter().next() else {
            continue;
        };
        let Ok(bytes) = crate::files::read_limited(&file, crate::config::yaml::MAX_FILE_BYTES)
        else {
            // Unreadable here: the plugin finds out.
            return State::Kept;
        };
        let text = String::from_utf8_lossy(&bytes);
        let state = if json {
            json_backend(&text)
        } else {
            hcl_backend(&text)
        };
        match state {
            Some(State::Kept) => return State::Kept,
            Some(s) => found = Some(s),
            None => {}
        }
    }
    match found {
        Some(_) if absolute_path_given => State::Kept,
        Some(s) => s,
        None => State::InFolder("no backend block in its .tf files"),
    }
}

/// The backend a `.tf` file declares, if any.
fn hcl_backend(text: &str) -> Option<State> {
    static BACKEND: OnceLock<Regex> = OnceLock::new();
    static CLOUD: OnceLock<Regex> = OnceLock::new();
    let backend = BACKEND.get_or_init(|| {
        Regex::new(r#"(?m)^\s*backend\s+"([A-Za-z0-9_-]+)"\s*\{([^}]*)\}?"#).unwrap()
    });
    let cloud = CLOUD.get_or_init(|| Regex::new(r"(?m)^\s*cloud\s*\{").unwrap());
    if cloud.is_match(text) {
        return Some(State::Kept);
    }
    let found = backend.captures(text)?;
    if &found[1] != "local" {
        return Some(State::Kept);
    }
    Some(local_path_state(found.get(2).map_or("", |m| m.as_str())))
}

fn local_path_state(body: &str) -> State {
    static PATH: OnceLock<Regex> = OnceLock::new();
    let path = PATH.get_or_init(|| Regex::new(r#"(?m)^\s*path\s*=\s*"([^"]*)""#).unwrap());
    match path.captures(body) {
        Some(p) if p[1].starts_with('/') => State::Kept,
        Some(_) => State::InFolder("its local backend's path is relative"),
        None => State::InFolder("its local backend has no path"),
    }
}

/// The backend a `.tf.json` file declares, if any.
fn json_backend(text: &str) -> Option<State> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let blocks = match &json["terraform"] {
        serde_json::Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for block in blocks {
        if !block["cloud"].is_null() {
            return Some(State::Kept);
        }
        if let Some(backends) = block["backend"].as_object() {
            return Some(match backends.get("local") {
                None => State::Kept,
                Some(local) => match local["path"].as_str() {
                    Some(p) if p.starts_with('/') => State::Kept,
                    Some(_) => State::InFolder("its local backend's path is relative"),
                    None => State::InFolder("its local backend has no path"),
                },
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_in_hcl_and_json() {
        assert_eq!(hcl_backend("resource \"x\" \"y\" {}\n"), None);
        assert_eq!(
            hcl_backend("terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n"),
            Some(State::Kept)
        );
        assert_eq!(
            hcl_backend("terraform {\n  cloud {\n    organization = \"o\"\n  }\n}\n"),
            Some(State::Kept)
        );
        assert_eq!(
            hcl_backend(
                "terraform {\n  backend \"local\" {\n    path = \"/var/tf/x.tfstate\"\n  }\n}\n"
            ),
            Some(State::Kept)
        );
        assert_eq!(
            hcl_backend("terraform {\n  backend \"local\" {\n    path = \"x.tfstate\"\n  }\n}\n"),
            Some(State::InFolder("its local backend's path is relative"))
        );
        assert_eq!(
            hcl_backend("terraform {\n  backend \"local\" {}\n}\n"),
            Some(State::InFolder("its local backend has no path"))
        );
        assert_eq!(
            json_backend(r#"{"terraform": {"backend": {"s3": {"bucket": "b"}}}}"#),
            Some(State::Kept)
        );
        assert_eq!(
            json_backend(r#"{"terraform": [{"backend": {"local": {}}}]}"#),
            Some(State::InFolder("its local backend has no path"))
        );
        assert_eq!(json_backend(r#"{"resource": {}}"#), None);
    }
}
