//! What the agent has to tell the hub, kept on disk until the hub took it: a queue of
//! event batches and job results (`spool.jsonl` in the state folder, JSON lines, 0600),
//! sent in order by one thread that retries with exponential backoff (capped at 30 s)
//! while the hub is unreachable. A restarted agent sends what an earlier one left.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hub::api::{JobEvent, JobResult};
use crate::hub::client::CallError;

/// Longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One message to the hub, already masked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    Events { job: i64, events: Vec<JobEvent> },
    Result { job: i64, result: JobResult },
}

pub struct Spool {
    file: PathBuf,
    queue: Mutex<VecDeque<Message>>,
    changed: Condvar,
}

impl Spool {
    /// The spool at `file`, with what an earlier agent left there (lines that cannot be
    /// read are dropped).
    pub fn open(file: PathBuf) -> Spool {
        let queue: VecDeque<Message> = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Spool {
            file,
            queue: Mutex::new(queue),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Message>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `message` (on disk first).
    pub fn push(&self, message: Message) {
        let mut queue = self.lock();
        let line = serde_json::to_string(&message).unwrap_or_default() + "\n";
        let written = crate::files::open_private(&self.file, true)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(e) = written {
            super::say(&format!(
                "cannot write the spool {}: {e}; keeping it in memory",
                self.file.display()
            ));
        }
        queue.push_back(message);
        self.changed.notify_all();
    }

    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Waits until everything was sent, at most `timeout`; whether it was.
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        let queue = self.lock();
        let (queue, _) = self
            .changed
            .wait_timeout_while(queue, timeout, |q| !q.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        queue.is_empty()
    }

    fn front(&self, wait: Duration) -> Option<Message> {
        let queue = self.lock();
        let (queue, _) = self
            .changed
            .wait_timeout_while(queue, wait, |q| q.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        queue.front().cloned()
    }

    /// Drops the front message (it was sent) and rewrites the file.
    fn pop(&self) {
        let mut queue = self.lock();
        queue.pop_front();
        let text: String = queue
            .iter()
            .map(|m| serde_json::to_string(m).unwrap_or_default() + "\n")
            .collect();
        let tmp = self.file.with_extension("jsonl.tmp");
        let written = crate::files::write_private(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &self.file));
        if let Err(e) = written {
            super::say(&format!(
                "cannot rewrite the spool {}: {e}",
                self.file.display()
            ));
        }
        self.changed.notify_all();
    }
}

/// Sends the spool's messages in order with `send`, for as long as the process runs:
/// a transient failure is tried again after a backoff (from `first_backoff`, doubling,
/// at most 30 s); a message the hub refuses for good is dropped with a warning.
pub fn start_sender<F>(spool: Arc<Spool>, first_backoff: Duration, send: F)
where
    F: Fn(&Message) -> Result<(), CallError> + Send + 'static,
{
    std::thread::spawn(move || {
        let mut backoff = first_backoff;
        let mut down = false;
        loop {
            let Some(message) = spool.front(Duration::from_secs(1)) else {
                continue;
            };
            match send(&message) {
                Ok(()) => {
                    if down {
                        super::say(&format!(
                            "the hub is back: sending {} kept message(s)",
                            spool.pending()
                        ));
                        down = false;
                    }
                    backoff = first_backoff;
                    spool.pop();
                }
                Err(e) if e.transient() => {
                    if !down {
                        super::say(&format!(
                            "{e}; keeping status in the spool and trying again (up to every {}s)",
                            MAX_BACKOFF.as_secs()
                        ));
                        down = true;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    super::say(&format!("the hub refused a message for good, dropped: {e}"));
                    spool.pop();
                }
            }
        }
    });
}
