//! No process outlives its run. bitops makes itself the reaper of orphans below it
//! (`PR_SET_CHILD_SUBREAPER`), so a process that leaves its step's process group
//! (`setsid`, `set -m`, a double fork) is still found below bitops, and stopped.

use std::time::Duration;

/// Orphans below bitops are re-parented to bitops instead of to PID 1.
pub fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// The children of `pid`, from `/proc/PID/task/*/children`.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// Every process below bitops, nearest first.
pub fn descendants() -> Vec<i32> {
    let mut found = children(std::process::id() as i32);
    let mut i = 0;
    while i < found.len() {
        for pid in children(found[i]) {
            if !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found
}

/// Running, not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn signal(pids: &[i32], sig: i32) {
    for &pid in pids {
        // SAFETY: kill only sends a signal; a gone pid fails with ESRCH.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Reaps the zombies among `pids` that are bitops' own children (orphans it adopted).
/// `except`: a child that tokio waits for itself.
pub fn reap(pids: &[i32], except: Option<i32>) {
    for &pid in pids.iter().filter(|p| Some(**p) != except) {
        let mut status = 0;
        // SAFETY: waitpid on one pid, without blocking; not our child → ECHILD.
        unsafe {
            libc::waitpid(pid, &mut status, libc::WNOHANG);
        }
    }
}

/// SIGTERM to `pids`, up to `grace` for them to end, then SIGKILL; then reaps them.
pub async fn stop(pids: &[i32], grace: Duration, except: Option<i32>) {
    if pids.is_empty() {
        return;
    }
    signal(pids, libc::SIGTERM);
    let gone = async {
        while pids.iter().any(|p| alive(*p)) {
            reap(pids, except);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(grace, gone).await.is_err() {
        signal(pids, libc::SIGKILL);
    }
    reap(pids, except);
}
