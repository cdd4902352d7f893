//! The one writer of stdout and stderr during a run: a thread of its own, fed through
//! a channel, so a reader that stops reading never delays a timer, a signal or a kill.
//! A closed stdout or stderr ends that stream's output quietly.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Output waiting for the terminal past this makes producers wait (a child writing
/// faster than the terminal reads waits, as it would on a pipe).
const BACKLOG_LIMIT: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Bytes for one stream, in the order they must appear.
type Piece = (Stream, Vec<u8>);

pub struct Terminal {
    tx: Mutex<Option<mpsc::Sender<Piece>>>,
    queued: Arc<AtomicUsize>,
    done: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Terminal {
    pub fn start() -> Arc<Terminal> {
        let (tx, rx) = mpsc::channel::<Piece>();
        let (done_tx, done_rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let counter = queued.clone();
        let spawned = std::thread::Builder::new()
            .name("bitops-terminal".into())
            .spawn(move || {
                let (mut out_open, mut err_open) = (true, true);
                for (stream, bytes) in rx {
                    let open = match stream {
                        Stream::Out => &mut out_open,
                        Stream::Err => &mut err_open,
                    };
                    if *open {
                        let written = match stream {
                            Stream::Out => {
                                let mut out = std::io::stdout().lock();
                                out.write_all(&bytes).and_then(|()| out.flush())
                            }
                            Stream::Err => std::io::stderr().lock().write_all(&bytes),
                        };
                        // EPIPE and friends: nobody reads any more.
                        *open = written.is_ok();
                    }
                    counter.fetch_sub(bytes.len(), Ordering::SeqCst);
                }
                let _ = done_tx.send(());
            });
        let terminal = Terminal {
            tx: Mutex::new(Some(tx)),
            queued,
            done: Mutex::new(Some(done_rx)),
        };
        if spawned.is_err() {
            // No thread: nothing can be shown, but the run goes on.
            if let Ok(mut tx) = terminal.tx.lock() {
                *tx = None;
            }
        }
        Arc::new(terminal)
    }

    pub fn write(&self, stream: Stream, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            self.queued.fetch_add(bytes.len(), Ordering::SeqCst);
            let len = bytes.len();
            if tx.send((stream, bytes)).is_err() {
                self.queued.fetch_sub(len, Ordering::SeqCst);
            }
        }
    }

    /// Whether producers should wait for the terminal to catch up.
    pub fn backlogged(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > BACKLOG_LIMIT
    }

    /// Ends the output and waits for it to be written, at most `wait` when given.
    pub fn finish(&self, wait: Option<Duration>) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let Some(done) = self.done.lock().ok().and_then(|mut d| d.take()) else {
            return;
        };
        let _ = match wait {
            Some(w) => done.recv_timeout(w).map_err(|_| ()),
            None => done.recv().map_err(|_| ()),
        };
    }
}
