//! The agent of pull-based delivery: on (or next to) a target, with only its own
//! secrets, it takes jobs from a hub (or follows a git branch with `--no-hub`), fetches
//! the exact commit and runs `bitops deploy` on it, sending back masked status.
//! Shared here: the agent's settings and how it writes to the console.

pub mod checkout;
pub mod deploy;
pub mod gitops;
pub mod metadata;
pub mod run;
pub mod secrets;
pub mod spool;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::agent::deploy::Engine;

/// What the command line asked for, checked.
pub struct Options {
    pub hub: Option<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The join token, read from its file or variable (never the command line).
    pub join_token: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub poll: Duration,
    pub metadata_url: String,
    /// `--no-hub`: the repo and what to follow.
    pub repo: Option<String>,
    pub follow: Follow,
    pub environment: Option<String>,
    pub once: bool,
    pub engine: Engine,
}

/// What `--no-hub` follows.
#[derive(Debug, Clone)]
pub enum Follow {
    Branch(String),
    /// The newest tag (by version order) matching a glob.
    Tag(String),
}

static DEBUG: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// A message of the agent's own, on stderr.
pub fn say(text: &str) {
    err(&format!("bitops agent: {text}\n"));
}

/// With `--log-level DEBUG` only.
pub fn debug(text: &str) {
    if DEBUG.load(Ordering::Relaxed) {
        err(&format!("bitops agent: DEBUG {text}\n"));
    }
}

pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
}

pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sleeps `total` in short slices; `false` as soon as a stop signal was caught.
pub fn nap(total: Duration) -> bool {
    let end = std::time::Instant::now() + total;
    while std::time::Instant::now() < end {
        if crate::stop::requested().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(total));
    }
    crate::stop::requested().is_none()
}
