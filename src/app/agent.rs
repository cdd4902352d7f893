//! `bitops agent`: the command line checked into the agent's options (state folder,
//! secrets, join token, labels), then the hub loop or, with `--no-hub`, the git loop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::agent::deploy::Engine;
use crate::agent::{Follow, Options};
use crate::app::cli::AgentArgs;
use crate::config::settings::EnvVars;
use crate::error::{Error, Problem, Result};

pub fn agent(args: &AgentArgs) -> Result<()> {
    // From the first instruction: a stop signal winds the agent down.
    crate::run::signals::install()?;
    let env = EnvVars::from_process();
    let level = args.log_level.to_ascii_uppercase();
    if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level.as_str()) {
        return Err(invalid(
            Problem::error(format!("unknown log level `{}`", args.log_level))
                .hint("use DEBUG, INFO, WARNING, ERROR or CRITICAL"),
        ));
    }
    crate::agent::set_debug(level == "DEBUG");
    let labels = crate::agent::run::labels(&args.labels).map_err(|e| invalid(Problem::error(e)))?;
    let state_dir = state_dir(args.state_dir.as_deref(), &env)?;
    let secrets = match &args.secrets {
        Some(path) => crate::agent::secrets::load(path).map_err(|e| invalid(Problem::error(e)))?,
        None => Default::default(),
    };
    crate::agent::debug(&format!(
        "secrets: {}",
        if secrets.vars.is_empty() {
            "none".to_string()
        } else {
            secrets.names().join(", ")
        }
    ));
    let join_token = if args.no_hub {
        None
    } else {
        join_token(args.join_token_file.as_deref(), &env)?
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("find the path of", Path::new("bitops"), e))?;
    let masker = secrets.masker();
    let follow = match (&args.tag, &args.branch) {
        (Some(tag), _) => Follow::Tag(tag.clone()),
        (None, Some(branch)) => Follow::Branch(branch.clone()),
        (None, None) => Follow::Branch("main".into()),
    };
    let opts = Options {
        hub: args.hub.clone(),
        name: args.name.clone().unwrap_or_else(hostname),
        labels,
        join_token,
        ca_file: args.ca_file.clone(),
        state_dir: state_dir.clone(),
        poll: args.poll.max(std::time::Duration::from_millis(50)),
        metadata_url: args.metadata_url.clone(),
        repo: args.repo.clone(),
        follow,
        environment: args.environment.clone(),
        once: args.once,
        engine: Engine {
            exe,
            config: args.config.clone(),
            plugins_dir: args.plugins_dir.clone(),
            grace_period: args.grace_period,
            state_dir,
            secrets,
            masker,
        },
    };
    if args.no_hub {
        let metadata = crate::agent::metadata::discover(&opts.metadata_url);
        crate::agent::debug(&format!(
            "instance metadata: {}",
            if metadata.is_empty() {
                "none".to_string()
            } else {
                metadata.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        ));
        crate::agent::gitops::run(&opts)
    } else {
        crate::agent::run::run(&opts)
    }
}

fn invalid(p: Problem) -> Error {
    Error::Invalid(vec![p])
}

/// `--state-dir`, else `$XDG_STATE_HOME/bitops/agent`, else `~/.local/state/bitops/agent`;
/// created 0700.
fn state_dir(flag: Option<&Path>, env: &EnvVars) -> Result<PathBuf> {
    let dir = match flag {
        Some(d) => d.to_path_buf(),
        None => crate::run::lock::state_dir(None, env).join("agent"),
    };
    let existed = dir.is_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the state folder", &dir, e))?;
    if !existed {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set the mode of", &dir, e))?;
    }
    for sub in ["checkouts", "locks"] {
        let d = dir.join(sub);
        if !d.is_dir() {
            std::fs::create_dir_all(&d).map_err(|e| Error::io("create", &d, e))?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("set the mode of", &d, e))?;
        }
    }
    Ok(dir)
}

/// The join token from `--join-token-file`, else `BITOPS_AGENT_JOIN_TOKEN`; `None` when
/// neither is given (an agent with a kept token needs none).
fn join_token(file: Option<&Path>, env: &EnvVars) -> Result<Option<String>> {
    if let Some(file) = file {
        let bytes = crate::files::read_limited(file, 64 * 1024).map_err(|e| {
            invalid(
                Problem::error(format!("cannot read the join token: {e}"))
                    .file(file)
                    .hint("give the file holding the hub's join token"),
            )
        })?;
        let token = String::from_utf8_lossy(&bytes).trim().to_string();
        if token.is_empty() {
            return Err(invalid(
                Problem::error("the join token file is empty")
                    .file(file)
                    .hint("write the hub's join token into it"),
            ));
        }
        return Ok(Some(token));
    }
    Ok(env
        .get("BITOPS_AGENT_JOIN_TOKEN")
        .map(|t| t.trim().to_string()))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "agent".into())
}
