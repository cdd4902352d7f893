//! One deploy of a given environment of a given ops repo at a time.
//!
//! The lock is an OS file lock (flock) on a file in the state folder: the kernel
//! releases it when its holder exits, however it exits, so the lock of a dead process
//! is simply taken over. The file says who holds it, for the message a second run gets.
//! A file can be removed while it is locked, and a second deploy would then lock a new
//! one: so the holder also binds an abstract Unix socket named after the lock file,
//! which no file operation can undo and which the kernel frees with its holder.

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
    _guard: Guard,
}

/// The abstract socket that guards the lock at `path`: per user, state folder and
/// environment (the lock file's real path).
fn guard_name(path: &Path) -> String {
    let real = path
        .parent()
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .map(|dir| dir.join(path.file_name().unwrap_or_default()))
        .unwrap_or_else(|| path.to_path_buf());
    let uid = rustix::process::getuid().as_raw();
    format!("bitops-lock-{uid}-{:016x}", fnv(&real.to_string_lossy()))
}

/// The guard, bound; `None` where abstract sockets are not to be had (the file lock
/// alone then).
type Guard = Option<std::os::unix::net::UnixListener>;

/// Binds the guard: `Ok(None)` when another process holds it.
fn bind_guard(path: &Path) -> Result<Option<Guard>> {
    use std::os::linux::net::SocketAddrExt;
    let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(guard_name(path)) else {
        return Ok(Some(None));
    };
    match std::os::unix::net::UnixListener::bind_addr(&addr) {
        Ok(listener) => Ok(Some(Some(listener))),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => Ok(Some(None)),
        Err(e) => Err(Error::io("take the lock's guard socket for", path, e)),
    }
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
    // Per user; created 0700 and checked like any state folder.
    std::env::temp_dir().join(format!(
        "bitops-state-{}",
        rustix::process::getuid().as_raw()
    ))
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

/// Creates the state folder (0700) when missing, and refuses one that is not safe to
/// keep locks in: not a real folder, owned by another user, or writable by others
/// without the sticky bit (in a sticky folder like /tmp, others cannot replace our
/// files, and a file they planted is refused when opened).
fn ensure_state_dir(state: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::symlink_metadata(state).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state)
            .map_err(|e| Error::io("create the state folder", state, e))?;
    }
    let meta = std::fs::symlink_metadata(state)
        .map_err(|e| Error::io("read the state folder", state, e))?;
    let unsafe_dir = |why: String| {
        Error::Invalid(vec![
            Problem::error(format!("the state folder cannot hold deploy locks: {why}"))
                .file(state)
                .hint("pass --state-dir DIR (or set BITOPS_STATE_DIR) with a folder of your own, mode 0700"),
        ])
    };
    if !meta.is_dir() {
        return Err(unsafe_dir("it is not a folder (a link or a file)".into()));
    }
    let me = rustix::process::getuid().as_raw();
    let sticky = meta.mode() & 0o1000 != 0;
    if meta.uid() != me && !(sticky && meta.uid() == 0) {
        return Err(unsafe_dir(format!(
            "it belongs to user {}, not to you ({me})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 && !sticky {
        return Err(unsafe_dir(format!(
            "others may write to it (mode {:o}) and it has no sticky bit",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Opens the lock file without following a link, and makes sure it is ours: a regular
/// file of this user with one name (a hard link to another file is refused too).
fn open_lock(path: &Path) -> Result<File> {
    use std::os::unix::fs::MetadataExt;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                not_ours(path, "it is a symbolic link")
            } else {
                Error::io("open the lock file", path, e)
            }
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io("read the lock file", path, e))?;
    let me = rustix::process::getuid().as_raw();
    if !meta.is_file() {
        return Err(not_ours(path, "it is not a regular file"));
    }
    if meta.uid() != me {
        return Err(not_ours(
            path,
            &format!("it belongs to user {}", meta.uid()),
        ));
    }
    if meta.nlink() != 1 {
        return Err(not_ours(path, "it has other names (hard links)"));
    }
    Ok(file)
}

fn not_ours(path: &Path, why: &str) -> Error {
    Error::Invalid(vec![
        Problem::error(format!("refusing the lock file: {why}"))
            .file(path)
            .hint("someone else put it there; remove it, or pass --state-dir DIR with a folder of your own"),
    ])
}

/// Whether `file` is still the file at `path` (it was not replaced or unlinked).
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Takes the lock of `environment` of `repo`, waiting up to `wait` for it.
///
/// The lock's descriptor is inherited by the run's processes (it is not close-on-exec):
/// should bitops be killed outright, the lock stays held until the last process of the
/// step has ended, so no second deploy runs alongside an orphaned step.
pub fn acquire(
    state: &Path,
    repo: &Path,
    environment: &str,
    wait: Option<Duration>,
    notice: &dyn Fn(&str),
) -> Result<Lock> {
    ensure_state_dir(state)?;
    let path = lock_path(state, repo, environment);
    let started = Instant::now();
    let deadline = wait.map(|w| started + w);
    // While waiting: who holds it, once, then a line every 30 s.
    let mut next_note = started;
    let mut file = loop {
        let mut file = open_lock(&path)?;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    crate::stop::check()?;
                    if deadline.is_some_and(|d| Instant::now() < d) {
                        if Instant::now() >= next_note {
                            let text = if next_note == started {
                                format!(
                                    "waiting for the lock of `{environment}`: {}",
                                    holder_text(&mut file)
                                )
                            } else {
                                format!(
                                    "still waiting for the lock of `{environment}` ({})",
                                    crate::report::time::secs(started.elapsed().as_secs_f64())
                                )
                            };
                            notice(&text);
                            next_note = Instant::now() + Duration::from_secs(30);
                        }
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    return Err(held(&mut file, &path, repo, environment, wait));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
            }
        }
        // Locked the file we opened; if the path now names another file, that one is
        // the lock: start again.
        if still_at(&file, &path) {
            break file;
        }
    };
    // The file is ours; a holder whose file was removed still holds the guard.
    let guard = loop {
        match bind_guard(&path)? {
            Some(guard) => break guard,
            None => {
                crate::stop::check()?;
                if deadline.is_some_and(|d| Instant::now() < d) {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                let waited = wait.map_or(String::new(), |w| format!(" (waited {}s)", w.as_secs()));
                return Err(Error::Locked(Box::new(
                    Problem::error(format!(
                        "environment `{environment}` of {} is being deployed by another bitops process{waited}, whose lock file was removed or replaced while it held it",
                        repo.display()
                    ))
                    .file(&path)
                    .hint("wait for it to finish (it still holds the lock), or pass --wait-lock 10m to wait; do not remove lock files of running deploys"),
                )));
            }
        }
    };
    inheritable(&file);
    if let Some(guard) = &guard {
        inheritable(guard);
    }
    let holder = Holder {
        pid: std::process::id(),
        host: hostname(),
        started_at: crate::report::time::now_rfc3339(),
        ops_repo: repo.to_string_lossy().into_owned(),
        environment: environment.to_string(),
    };
    let json = serde_json::to_string(&holder).unwrap_or_default();
    // Written over the last holder's text, then cut to length: truncating to nothing
    // first would free the file's block once it was written back, and on a file system
    // mounted `discard` freeing a block waits for the device.
    let _ = file.rewind();
    let _ = file.write_all(json.as_bytes());
    let _ = file.set_len(json.len() as u64);
    let _ = file.flush();
    Ok(Lock {
        _file: file,
        _guard: guard,
    })
}

/// Clears close-on-exec, so that the run's processes hold the lock too.
fn inheritable(file: &impl std::os::fd::AsFd) {
    if let Ok(flags) = rustix::io::fcntl_getfd(file) {
        let _ = rustix::io::fcntl_setfd(file, flags - rustix::io::FdFlags::CLOEXEC);
    }
}

/// The error of a lock that someone else holds, naming them.
/// Who holds the lock, from what the lock file says.
fn holder_text(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    match serde_json::from_str::<Holder>(&text) {
        Ok(h) if h.host == hostname() && !Path::new(&format!("/proc/{}", h.pid)).exists() => {
            format!(
                "processes that pid {} started on {} at {} (bitops itself is gone; they still run)",
                h.pid, h.host, h.started_at
            )
        }
        Ok(h) => format!("pid {} on {}, since {}", h.pid, h.host, h.started_at),
        Err(_) => "another bitops process".into(),
    }
}

fn held(
    file: &mut File,
    path: &Path,
    repo: &Path,
    environment: &str,
    wait: Option<Duration>,
) -> Error {
    let who = holder_text(file);
    let waited = wait.map_or(String::new(), |w| format!(" (waited {}s)", w.as_secs()));
    Error::Locked(Box::new(
        Problem::error(format!(
            "environment `{environment}` of {} is being deployed by {who}{waited}",
            repo.display()
        ))
        .file(path)
        .hint("wait for it to finish, or pass --wait-lock 10m to wait; a lock whose processes all ended is taken over"),
    ))
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
        let first = acquire(&state, &repo, "dev", None, &|_| {}).unwrap();
        let err = acquire(
            &state,
            &repo,
            "dev",
            Some(Duration::from_millis(300)),
            &|_| {},
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("(waited 0s)"), "{text}");
        assert_eq!(err.exit_code(), crate::error::exit::LOCKED);
        // other environments are independent
        let _other = acquire(&state, &repo, "prod", None, &|_| {}).unwrap();
        drop(first);
        acquire(&state, &repo, "dev", None, &|_| {}).unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
    }
}
