//! Shell completion with clap_complete's dynamic engine: `bitops completions SHELL` prints
//! a script that asks bitops for the candidates while the user types
//! (`BITOPS_COMPLETE=SHELL bitops -- WORDS…`). Subcommands, flags, choices and paths come
//! from the command line's definition; what only the ops repo knows comes from the repo
//! the command line being completed names: environments for `-e`, deployment aliases for
//! `--only`/`--skip`, plugin names for `plugins show`. Reads only, and quietly: a
//! completion that cannot read the repo offers nothing.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{CompleteEnv, Shells};

use crate::app::cli::Cli;
use crate::config::settings::EnvVars;
use crate::error::{Error, Problem, Result};
use crate::repo::inputs;

/// The variable the scripts set when they call bitops for candidates.
pub const VAR: &str = "BITOPS_COMPLETE";

/// Answers the shell when it asks for candidates — `BITOPS_COMPLETE=SHELL bitops -- WORDS…`
/// — and exits; returns at once for every other command line. The variable alone never
/// changes what bitops does: a `BITOPS_COMPLETE` left in a CI environment cannot turn
/// `bitops deploy` into printing a script.
pub fn answer_if_asked() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let asked = std::env::var_os(VAR).is_some_and(|v| !v.is_empty() && v != "0");
    if !asked || args.get(1).is_none_or(|a| a != "--") {
        return;
    }
    // Nothing a completion does may reach the user's prompt.
    std::panic::set_hook(Box::new(|_| {}));
    let line = Arc::new(Line::parse(&args[2..]));
    let cwd = std::env::current_dir().ok();
    let answered = CompleteEnv::with_factory(move || with_repo_values(Cli::command(), &line))
        .var(VAR)
        .try_complete(args, cwd.as_deref());
    // A failed call offers nothing: the scripts take it as no candidates.
    std::process::exit(if matches!(answered, Ok(true)) { 0 } else { 1 });
}

/// The script `bitops completions SHELL` prints. It calls bitops the way this process was
/// started: by name through PATH, or by its absolute path.
pub fn script(shell: clap_complete::Shell) -> Result<String> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        return Err(Error::Invalid(vec![Problem::error(format!(
            "no completion script for {name}"
        ))]));
    };
    let argv0 = PathBuf::from(
        std::env::args_os()
            .next()
            .unwrap_or_else(|| "bitops".into()),
    );
    let program = if argv0.components().count() > 1 {
        std::path::absolute(&argv0).unwrap_or(argv0)
    } else {
        argv0
    };
    let mut out = Vec::new();
    completer
        .write_registration(
            VAR,
            "bitops",
            "bitops",
            &program.to_string_lossy(),
            &mut out,
        )
        .map_err(|source| Error::Io {
            action: "write the completion script for",
            path: PathBuf::from(&name),
            source,
        })?;
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if name == "zsh" {
        // Installed in $fpath, the file is the body of `_bitops`: complete on the first TAB
        // too, not only once the script has registered its function. Sourced, it is inert.
        text.push_str("[[ ${funcstack[1]} = _bitops ]] && _clap_dynamic_completer_bitops \"$@\"\n");
    }
    Ok(text)
}

/// The command line with the repo's values as candidates of `-e`, `--only`, `--skip` and
/// `plugins show`.
fn with_repo_values(mut cmd: clap::Command, line: &Arc<Line>) -> clap::Command {
    // The commands' arguments are deferred (`cli::Command`): defined before they get values.
    cmd.build();
    add_values(cmd, "", line)
}

fn add_values(cmd: clap::Command, parent: &str, line: &Arc<Line>) -> clap::Command {
    let name = cmd.get_name().to_string();
    let plugins_show = parent == "plugins" && name == "show";
    cmd.mut_args(|arg| {
        let line = Arc::clone(line);
        let values = match arg.get_id().as_str() {
            "environment" => ArgValueCandidates::new(move || line.environments()),
            "only" | "skip" => ArgValueCandidates::new(move || line.aliases()),
            "name" if plugins_show => ArgValueCandidates::new(move || line.plugins()),
            _ => return arg,
        };
        arg.add(values)
    })
    .mut_subcommands(|sub| add_values(sub, &name, line))
}

/// Where the inputs are, as far as the command line being completed says.
#[derive(Debug, Default)]
struct Line {
    ops_repo: Option<PathBuf>,
    config: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
    environment: Option<OsString>,
    /// The items before the last comma of the word being completed (`a,b,` → a, b): the
    /// aliases `--only`/`--skip` already list there.
    listed: Vec<String>,
}

