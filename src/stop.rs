//! Whether a stop signal (SIGINT, SIGTERM, SIGHUP) has been caught: a process-wide
//! record that `run::signals` writes from its handlers and that long synchronous work
//! (staging, copying, waiting for the lock) checks between steps of its own.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::error::{Error, Signal};

static CAUGHT: AtomicUsize = AtomicUsize::new(0);
static FIRST: AtomicI32 = AtomicI32::new(0);

/// Records a caught signal. Async-signal-safe: atomics only.
pub fn record(number: i32) {
    let _ = FIRST.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
    CAUGHT.fetch_add(1, Ordering::SeqCst);
}

/// How many stop signals have been caught so far.
pub fn count() -> usize {
    CAUGHT.load(Ordering::SeqCst)
}

/// The first stop signal caught, if any.
pub fn requested() -> Option<Signal> {
    Signal::from_number(FIRST.load(Ordering::SeqCst))
}

/// `Err(Interrupted)` once a stop signal has been caught: for `?` in long loops.
pub fn check() -> Result<(), Error> {
    match requested() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}
