//! One deploy of a given environment of a given ops repo at a time.
//!
//! The lock is an OS file lock (flock) on a file in the state folder: the kernel
//! releases it when its holder exits, however it exits, so the lock of a dead process
//! is simply taken over. The file says who holds it, for the message a second run gets.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result};

#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    host: String,
    started_at: String,
    ops_repo: String,
    environment: String,
}

/// Held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// The state folder: `--state-dir`, else `$XDG_STATE_HOME/bitops`, else
/// `~/.local/state/bitops`, else a folder of the user's in the temp folder.
pub fn state_dir(flag: Option<&Path>, env: &crate::config::settings::EnvVars) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(xdg) = env.get("XDG_STATE_HOME") {
        return Path::new(xdg).join("bitops");
    }
    if let Some(home) = env.get("HOME") {
        return Path::new(home).join(".local/state/bitops");
    }
    // SAFETY: getuid cannot fail.
    std::env::temp_dir().join(format!("bitops-state-{}", unsafe { libc::getuid() }))
}

/// FNV-1a: stable across builds, so every bitops version agrees on the file name.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

pub fn lock_path(state: &Path, repo: &Path, environment: &str) -> PathBuf {
    let repo = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    state.join(format!(
        "{environment}-{:016x}.lock",
        fnv(&repo.to_string_lossy())
    ))
}

/// Takes the lock of `environment` of `repo`, waiting up to `wait` for it.
pub fn acquire(
    state: &Path,
    repo: &Path,
    environment: &str,
    wait: Option<Duration>,
) -> Result<Lock> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state)
        .map_err(|e| Error::io("create the state folder", state, e))?;
    let path = lock_path(state, repo, environment);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io("open the lock file", &path, e))?;
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                crate::stop::check()?;
                if deadline.is_some_and(|d| Instant::now() < d) {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let who = match serde_json::from_str::<Holder>(&text) {
                    Ok(h) => format!("pid {} on {}, since {}", h.pid, h.host, h.started_at),
                    Err(_) => "another bitops process".into(),
                };
                let waited = wait.map_or(String::new(), |w| format!(" (waited {}s)", w.as_secs()));
                return Err(Error::Locked(Box::new(
                    Problem::error(format!(
                        "environment `{environment}` of {} is being deployed by {who}{waited}",
                        repo.display()
                    ))
                    .file(&path)
                    .hint("wait for it to finish, or pass --wait-lock 10m to wait; a lock whose process died is taken over"),
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
    }
    let holder = Holder {
        pid: std::process::id(),
        host: hostname(),
        started_at: crate::report::time::now_rfc3339(),
        ops_repo: repo.to_string_lossy().into_owned(),
        environment: environment.to_string(),
    };
    let json = serde_json::to_string(&holder).unwrap_or_default();
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(json.as_bytes());
    let _ = file.flush();
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_and_names_the_holder_then_succeeds_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let state = tmp.path().join("state");
        let first = acquire(&state, &repo, "dev", None).unwrap();
        let err = acquire(&state, &repo, "dev", Some(Duration::from_millis(300))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("(waited 0s)"), "{text}");
        assert_eq!(err.exit_code(), crate::error::exit::LOCKED);
        // other environments are independent
        let _other = acquire(&state, &repo, "prod", None).unwrap();
        drop(first);
        acquire(&state, &repo, "dev", None).unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
    }
}
