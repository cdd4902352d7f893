//! SIGINT, SIGTERM and SIGHUP, caught from the first instruction of a command.

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::error::exit;

pub struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    pub async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.int.recv() => ("SIGINT", exit::INTERRUPTED_SIGINT),
            _ = self.term.recv() => ("SIGTERM", exit::INTERRUPTED_SIGTERM),
        }
    }
}
