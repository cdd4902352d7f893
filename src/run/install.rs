//! The install transaction of `bitops install`: every plugin fetched into a staging
//! folder first (nothing is installed when a fetch fails or a dependency is missing),
//! then each swapped in and its install script run; a failed script puts the previous
//! version back.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::settings::{EnvVars, PluginSource};
use crate::error::{Error, Kind, Problem, Result, exit};
use crate::plugin;
use crate::plugin::fetch::{Fetch, RECORD, Record, describe, fetch, fetch_kind, order, redact};
use crate::report::event::Tone;
use crate::report::sink::Sink;
use crate::run::process::{self, Outcome, Spec};
use crate::run::signals::Signals;

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
    sink: &Arc<Sink>,
) -> Result<()> {
    let Request {
        sources,
        config_file,
        plugins_dir,
        fail_fast,
    } = *req;
    if sources.is_empty() && problems.is_empty() {
        sink.notice(
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
        crate::stop::check()?;
        let line = format!(
            "[{}/{total}] fetching {} ({})",
            i + 1,
            src.name,
            describe(kind)
        );
        sink.notice(Tone::Plain, &line);
        let fetched = fetch(&src.name, kind, &staging.path().join(&src.name));
        crate::stop::check()?;
        let commit = fetched.map_err(|why| {
            Error::Invalid(vec![
                Problem::error(format!("cannot fetch plugin `{}`: {why:#}", src.name))
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
                        .kind(Kind::DependencyMissing)
                        .hint(format!("add `{dep}` to `bitops.plugins`; nothing was installed")),
                );
            }
        }
    }
    crate::error::check(&missing)?;
    crate::error::check(&alpine_scripts(sources, &manifests, staging.path(), env))?;
    let deps: Vec<Vec<String>> = manifests
        .iter()
        .map(|(m, _)| m.install.dependencies.clone())
        .collect();
    let order = order(&names, &deps)
        .map_err(|why| Error::Invalid(vec![Problem::error(why).file(config_file)]))?;

    let runtime =
        crate::run::runtime().map_err(|e| Error::io("start the runtime for", plugins_dir, e))?;
    let mut signals = Signals::install()?;
    let mut failed = Vec::new();
    for i in order {
        crate::stop::check()?;
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
        let record_path = staged.join(RECORD);
        write_record(&record_path, &(json + "\n"))
            .map_err(|e| Error::io("write", &record_path, e))?;
        let backup = staging.path().join(format!(".previous-{}", src.name));
        let had_previous = target.exists();
        if had_previous {
            move_dir(&target, &backup).map_err(|e| Error::io("move aside", &target, e))?;
        }
        move_dir(&staged, &target).map_err(|e| Error::io("install", &target, e))?;
        let script = target.join(&manifest.install.install_script);
        let outcome = if src.skip_install {
            sink.notice(
                Tone::Plain,
                &format!(
                    "  install script {} not run (skip_install: true)",
                    manifest.install.install_script
                ),
            );
            Outcome::Exited { code: 0 }
        } else if script.is_file() {
            let vars = crate::plan::env::plugin_vars(&src.name, &target, Some(plugins_dir), env);
            let spec = Spec {
                argv: vec![
                    manifest.install.language.clone().into(),
                    script.clone().into_os_string(),
                ],
                cwd: target.clone(),
                env: std::sync::Arc::new(crate::run::spawn::Env::new(&env.1, &vars)),
                timeout: None,
                grace: Duration::from_secs(10),
                heartbeat: Some(Duration::from_secs(30)),
            };
            sink.notice(
                Tone::Plain,
                &format!(
                    "  install script: {} {}",
                    manifest.install.language, manifest.install.install_script
                ),
            );
            // Install output is the run's own: no step tag, shown as it comes.
            let out = crate::report::sink::StepOut::new(sink, None);
            runtime
                .block_on(process::run(&spec, &out, &mut signals, None))
                .0
        } else {
            sink.notice(
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
                sink.notice(
                    Tone::Plain,
                    &format!("  installed {} into {}", src.name, target.display()),
                );
            }
            other => {
                let _ = fs::remove_dir_all(&target);
                if had_previous {
                    let _ = move_dir(&backup, &target);
                }
                let (code, what) = match other {
                    Outcome::Exited { code } => (code, format!("exit code {code}")),
                    Outcome::Interrupted { signal } => {
                        return Err(Error::Interrupted { signal });
                    }
                    Outcome::TimedOut => (exit::TIMED_OUT, "timed out".into()),
                    Outcome::Cancelled => (exit::FAILURE, "cancelled".into()),
                    Outcome::SpawnFailed { error } => (127, error),
                };
                let restored = if had_previous {
                    "; the previous version was put back"
                } else {
                    ""
                };
                sink.notice(
                    Tone::Bad,
                    &format!(
                        "error: the install script of `{}` failed ({what}){restored}",
                        src.name
                    ),
                );
                if fail_fast {
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
        sink.notice(
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

/// Writes the install record in place of whatever the plugin shipped under its name: a
/// link there is removed, not followed (it could point at any file the user can write),
/// and the new file is created, never opened through a link.
fn write_record(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(path)?;
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Install scripts that call `apk` where there is none (this image is Debian, BitOps' is
/// Alpine): each an error at the line, found before any install script runs, so a team
/// image does not half-install. Plugins with `skip_install: true` are not looked at.
fn alpine_scripts(
    sources: &[PluginSource],
    manifests: &[(plugin::Manifest, plugin::Located)],
    staging: &Path,
    env: &EnvVars,
) -> Vec<Problem> {
    let path = env.get("PATH").map(std::ffi::OsStr::new);
    if crate::plan::preflight::find("apk", path).is_some() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for (src, (manifest, _)) in sources.iter().zip(manifests) {
        if src.skip_install {
            continue;
        }
        let script = &manifest.install.install_script;
        let Ok(text) = fs::read_to_string(staging.join(&src.name).join(script)) else {
            continue;
        };
        let lines = crate::plugin::alpine::apk_lines(&text);
        let Some(&first) = lines.first() else {
            continue;
        };
        let origin = src.source.strip_prefix("file://").unwrap_or(&src.source);
        let builtin = crate::plugin::builtin::exists(&src.name);
        let instead = if builtin {
            format!(
                "; or remove `{}` from `bitops.plugins` to use bitops' built-in `{}` plugin, which needs no install",
                src.name, src.name
            )
        } else {
            String::new()
        };
        let also = match lines.len() {
            1 => String::new(),
            n => format!(
                " (and {} more line{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        problems.push(
            Problem::error(format!(
                "the install script of plugin `{}` calls `apk`, Alpine's package manager (BitOps' image is Alpine); this image is Debian and has no `apk`{also}",
                src.name
            ))
            .at(&Path::new(origin).join(script), first)
            .key(format!("bitops.plugins.{}", src.name))
            .hint(format!(
                "install what it needs in your Dockerfile (`RUN apt-get install -y …`; terraform, ansible, helm, kubectl and the AWS CLI are already in the image), then set `skip_install: true` under `bitops.plugins.{}`{instead}; nothing was installed",
                src.name
            )),
        );
    }
    problems
}

/// Renames a folder; across file systems, or out of a lower overlayfs layer (a plugin
/// installed by an image this one is built `FROM`: EXDEV), copies it and removes the
/// original.
fn move_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            crate::files::copy_tree(from, to, &crate::files::same_link)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            fs::remove_dir_all(from)
        }
        other => other,
    }
}
