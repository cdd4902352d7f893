//! One child process: its own process group, output streamed line by line through
//! the masker as it is produced, a timeout, and SIGINT/SIGTERM handling
//! (TERM to the group, a grace period, then KILL).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncReadExt;

use crate::error::Signal;
use crate::report::lines::Lines;
use crate::report::sink::StepOut;
use crate::run::signals::Signals;
use crate::run::spawn::{self, Child, Env, Spawned};

/// How long to wait for a child's pipes to close after it exits; a background
/// grandchild may hold them open for ever.
const PIPE_DRAIN: Duration = Duration::from_millis(500);

/// A process described as plain data.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Bytes as they are: a hook whose name is not UTF-8 runs under its real name.
    pub argv: Vec<OsString>,
    pub cwd: PathBuf,
    /// The complete environment of the child.
    /// Shared: the parts of a step run with the same environment.
    pub env: Arc<Env>,
    pub timeout: Option<Duration>,
    pub grace: Duration,
    /// After this long without output, say the process is still running (again after
    /// each such stretch); `None`: never.
    pub heartbeat: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Exited {
        code: i32,
    },
    TimedOut,
    Interrupted {
        signal: Signal,
    },
    /// Stopped because another step failed (`Cancel`).
    Cancelled,
    SpawnFailed {
        error: String,
    },
}

/// Set when the run stops its running steps because one failed (fail_fast with steps
/// running at the same time): each stops as on a signal, TERM and the grace period.
pub type Cancel = tokio::sync::watch::Receiver<bool>;

/// Waits until `cancel` is set; never, without one (or once nobody can set it).
async fn cancelled(cancel: Option<Cancel>) {
    if let Some(mut c) = cancel
        && c.wait_for(|set| *set).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

fn kill_group(pgid: i32, sig: i32) {
    // A stale group id fails with ESRCH: nothing to do.
    if let (Some(group), Some(signal)) = (
        rustix::process::Pid::from_raw(pgid),
        rustix::process::Signal::from_named_raw(sig),
    ) {
        let _ = rustix::process::kill_process_group(group, signal);
    }
}

/// Whether any process of the group is still running. Zombies do not count: an
/// orphaned child waits for PID 1 to reap it, and in a container nobody may.
fn group_alive(pgid: i32) -> bool {
    let members = rustix::process::Pid::from_raw(pgid)
        .is_some_and(|group| rustix::process::test_kill_process_group(group).is_ok());
    if !members {
        return false; // the usual case: the group is gone, no /proc scan needed
    }
    match std::fs::read_dir("/proc") {
        Ok(entries) => entries.filter_map(Result::ok).any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
            fields.get(2) == Some(&pgid.to_string().as_str()) && fields.first() != Some(&"Z")
        }),
        Err(_) => true,
    }
}

/// Stops a whole process group and every other process below bitops (those that left
/// the group): TERM, up to `grace` for them to go, then KILL. The group's leader, when
/// still ours to wait for, is reaped meanwhile: an unreaped leader would keep the group
/// alive as a zombie.
pub async fn stop_group(pgid: i32, grace: Duration, leader: Option<&mut Child>) {
    let leader_pid = leader.as_ref().and_then(|c| c.id()).map(|p| p as i32);
    kill_group(pgid, libc::SIGTERM);
    let strays: Vec<i32> = crate::run::reaper::descendants()
        .into_iter()
        .filter(|p| Some(*p) != leader_pid)
        .collect();
    let started = tokio::time::Instant::now();
    let group = async {
        if let Some(child) = leader {
            let _ = child.wait().await;
        }
        while group_alive(pgid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(grace, group).await.is_err() {
        kill_group(pgid, libc::SIGKILL);
    }
    let left = grace.saturating_sub(started.elapsed());
    crate::run::reaper::stop(&strays, left, leader_pid).await;
}

/// The program's path on the child's `PATH`, looked up once per run (like a shell's
/// hash table) instead of by trying every `PATH` entry on every spawn.
fn resolve_program(program: &std::ffi::OsStr, env: &Env) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<(OsString, OsString), PathBuf>>> = OnceLock::new();
    if std::os::unix::ffi::OsStrExt::as_bytes(program).contains(&b'/') {
        return PathBuf::from(program);
    }
    let path = env.get("PATH").map(OsString::from).unwrap_or_default();
    let key = (program.to_owned(), path.clone());
    let cache = FOUND.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return found;
    }
    match crate::plan::preflight::find(program, Some(&path)) {
        Some(found) => {
            if let Ok(mut c) = cache.lock() {
                c.insert(key, found.clone());
            }
            found
        }
        // Not found: let the spawn fail with the usual message.
        None => PathBuf::from(program),
    }
}

