//! The one writer of stdout and stderr during a run: a thread of its own, fed through
//! a channel, so a reader that stops reading never delays a timer, a signal or a kill.
//! A closed stdout or stderr ends that stream's output quietly.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Output waiting for the terminal past this makes producers wait (a child writing
/// faster than the terminal reads waits, as it would on a pipe) until the writer has
/// brought it back under: 8 of a step's 128 KiB reads. It bounds the memory output
/// can take (P3's peak RSS), and producers are woken as soon as there is room.
const BACKLOG_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Bytes for one stream, in the order they must appear.
type Piece = (Stream, Vec<u8>);

pub struct Terminal {
    thread: Mutex<Thread>,
    /// Bytes sent to the thread and not written yet.
    queued: Arc<AtomicUsize>,
    /// Told when `queued` falls back under `BACKLOG_LIMIT`.
    drained: Arc<tokio::sync::Notify>,
    /// Held while bytes are written, by the thread or by the fast path.
    writing: Arc<Mutex<Streams>>,
    /// `--output grouped`: each step's pieces, held until the step ends.
    held: Mutex<Option<std::collections::BTreeMap<usize, Vec<Piece>>>>,
}

/// Which streams are still open.
struct Streams {
    out: bool,
    err: bool,
}

impl Streams {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        let open = match stream {
            Stream::Out => &mut self.out,
            Stream::Err => &mut self.err,
        };
        if *open {
            let written = match stream {
                Stream::Out => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(bytes).and_then(|()| out.flush())
                }
                Stream::Err => std::io::stderr().lock().write_all(bytes),
            };
            // EPIPE and friends: nobody reads any more.
            *open = written.is_ok();
        }
    }
}

/// At most this much is written by the caller itself, when the stream can take it
/// now: a pipe with room takes up to a page without blocking.
const DIRECT_MAX: usize = 4096;

/// Whether `fd` can take a write now (poll with no wait).
fn writable(fd: std::os::fd::BorrowedFd) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    let none = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let n = rustix::event::poll(&mut fds, Some(&none)).unwrap_or(0);
    let got = fds[0].revents();
    n == 1 && got.contains(PollFlags::OUT) && !got.intersects(PollFlags::ERR | PollFlags::HUP)
}

/// The writer thread, started at the first write that cannot be made at once.
enum Thread {
    NotStarted,
    Running {
        tx: mpsc::Sender<Piece>,
        done: mpsc::Receiver<()>,
    },
    /// Finished, or could not be started: output is dropped.
    Gone,
}

impl Terminal {
    pub fn start() -> Arc<Terminal> {
        Arc::new(Terminal {
            thread: Mutex::new(Thread::NotStarted),
            queued: Arc::new(AtomicUsize::new(0)),
            drained: Arc::new(tokio::sync::Notify::new()),
            writing: Arc::new(Mutex::new(Streams {
                out: true,
                err: true,
            })),
            held: Mutex::new(None),
        })
    }

    /// From now on, what a step writes is held until `release` (each step's output
    /// shown whole, when it ends).
    pub fn hold_steps(&self) {
        if let Ok(mut held) = self.held.lock() {
            held.get_or_insert_with(Default::default);
        }
    }

    /// Writes `bytes` for the step `step` (`None`: the run's own): held when steps
    /// are held, else written now.
    pub fn write_in(&self, step: Option<usize>, stream: Stream, bytes: Vec<u8>) {
        if let Some(index) = step
            && let Ok(mut held) = self.held.lock()
            && let Some(map) = held.as_mut()
        {
            map.entry(index).or_default().push((stream, bytes));
            return;
        }
        self.write(stream, bytes);
    }

    /// Writes what the step `index` wrote while held.
    pub fn release(&self, index: usize) {
        let pieces = match self.held.lock() {
            Ok(mut held) => held.as_mut().and_then(|m| m.remove(&index)),
            Err(_) => None,
        };
        for (stream, bytes) in pieces.into_iter().flatten() {
            self.write(stream, bytes);
        }
    }

    fn spawn(&self) -> Thread {
        let (tx, rx) = mpsc::channel::<Piece>();
        let (done_tx, done) = mpsc::channel();
        let counter = self.queued.clone();
        let drained = self.drained.clone();
        let streams = self.writing.clone();
        let spawned = std::thread::Builder::new()
            .name("bitops-terminal".into())
            .spawn(move || {
                for (stream, bytes) in rx {
                    if let Ok(mut s) = streams.lock() {
                        s.write(stream, &bytes);
                        // Counted down while held, so the fast path sees a true zero.
                        let before = counter.fetch_sub(bytes.len(), Ordering::SeqCst);
                        if before > BACKLOG_LIMIT && before - bytes.len() <= BACKLOG_LIMIT {
                            drained.notify_waiters();
                        }
                    }
                }
                let _ = done_tx.send(());
            });
        match spawned {
            Ok(_) => Thread::Running { tx, done },
            Err(_) => Thread::Gone,
        }
    }

    pub fn write(&self, stream: Stream, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        // Fast path, without the thread: nothing is waiting to be written before these
        // bytes, they are few, and the stream can take them now.
        if bytes.len() <= DIRECT_MAX
            && let Ok(mut s) = self.writing.try_lock()
            && self.queued.load(Ordering::SeqCst) == 0
            && match stream {
                Stream::Out => writable(std::io::stdout().as_fd()),
                Stream::Err => writable(std::io::stderr().as_fd()),
            }
        {
            s.write(stream, &bytes);
            return;
        }
        let Ok(mut thread) = self.thread.lock() else {
            return;
        };
        if let Thread::NotStarted = *thread {
            *thread = self.spawn();
        }
        if let Thread::Running { tx, .. } = &*thread {
            let len = bytes.len();
            self.queued.fetch_add(len, Ordering::SeqCst);
            if tx.send((stream, bytes)).is_err() {
                self.queued.fetch_sub(len, Ordering::SeqCst);
            }
        }
    }

    /// Whether producers should wait for the terminal to catch up.
    pub fn backlogged(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > BACKLOG_LIMIT
    }

    /// Waits while the terminal is behind: woken when the writer brings the backlog
    /// under the limit (and every 50 ms regardless, should a wake-up be missed).
    pub async fn room(&self) {
        while self.backlogged() {
            let notified = self.drained.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a drain between the two is not missed.
            notified.as_mut().enable();
            if !self.backlogged() {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Ends the output and waits for it to be written, at most `wait` when given.
    /// Anything still held (a step that never ended) is written first.
    pub fn finish(&self, wait: Option<Duration>) {
        let left: Vec<usize> = match self.held.lock() {
            Ok(held) => held
                .as_ref()
                .map(|m| m.keys().copied().collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for index in left {
            self.release(index);
        }
        let thread = match self.thread.lock() {
            Ok(mut t) => std::mem::replace(&mut *t, Thread::Gone),
            Err(_) => return,
        };
        if let Thread::Running { tx, done } = thread {
            drop(tx);
            let _ = match wait {
                Some(w) => done.recv_timeout(w).map_err(|_| ()),
                None => done.recv().map_err(|_| ()),
            };
        }
    }
}
