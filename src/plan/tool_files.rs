//! The files a built-in plugin's config names — an Ansible playbook and inventory, a
//! CloudFormation template and parameters file — looked up before step 1, so that
//! `validate` finds what the plugin would fail on. A file that is missing while a close
//! name is there (`playbook.yml` for `playbook.yaml`) is an error. A file that is missing
//! outright is an error too, unless something may write it first: a before-hook of the
//! step, or an earlier step of the run (a Terraform step writing the inventory of an
//! Ansible one, as bitovi's actions do); then it is left to the run.

use std::path::Path;

use crate::config::names;
use crate::error::Problem;
use crate::plan::{Plan, Step, TOOL_CONFIG};
use crate::plugin::schema::Val;
use crate::repo::view::EnvView;

/// A setting of a built-in plugin that names a file of the tool folder.
struct Named {
    plugin: &'static str,
    key: &'static str,
    /// Settings that, when false, mean the file is not read.
    unless_false: &'static [&'static str],
}

const NAMED: &[Named] = &[
    Named {
        plugin: "ansible",
        key: "cli.main-playbook",
        unless_false: &[],
    },
    Named {
        plugin: "ansible",
        key: "cli.inventory",
        unless_false: &[],
    },
    Named {
        plugin: "cloudformation",
        key: "options.cfn-files.template-file",
        unless_false: &[],
    },
    Named {
        plugin: "cloudformation",
        key: "options.cfn-files.parameters.template-param-file",
        unless_false: &[
            "options.cfn-files.parameters.enabled",
            "options.cfn-files.parameters.template-param-flag",
        ],
    },
];

pub fn check(view: &EnvView, plan: &Plan) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut earlier = false;
    for step in &plan.steps {
        let first = !earlier;
        earlier |= step.skip.is_none();
        if !step.plugin_builtin || step.skip.is_some() {
            continue;
        }
        if step.value("options.skip-deploy") == Some(&Val::Bool(true)) {
            continue;
        }
        for named in NAMED.iter().filter(|n| n.plugin == step.plugin) {
            if named
                .unless_false
                .iter()
                .any(|k| step.value(k) == Some(&Val::Bool(false)))
            {
                continue;
            }
            let written_first = !first || !step.before_hooks.is_empty();
            if let Some(problem) = check_one(view, step, named, written_first) {
                problems.push(problem);
            }
        }
    }
    problems
}

/// `written_first`: a hook or an earlier step may write the file before the plugin reads it.
fn check_one(view: &EnvView, step: &Step, named: &Named, written_first: bool) -> Option<Problem> {
    let resolved = step.resolved(named.key)?;
    let Val::Str(text) = &resolved.value else {
        return None;
    };
    // A host list (`localhost,`), a path outside the repo, or a value filled in at run
    // time: not a file of the tool folder.
    if text.is_empty() || text.contains(',') || text.contains("${{") || text.starts_with('/') {
        return None;
    }
    let rel = Path::new(&step.alias).join(text);
    if view.is_dir(&rel) || !view.file_layers(&rel).is_empty() {
        return None;
    }
    let folder = Path::new(&view.env_name).join(&step.alias);
    let (dir, name) = match Path::new(text).parent() {
        Some(parent) => (
            Path::new(&step.alias).join(parent),
            Path::new(text).file_name()?.to_string_lossy().into_owned(),
        ),
        None => (Path::new(&step.alias).to_path_buf(), text.clone()),
    };
    let there: Vec<String> = view
        .entries(&dir)
        .unwrap_or_default()
        .iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .filter(|n| n != TOOL_CONFIG)
        .collect();
    let key = format!("{}.{}", step.plugin, named.key);
    let leaf = named.key.rsplit('.').next().unwrap_or(named.key);
    let problem = match names::suggest(&name, there.iter().map(String::as_str)) {
        Some(close) => {
            let close = Path::new(text).with_file_name(close);
            Problem::error(format!(
                "`{text}` is not in {}, but `{}` is: the {} plugin would fail on it",
                folder.display(),
                close.display(),
                step.plugin
            ))
            .hint(format!(
                "set `{leaf}: {}` in the tool's {TOOL_CONFIG}, or rename the file",
                close.display()
            ))
        }
        None if written_first => return None,
        None => Problem::error(format!(
            "`{text}` is not in {}, and no hook or earlier step writes it first: the {} plugin would fail on it",
            folder.display(),
            step.plugin
        ))
        .hint(format!(
            "add the file, or set `{leaf}` in the tool's {TOOL_CONFIG} to the file it should read"
        )),
    }
    .key(key);
    Some(step.at_setting(problem, named.key, view))
}