impl Line {
    /// The words the shell passed (the program name first). The last occurrence of a flag
    /// wins; `--flag=VALUE`, `--flag VALUE`, `-eVALUE` and bash's split `--flag = VALUE`
    /// are understood. A word that is still being typed is read like the others.
    fn parse(words: &[OsString]) -> Line {
        let mut line = Line::default();
        // Which word is being completed: bash and zsh say so, fish passes words up to it.
        let current = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|i| i.parse::<usize>().ok())
            .unwrap_or(words.len().saturating_sub(1));
        if let Some(word) = words.get(current).and_then(|w| w.to_str()) {
            let value = match word.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => value,
                _ => word,
            };
            if let Some((before, _)) = value.rsplit_once(',') {
                line.listed = before.split(',').map(|a| a.trim().to_string()).collect();
            }
        }
        let mut words = words.iter().skip(1);
        while let Some(word) = words.next() {
            let Some(text) = word.to_str() else {
                continue;
            };
            if text == "--" {
                break;
            }
            let (flag, inline) = match text.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
                _ => (text, None),
            };
            let (slot, inline) = match flag {
                "--ops-repo" => (Slot::OpsRepo, inline),
                "--plugins-dir" => (Slot::PluginsDir, inline),
                "-c" | "--config" | "--bitops_config_file" => (Slot::Config, inline),
                "-e" | "--environment" => (Slot::Environment, inline),
                _ if flag.len() > 2 && flag.starts_with("-e") && !flag.starts_with("--") => {
                    (Slot::Environment, Some(flag[2..].trim_start_matches('=')))
                }
                _ if flag.len() > 2 && flag.starts_with("-c") && !flag.starts_with("--") => {
                    (Slot::Config, Some(flag[2..].trim_start_matches('=')))
                }
                _ => continue,
            };
            let value = match inline {
                Some(value) => Some(OsString::from(value)),
                None => match words.next() {
                    Some(next) if next == "=" => words.next().cloned(),
                    next => next.cloned(),
                },
            };
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            match slot {
                Slot::OpsRepo => line.ops_repo = Some(home(&value)),
                Slot::PluginsDir => line.plugins_dir = Some(home(&value)),
                Slot::Config => line.config = Some(home(&value)),
                Slot::Environment => line.environment = Some(value),
            }
        }
        line
    }

    /// The ops repo as the command would find it: the flag, else `BITOPS_OPS_REPO`, else
    /// the default; none when it is not a folder.
    fn ops_repo(&self) -> Option<PathBuf> {
        let chosen = self
            .ops_repo
            .clone()
            .or_else(|| var_path("BITOPS_OPS_REPO"));
        inputs::ops_repo(chosen.as_deref()).ok()
    }

    fn environments(&self) -> Vec<CompletionCandidate> {
        let Some(repo) = self.ops_repo() else {
            return Vec::new();
        };
        inputs::environments(&repo)
            .into_iter()
            .map(CompletionCandidate::new)
            .collect()
    }

    /// The deployments of the environment given (`-e`, else `BITOPS_ENVIRONMENT`), as
    /// `bitops list -e` shows them, with the plugin as help; not those the word being
    /// completed already lists.
    fn aliases(&self) -> Vec<CompletionCandidate> {
        let Some(repo) = self.ops_repo() else {
            return Vec::new();
        };
        let env = EnvVars::from_process();
        let mut problems = Vec::new();
        let flag = self.environment.as_deref().and_then(OsStr::to_str);
        let Ok(environment) = inputs::environment(flag, &env, &repo, &mut problems) else {
            return Vec::new();
        };
        let config = self
            .config
            .clone()
            .or_else(|| var_path("BITOPS_BUILD_CONFIG_YAML"));
        let Ok(image) = inputs::image_config(config.as_deref()) else {
            return Vec::new();
        };
        let settings = inputs::env_settings(&repo, &environment, &image, &env, &mut problems);
        // A config `bitops list -e` refuses offers nothing.
        if problems.iter().any(Problem::is_error) {
            return Vec::new();
        }
        settings
            .deployments
            .into_iter()
            .filter(|d| !self.listed.contains(&d.alias))
            .map(|d| CompletionCandidate::new(d.alias).help(Some(d.plugin.into())))
            .collect()
    }

    /// The installed (`--plugins-dir`, else `BITOPS_PLUGINS_DIR`, else the default) and
    /// built-in plugins.
    fn plugins(&self) -> Vec<CompletionCandidate> {
        let chosen = self
            .plugins_dir
            .clone()
            .or_else(|| var_path("BITOPS_PLUGINS_DIR"));
        let dir = inputs::plugins_dir(chosen.as_deref());
        crate::plugin::available(dir.as_deref())
            .into_iter()
            .map(CompletionCandidate::new)
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    OpsRepo,
    PluginsDir,
    Config,
    Environment,
}

/// A set, non-empty variable as a path (how clap reads a flag's `env`).
fn var_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The shell has not expanded a `~` in the words it passes: `~` and `~/…` are $HOME's.
fn home(value: &OsStr) -> PathBuf {
    let path = Path::new(value);
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) if !home.is_empty() => Path::new(&home).join(rest),
        _ => path.to_path_buf(),
    }
}
