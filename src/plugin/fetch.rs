//! `bitops install`: fetch the plugins of the core config's `plugins:` map into the
//! plugins folder and run their install scripts.
//!
//! Everything is fetched into a staging folder inside the plugins folder first; a
//! failed fetch or a missing dependency installs nothing. Then each plugin is swapped
//! in and its install script runs; if the script fails, the previous version of that
//! plugin is put back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::config::settings::PluginSource;
use crate::error::Problem;

/// Written into each installed plugin: where it came from.
pub const RECORD: &str = ".bitops-plugin.json";

#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    Builtin,
    Folder(PathBuf),
    Git {
        url: String,
        reference: Option<String>,
        commit: Option<String>,
    },
}

#[derive(Serialize)]
pub struct Record<'a> {
    pub name: &'a str,
    pub source: String,
    pub source_branch: Option<&'a str>,
    pub source_tag: Option<&'a str>,
    pub source_commit: Option<String>,
}

/// Credentials in a URL (`https://user:token@host`) are never printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme && !url[scheme + 3..at].contains('/') => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

pub fn fetch_kind(src: &PluginSource) -> std::result::Result<Fetch, Problem> {
    let key = format!("bitops.plugins.{}", src.name);
    let bad = |msg: String| Problem::error(msg).key(key.clone());
    let source = src.source.trim();
    if source.is_empty() {
        return Err(bad("the plugin has no `source`".into())
            .hint("set `source` to `builtin`, `file:///path/to/plugin` or a git URL"));
    }
    if source == "builtin" {
        if !crate::plugin::builtin::exists(&src.name) {
            return Err(
                bad(format!("there is no built-in plugin `{}`", src.name)).hint(format!(
                    "built-in plugins: {}",
                    crate::plugin::builtin::names().join(", ")
                )),
            );
        }
        return Ok(Fetch::Builtin);
    }
    if let Some(path) = source.strip_prefix("file://") {
        let path = PathBuf::from(path);
        if !path.is_dir() {
            return Err(bad(format!("{} is not a folder", path.display())));
        }
        // A pin on a folder is honoured by checking the folder's git history out at it
        // (`file://` makes git clone as it would from a server: no shortcuts, no
        // uncommitted edits); a folder that has no history cannot honour a pin.
        let pin = [
            ("source_branch", &src.source_branch),
            ("source_tag", &src.source_tag),
            ("source_commit", &src.source_commit),
        ]
        .into_iter()
        .find_map(|(key, value)| value.as_ref().map(|v| (key, v)));
        match pin {
            None => return Ok(Fetch::Folder(path)),
            Some((key, value)) if !path.join(".git").exists() => {
                return Err(bad(format!(
                    "`{key}: {value}` cannot be honoured: {} is a folder, not a git repository",
                    path.display()
                ))
                .hint(format!(
                    "remove `{key}` to install the folder as it is, or make {} a git repository with that {}",
                    path.display(),
                    &key["source_".len()..]
                )));
            }
            Some(_) => {}
        }
    }
    if src.source_branch.is_some() && src.source_tag.is_some() {
        return Err(bad("`source_branch` and `source_tag` are both set".into())
            .hint("pin with one of them, or better with `source_commit`"));
    }
    if let Some(commit) = &src.source_commit
        && !(commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(bad(format!(
            "`source_commit` must be a full 40-character SHA, found `{commit}`"
        )));
    }
    Ok(Fetch::Git {
        url: source.to_string(),
        reference: src.source_branch.clone().or_else(|| src.source_tag.clone()),
        commit: src.source_commit.as_ref().map(|c| c.to_ascii_lowercase()),
    })
}

pub fn describe(kind: &Fetch) -> String {
    match kind {
        Fetch::Builtin => "built in".into(),
        Fetch::Folder(p) => format!("from {}", p.display()),
        Fetch::Git {
            url,
            reference,
            commit,
        } => {
            let mut s = format!("from {}", redact(url));
            if let Some(r) = reference {
                s.push_str(&format!(" at {r}"));
            }
            if let Some(c) = commit {
                s.push_str(&format!(" at commit {c}"));
            }
            s
        }
    }
}