/// Runs the process to the end. Returns the outcome and, when processes of its group
/// outlived it (background jobs), the group id so the run can stop them at its end.
pub async fn run(
    spec: &Spec,
    sink: &Arc<StepOut>,
    signals: &mut Signals,
    cancel: Option<Cancel>,
) -> (Outcome, Option<i32>) {
    let Some((program, args)) = spec.argv.split_first() else {
        return (
            Outcome::SpawnFailed {
                error: "empty command".into(),
            },
            None,
        );
    };
    // `bash` as the plan shows it; the path it resolved to only in DEBUG.
    let resolved = resolve_program(program, &spec.env);
    let words: Vec<String> = std::iter::once(resolved.to_string_lossy().into_owned())
        .chain(args.iter().map(|w| w.to_string_lossy().into_owned()))
        .collect();
    tracing::debug!(
        "spawn {} in {}",
        crate::plugin::schema::shell_join(&words),
        spec.cwd.display()
    );
    let Spawned {
        mut child,
        stdout,
        stderr,
    } = match spawn::spawn(&resolved, args, &spec.cwd, &spec.env) {
        Ok(spawned) => spawned,
        Err(e) => {
            return (
                Outcome::SpawnFailed {
                    error: spawn_error(program.as_ref(), &e),
                },
                None,
            );
        }
    };
    let pgid = child.id().map_or(0, |id| id as i32);
    let readers = [
        tokio::spawn(pump(stdout, sink.clone())),
        tokio::spawn(pump(stderr, sink.clone())),
    ];
    let timeout = async {
        match spec.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let started = tokio::time::Instant::now();
    sink.touch();
    let heartbeat = async {
        let Some(every) = spec.heartbeat else {
            return std::future::pending().await;
        };
        loop {
            let quiet = sink.quiet_for();
            if quiet >= every {
                sink.notice(
                    crate::report::event::Tone::Dim,
                    &format!(
                        "  … still running ({})",
                        crate::report::time::secs(started.elapsed().as_secs_f64())
                    ),
                );
                sink.touch();
                tokio::time::sleep(every).await;
            } else {
                tokio::time::sleep(every - quiet).await;
            }
        }
    };
    let outcome = tokio::select! {
        status = child.wait() => exited(status),
        // The heartbeat never ends; were it to, the process is simply waited for.
        () = heartbeat => exited(child.wait().await),
        _ = timeout => {
            stop_or_kill(pgid, spec.grace, &mut child, signals).await;
            Outcome::TimedOut
        }
        () = cancelled(cancel) => {
            stop_or_kill(pgid, spec.grace, &mut child, signals).await;
            Outcome::Cancelled
        }
        signal = signals.next() => {
            sink.sink().emit(crate::report::event::Event::Interrupted {
                signal,
                grace_secs: spec.grace.as_secs(),
            });
            stop_or_kill(pgid, spec.grace, &mut child, signals).await;
            Outcome::Interrupted { signal }
        }
    };
    // The output still in the pipes, for as long as the process's own writes keep
    // coming or the terminal is catching up (not after a timeout or a signal).
    let exited = matches!(outcome, Outcome::Exited { .. });
    for mut reader in readers {
        loop {
            match tokio::time::timeout(PIPE_DRAIN, &mut reader).await {
                Ok(_) => break,
                Err(_) if exited && sink.backlogged() => continue,
                Err(_) => {
                    reader.abort();
                    break;
                }
            }
        }
    }
    (outcome, group_alive(pgid).then_some(pgid))
}

/// TERM the group and wait for the grace period; a second signal kills at once.
async fn stop_or_kill(pgid: i32, grace: Duration, child: &mut Child, signals: &mut Signals) {
    tokio::select! {
        _ = stop_group(pgid, grace, Some(&mut *child)) => {}
        _ = signals.next() => kill_group(pgid, libc::SIGKILL),
    }
    let _ = child.wait().await;
}

fn exited(status: std::io::Result<std::process::ExitStatus>) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => Outcome::Exited {
            code: s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        },
        Err(e) => Outcome::SpawnFailed {
            error: format!("cannot wait for the process: {e}"),
        },
    }
}

/// Reads a pipe and writes the complete lines of each read as soon as it arrives.
async fn pump<R: tokio::io::AsyncRead + Unpin>(mut pipe: R, sink: Arc<StepOut>) {
    // 128 KiB a read, though the pipe holds more (`spawn.rs`, `PIPE_BYTES`): against
    // 64 KiB, half the hand-overs between threads per byte (the mask helper's half, the
    // terminal's piece), and P3 dense went from 338 to 421-446 MB/s; 256 KiB gave 463-498
    // but a peak RSS of 15.5-15.9 MB, too near P3's 16 MB (BENCHMARKS.md, round 5).
    // `read_buf` fills spare capacity, so nothing is zeroed first.
    let mut buf: Vec<u8> = Vec::with_capacity(128 * 1024);
    let mut lines = Lines::default();
    loop {
        // A terminal that is not keeping up holds the child back, as a full pipe would;
        // timers and signals run meanwhile.
        sink.room().await;
        buf.clear();
        match pipe.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        lines.push(&buf, &sink.masker(), &mut |chunk| sink.output(chunk));
    }
    lines.finish(&mut |chunk| sink.output(chunk));
}

/// Why a program could not start, in words: a script whose `#!` interpreter is missing
/// says which one (the system only says "No such file or directory").
fn spawn_error(program: &std::path::Path, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound && program.is_file() {
        let first = std::fs::read(program)
            .ok()
            .and_then(|b| b.split(|&c| c == b'\n').next().map(<[u8]>::to_vec))
            .unwrap_or_default();
        if let Some(line) = String::from_utf8_lossy(&first).strip_prefix("#!") {
            let interpreter = line.split_whitespace().next().unwrap_or("");
            return format!(
                "cannot start `{}`: its interpreter `{interpreter}` (from its #! line) is not installed",
                program.display()
            );
        }
    }
    format!("cannot start `{}`: {e}", program.display())
}
