//! SIGINT, SIGTERM and SIGHUP, caught from the first instruction of `deploy` and
//! `install`: once installed, no signal ends bitops abruptly; every phase checks
//! `crate::stop` and winds down (the step's processes stopped, the workspace and any
//! partial install removed, the lock released, the report written).

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::error::Signal;
use crate::stop;

/// Installs the handlers (once per process).
pub fn install() -> crate::error::Result<()> {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let done = INSTALLED.get_or_init(|| {
        for sig in Signal::ALL {
            let number = sig.number();
            // SAFETY: the action only updates atomics, which is async-signal-safe.
            unsafe { signal_hook::low_level::register(number, move || stop::record(number)) }
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    done.clone().map_err(|e| {
        crate::error::Error::io(
            "install signal handlers for",
            std::path::Path::new("bitops"),
            std::io::Error::other(e),
        )
    })
}

/// Signals as a run sees them: each `next` returns at the next signal not yet seen.
pub struct Signals {
    seen: usize,
    /// tokio's streams only wake a waiting task up; the record in `stop` is the truth
    /// (it also holds signals caught before any stream existed). Made on first use.
    streams: Option<Vec<tokio::signal::unix::Signal>>,
}

impl Signals {
    /// Installs the handlers; signals caught before this call count as unseen.
    pub fn install() -> crate::error::Result<Signals> {
        install()?;
        Ok(Signals {
            seen: 0,
            streams: None,
        })
    }

    /// Waits for a signal this value has not returned yet.
    pub async fn next(&mut self) -> Signal {
        let streams = self.streams.get_or_insert_with(|| {
            [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
            ]
            .into_iter()
            .filter_map(|kind| signal(kind).ok())
            .collect()
        });
        loop {
            let count = stop::count();
            if count > self.seen {
                self.seen = count;
                return stop::requested().unwrap_or(Signal::Terminate);
            }
            let woken = async {
                match streams.as_mut_slice() {
                    [a, b, c] => {
                        tokio::select! {
                            _ = a.recv() => {}
                            _ = b.recv() => {}
                            _ = c.recv() => {}
                        }
                    }
                    _ => std::future::pending().await,
                }
            };
            // Polling as well covers a signal caught between the check and the wait.
            let _ = tokio::time::timeout(Duration::from_millis(250), woken).await;
        }
    }
}