/// Fetches one plugin into `dest`; returns the commit checked out for git sources.
/// Fetches one plugin into `dest`; returns the commit of a git source. Errors carry
/// what was being done, for the user (`{:#}` shows the chain).
pub fn fetch(name: &str, kind: &Fetch, dest: &Path) -> anyhow::Result<Option<String>> {
    match kind {
        Fetch::Builtin => crate::plugin::builtin::write(name, dest)
            .map(|()| None)
            .with_context(|| format!("cannot write the built-in plugin to {}", dest.display())),
        Fetch::Folder(from) => crate::files::copy_tree(from, dest, &crate::files::same_link)
            .map(|()| None)
            .with_context(|| format!("cannot copy {}", from.display())),
        Fetch::Git {
            url,
            reference,
            commit,
        } => {
            let mut args: Vec<String> = vec!["clone".into(), "--quiet".into()];
            if commit.is_none() {
                args.extend(["--depth".into(), "1".into()]);
            }
            if let Some(r) = reference {
                args.extend(["--branch".into(), r.clone()]);
            }
            args.extend([
                "--".into(),
                url.clone(),
                dest.to_string_lossy().into_owned(),
            ]);
            git(&args)?;
            let dir = dest.to_string_lossy().into_owned();
            if let Some(sha) = commit {
                git(&[
                    "-C".into(),
                    dir.clone(),
                    "checkout".into(),
                    "--quiet".into(),
                    "--detach".into(),
                    sha.clone(),
                ])?;
            }
            // The clone keeps its URL in .git/config: without the credentials in it.
            if redact(url) != *url {
                git(&[
                    "-C".into(),
                    dir.clone(),
                    "remote".into(),
                    "set-url".into(),
                    "origin".into(),
                    redact(url),
                ])?;
            }
            let head = git(&["-C".into(), dir, "rev-parse".into(), "HEAD".into()])?;
            if let Some(sha) = commit
                && head != *sha
            {
                anyhow::bail!("checked out {head}, not the pinned commit {sha}");
            }
            Ok(Some(head))
        }
    }
}

fn git(args: &[String]) -> anyhow::Result<String> {
    let handle = duct::cmd("git", args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .context("cannot run git")?;
    // A stop signal ends a long clone too.
    let out = loop {
        if let Some(out) = handle.try_wait().context("cannot run git")? {
            break out;
        }
        if let Some(signal) = crate::stop::requested() {
            let _ = handle.kill();
            anyhow::bail!("interrupted by {}", signal.name());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        // Name the subcommand, not `-C DIR`.
        let sub = if args.first().is_some_and(|a| a == "-C") {
            args.get(2)
        } else {
            args.first()
        };
        Err(anyhow::anyhow!(
            "git {} failed: {}",
            sub.map_or("", String::as_str),
            redact(err.trim())
        ))
    }
}

/// Dependency order, keeping the listed order where dependencies allow.
pub fn order(names: &[String], deps: &[Vec<String>]) -> std::result::Result<Vec<usize>, String> {
    let mut done: Vec<usize> = Vec::new();
    let mut visiting = BTreeSet::new();
    fn visit(
        i: usize,
        names: &[String],
        deps: &[Vec<String>],
        done: &mut Vec<usize>,
        visiting: &mut BTreeSet<usize>,
    ) -> std::result::Result<(), String> {
        if done.contains(&i) {
            return Ok(());
        }
        if !visiting.insert(i) {
            return Err(format!(
                "plugin dependencies form a cycle through `{}`",
                names[i]
            ));
        }
        for d in &deps[i] {
            if let Some(j) = names.iter().position(|n| n == d) {
                visit(j, names, deps, done, visiting)?;
            }
        }
        visiting.remove(&i);
        done.push(i);
        Ok(())
    }
    for i in 0..names.len() {
        visit(i, names, deps, &mut done, &mut visiting)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact("https://user:tok@example.com/x.git"),
            "https://***@example.com/x.git"
        );
        assert_eq!(redact("https://example.com/a@b"), "https://example.com/a@b");
        assert_eq!(redact("git@example.com:x.git"), "git@example.com:x.git");
    }

    #[test]
    fn orders_dependencies_first() {
        let names: Vec<String> = ["helm", "aws", "kubectl"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let deps = vec![
            vec!["aws".to_string(), "kubectl".to_string()],
            vec![],
            vec![],
        ];
        assert_eq!(order(&names, &deps).unwrap(), vec![1, 2, 0]);
        let cyclic = vec![vec!["aws".to_string()], vec!["helm".to_string()], vec![]];
        assert!(order(&names, &cyclic).unwrap_err().contains("cycle"));
    }
}
