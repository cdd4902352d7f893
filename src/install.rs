//! `bitops install`: fetch the plugins of the core config's `plugins:` map into the
//! plugins folder and run their install scripts.
//!
//! Everything is fetched into a staging folder inside the plugins folder first; a
//! failed fetch or a missing dependency installs nothing. Then each plugin is swapped
//! in and its install script runs; if the script fails, the previous version of that
//! plugin is put back.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Problem, Result, exit};
use crate::output::{Output, Tone};
use crate::plugin;
use crate::process::{self, Outcome, Signals, Spec};
use crate::settings::{EnvVars, PluginSource};

/// Written into each installed plugin: where it came from.
pub const RECORD: &str = ".bitops-plugin.json";

#[derive(Debug, Clone, PartialEq)]
enum Fetch {
    Builtin,
    Folder(PathBuf),
    Git {
        url: String,
        reference: Option<String>,
        commit: Option<String>,
    },
}

#[derive(Serialize)]
struct Record<'a> {
    name: &'a str,
    source: String,
    source_branch: Option<&'a str>,
    source_tag: Option<&'a str>,
    source_commit: Option<String>,
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

fn fetch_kind(src: &PluginSource) -> std::result::Result<Fetch, Problem> {
    let key = format!("bitops.plugins.{}", src.name);
    let bad = |msg: String| Problem::error(msg).key(key.clone());
    let source = src.source.trim();
    if source.is_empty() {
        return Err(bad("the plugin has no `source`".into())
            .hint("set `source` to `builtin`, `file:///path/to/plugin` or a git URL"));
    }
    if source == "builtin" {
        if !crate::builtin::exists(&src.name) {
            return Err(
                bad(format!("there is no built-in plugin `{}`", src.name)).hint(format!(
                    "built-in plugins: {}",
                    crate::builtin::names().join(", ")
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
        return Ok(Fetch::Folder(path));
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

fn describe(kind: &Fetch) -> String {
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
fn fetch(name: &str, kind: &Fetch, dest: &Path) -> std::result::Result<Option<String>, String> {
    match kind {
        Fetch::Builtin => crate::builtin::write(name, dest)
            .map(|()| None)
            .map_err(|e| e.to_string()),
        Fetch::Folder(from) => crate::workspace::copy_tree(from, dest)
            .map(|()| None)
            .map_err(|e| e.to_string()),
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
            let head = git(&["-C".into(), dir, "rev-parse".into(), "HEAD".into()])?;
            if let Some(sha) = commit
                && head != *sha
            {
                return Err(format!("checked out {head}, not the pinned commit {sha}"));
            }
            Ok(Some(head))
        }
    }
}

fn git(args: &[String]) -> std::result::Result<String, String> {
    let out = duct::cmd("git", args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("cannot run git: {e}"))?;
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
        Err(format!(
            "git {} failed: {}",
            sub.map_or("", String::as_str),
            redact(err.trim())
        ))
    }
}

/// Dependency order, keeping the listed order where dependencies allow.
fn order(names: &[String], deps: &[Vec<String>]) -> std::result::Result<Vec<usize>, String> {
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

pub struct Request<'a> {
    pub sources: &'a [PluginSource],
    pub config_file: &'a Path,
    pub plugins_dir: &'a Path,
    pub fail_fast: bool,
}

/// Installs every plugin of `req`; `problems` are those found in the config so far.
pub fn install(
    req: &Request,
    mut problems: Vec<Problem>,
    env: &EnvVars,
    out: &Arc<Output>,
) -> Result<()> {
    let Request {
        sources,
        config_file,
        plugins_dir,
        fail_fast,
    } = *req;
    if sources.is_empty() && problems.is_empty() {
        out.say(
            Tone::Plain,
            &format!(
                "no plugins listed under `bitops.plugins` in {}; nothing to install",
                config_file.display()
            ),
        );
        return Ok(());
    }
    let kinds: Vec<Option<Fetch>> = sources
        .iter()
        .map(|s| {
            fetch_kind(s)
                .map_err(|p| problems.push(p.file(config_file)))
                .ok()
        })
        .collect();
    crate::error::check(&problems)?;
    fs::create_dir_all(plugins_dir).map_err(|e| Error::io("create", plugins_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".bitops-install-")
        .tempdir_in(plugins_dir)
        .map_err(|e| Error::io("create a staging folder in", plugins_dir, e))?;
    let total = sources.len();
    let mut commits = Vec::new();
    for (i, (src, kind)) in sources.iter().zip(kinds.iter().flatten()).enumerate() {
        let line = format!(
            "[{}/{total}] fetching {} ({})",
            i + 1,
            src.name,
            describe(kind)
        );
        out.say(Tone::Plain, &line);
        let commit = fetch(&src.name, kind, &staging.path().join(&src.name)).map_err(|why| {
            Error::Invalid(vec![
                Problem::error(format!("cannot fetch plugin `{}`: {why}", src.name))
                    .key(format!("bitops.plugins.{}.source", src.name))
                    .file(config_file)
                    .hint("nothing was installed; fix the source and run `bitops install` again"),
            ])
        })?;
        commits.push(commit);
    }
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let mut manifests = Vec::new();
    for name in &names {
        let located = plugin::locate(Some(staging.path()), None, name).expect("fetched above");
        manifests.push((plugin::load_manifest(&located, &mut problems), located));
    }
    crate::error::check(&problems)?;
    let mut missing = Vec::new();
    for (name, (manifest, _)) in names.iter().zip(&manifests) {
        for dep in &manifest.install.dependencies {
            if !names.contains(dep) {
                missing.push(
                    Problem::error(format!("plugin `{name}` depends on `{dep}`, which is not listed under `bitops.plugins`"))
                        .file(config_file)
                        .key(format!("bitops.plugins.{dep}"))
                        .code(exit::DEPENDENCY_MISSING)
                        .hint(format!("add `{dep}` to `bitops.plugins`; nothing was installed")),
                );
            }
        }
    }
    crate::error::check(&missing)?;
    let deps: Vec<Vec<String>> = manifests
        .iter()
        .map(|(m, _)| m.install.dependencies.clone())
        .collect();
    let order = order(&names, &deps)
        .map_err(|why| Error::Invalid(vec![Problem::error(why).file(config_file)]))?;

    let runtime =
        crate::exec::runtime().map_err(|e| Error::io("start the runtime for", plugins_dir, e))?;
    let mut signals = runtime
        .block_on(async { Signals::install() })
        .map_err(|e| Error::io("install signal handlers for", plugins_dir, e))?;
    let mut failed = Vec::new();
    for i in order {
        let (src, (manifest, _)) = (&sources[i], &manifests[i]);
        let target = plugins_dir.join(&src.name);
        let staged = staging.path().join(&src.name);
        let record = Record {
            name: &src.name,
            source: redact(&src.source),
            source_branch: src.source_branch.as_deref(),
            source_tag: src.source_tag.as_deref(),
            source_commit: commits[i].clone(),
        };
        let json = serde_json::to_string_pretty(&record).unwrap_or_default();
        fs::write(staged.join(RECORD), json + "\n")
            .map_err(|e| Error::io("write", &staged.join(RECORD), e))?;
        let backup = staging.path().join(format!(".previous-{}", src.name));
        let had_previous = target.exists();
        if had_previous {
            fs::rename(&target, &backup).map_err(|e| Error::io("move aside", &target, e))?;
        }
        fs::rename(&staged, &target).map_err(|e| Error::io("install", &target, e))?;
        let script = target.join(&manifest.install.install_script);
        let outcome = if script.is_file() {
            let mut vars = vec![
                ("BITOPS_PLUGIN_NAME".to_string(), src.name.clone()),
                (
                    "BITOPS_INSTALLED_PLUGIN_DIR".into(),
                    target.to_string_lossy().into_owned(),
                ),
                (
                    "BITOPS_PLUGINS_DIR".into(),
                    format!("{}/", plugins_dir.to_string_lossy().trim_end_matches('/')),
                ),
            ];
            vars.push((
                "BITOPS_PLUGIN_DIR".into(),
                plugins_dir.to_string_lossy().into_owned(),
            ));
            let spec = Spec {
                argv: vec![
                    manifest.install.language.clone(),
                    script.to_string_lossy().into_owned(),
                ],
                cwd: target.clone(),
                env: env.with(&vars),
                timeout: None,
                grace: Duration::from_secs(10),
            };
            out.say(
                Tone::Plain,
                &format!(
                    "  install script: {} {}",
                    spec.argv[0], manifest.install.install_script
                ),
            );
            runtime.block_on(process::run(&spec, out, &mut signals)).0
        } else {
            out.say(
                Tone::Plain,
                &format!(
                    "  no install script ({}); nothing to run",
                    manifest.install.install_script
                ),
            );
            Outcome::Exited { code: 0 }
        };
        match outcome {
            Outcome::Exited { code: 0 } => {
                out.say(
                    Tone::Plain,
                    &format!("  installed {} into {}", src.name, target.display()),
                );
            }
            other => {
                let _ = fs::remove_dir_all(&target);
                if had_previous {
                    let _ = fs::rename(&backup, &target);
                }
                let interrupted = matches!(other, Outcome::Interrupted { .. });
                let (code, what) = match other {
                    Outcome::Exited { code } => (code, format!("exit code {code}")),
                    Outcome::Interrupted { code, signal } => {
                        (code, format!("interrupted by {signal}"))
                    }
                    Outcome::TimedOut => (exit::TIMED_OUT, "timed out".into()),
                    Outcome::SpawnFailed { error } => (127, error),
                };
                let restored = if had_previous {
                    "; the previous version was put back"
                } else {
                    ""
                };
                out.say(
                    Tone::Bad,
                    &format!(
                        "error: the install script of `{}` failed ({what}){restored}",
                        src.name
                    ),
                );
                if fail_fast || interrupted {
                    return Err(Error::StepFailed {
                        what: format!("install script of plugin `{}`", src.name),
                        code,
                    });
                }
                failed.push(src.name.clone());
            }
        }
    }
    if failed.is_empty() {
        out.say(
            Tone::Plain,
            &format!(
                "installed {total} plugin{} into {}",
                if total == 1 { "" } else { "s" },
                plugins_dir.display()
            ),
        );
        Ok(())
    } else {
        Err(Error::SomeFailed {
            failed: failed.len(),
            total,
        })
    }
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
