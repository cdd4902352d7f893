//! The sink: where a run's events go. It masks every event on its values, before any
//! reporter escapes them into text, JSON or XML, and hands it to each reporter in
//! order. Each running step sees it as a `StepOut`, which keeps the last lines of the
//! step's output for the reports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::report::event::{Event, Reporter, Tag, Tone};
use crate::report::mask::{MaskStream, Masker, masked};
use crate::report::terminal::Terminal;

/// Lines of output kept per step for reports.
pub const TAIL_LINES: usize = 40;
/// Bytes of a line kept for reports.
const LINE_KEPT: usize = 1024;

pub struct Sink {
    masker: RwLock<Arc<Masker>>,
    reporters: Mutex<Vec<Box<dyn Reporter>>>,
    terminal: Option<Arc<Terminal>>,
    /// Whether a stop signal was announced: once is enough, however many steps see it.
    interrupted: AtomicBool,
}

impl Sink {
    pub fn new(
        masker: Masker,
        terminal: Option<Arc<Terminal>>,
        reporters: Vec<Box<dyn Reporter>>,
    ) -> Arc<Sink> {
        Arc::new(Sink {
            masker: RwLock::new(Arc::new(masker)),
            reporters: Mutex::new(reporters),
            terminal,
            interrupted: AtomicBool::new(false),
        })
    }

    pub fn masker(&self) -> Arc<Masker> {
        self.masker
            .read()
            .map(|m| m.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Masks `values` from now on (secrets found as the run goes on).
    pub fn add_secrets(&self, values: &[String]) {
        if let Ok(mut m) = self.masker.write()
            && let Some(extended) = m.extended(values)
        {
            *m = Arc::new(extended);
        }
    }

    fn dispatch(&self, event: &Event, step: Option<&Tag>) {
        let Ok(mut reporters) = self.reporters.lock() else {
            return;
        };
        if event.closes() {
            reporters.iter_mut().rev().for_each(|r| r.on(event, step));
        } else {
            reporters.iter_mut().for_each(|r| r.on(event, step));
        }
        // A step's output held back (`--output grouped`) is shown once it ended.
        if let (Event::StepFinished { step, .. }, Some(t)) = (event, &self.terminal) {
            t.release(step.index);
        }
    }

    /// Masks the event's values and hands it to every reporter.
    pub fn emit(&self, event: Event) {
        self.emit_in(None, event);
    }

    /// `emit`, for an event of the step `step`.
    pub fn emit_in(&self, step: Option<&Tag>, event: Event) {
        let m = self.masker();
        match event {
            Event::Notice { tone, text } => self.dispatch(
                &Event::Notice {
                    tone,
                    text: &m.mask_str(text),
                },
                step,
            ),
            Event::Problem(p) => self.dispatch(&Event::Problem(&masked(p, &m)), step),
            Event::PartStarted { label, command } => self.dispatch(
                &Event::PartStarted {
                    label,
                    command: &masked(&command.to_vec(), &m),
                },
                step,
            ),
            Event::PartSkipped { label, reason } => self.dispatch(
                &Event::PartSkipped {
                    label,
                    reason: &m.mask_str(reason),
                },
                step,
            ),
            // Steps' output comes through `StepOut::output`; anything else, line by line.
            Event::Output(chunk) => self.dispatch(&Event::Output(&m.mask_lines(chunk)), step),
            Event::Diagnostic(bytes) => self.dispatch(&Event::Diagnostic(&m.mask(bytes)), step),
            Event::PartFinished(part) => {
                self.dispatch(&Event::PartFinished(&masked(part, &m)), step)
            }
            Event::StepFinished { step: s, total } => self.dispatch(
                &Event::StepFinished {
                    step: &masked(s, &m),
                    total,
                },
                step,
            ),
            Event::RunFinished(report) => {
                self.dispatch(&Event::RunFinished(&masked(report, &m)), step)
            }
            Event::Interrupted { .. } => {
                if !self.interrupted.swap(true, Ordering::SeqCst) {
                    self.dispatch(&event, None);
                }
            }
            Event::RunStarted { .. } | Event::StepStarted { .. } => self.dispatch(&event, step),
        }
    }

    pub fn notice(&self, tone: Tone, text: &str) {
        self.emit(Event::Notice { tone, text });
    }

    /// Whether the terminal is behind: producers of output should wait.
    pub fn backlogged(&self) -> bool {
        self.terminal.as_ref().is_some_and(|t| t.backlogged())
    }

    /// Waits while the terminal is behind.
    pub async fn room(&self) {
        if let Some(t) = &self.terminal {
            t.room().await;
        }
    }

    /// Ends the output: waits for the terminal to write what it holds (at most `wait`).
    pub fn finish(&self, wait: Option<Duration>) {
        if let Ok(mut reporters) = self.reporters.lock() {
            reporters.clear(); // closes the log file
        }
        if let Some(t) = &self.terminal {
            t.finish(wait);
        }
    }
}

/// The sink as one running step (or install script) sees it: its events carry its
/// tag; it keeps the last lines of its output for the reports, and when it last showed
/// something (for its heartbeat).
pub struct StepOut {
    sink: Arc<Sink>,
    /// `None` for the run's own processes (an install script).
    pub tag: Option<Tag>,
    /// The last `TAIL_LINES` lines of output, masked, as bytes (turned into text once,
    /// when a report asks).
    tail: Mutex<Vec<u8>>,
    masking: MaskStream,
    /// When output or a heartbeat of this step was last shown.
    last_shown: Mutex<std::time::Instant>,
}

impl StepOut {
    pub fn new(sink: &Arc<Sink>, tag: Option<Tag>) -> Arc<StepOut> {
        Arc::new(StepOut {
            sink: sink.clone(),
            tag,
            tail: Mutex::new(Vec::new()),
            masking: MaskStream::default(),
            last_shown: Mutex::new(std::time::Instant::now()),
        })
    }

    pub fn sink(&self) -> &Arc<Sink> {
        &self.sink
    }

    pub fn masker(&self) -> Arc<Masker> {
        self.sink.masker()
    }

    pub fn emit(&self, event: Event) {
        self.sink.emit_in(self.tag.as_ref(), event);
    }

    pub fn notice(&self, tone: Tone, text: &str) {
        self.emit(Event::Notice { tone, text });
    }

    /// How long this step showed nothing (no output, no heartbeat).
    pub fn quiet_for(&self) -> Duration {
        self.last_shown
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    /// Something was shown now.
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_shown.lock() {
            *t = std::time::Instant::now();
        }
    }

    /// Complete lines of a hook's or plugin's output (each ending in a newline).
    pub fn output(&self, chunk: &[u8]) {
        self.touch();
        let masked = self.masking.mask(&self.masker(), chunk);
        self.keep_tail(&masked);
        self.sink
            .dispatch(&Event::Output(&masked), self.tag.as_ref());
    }

    /// The last lines of this step's output, masked.
    pub fn take_tail(&self) -> Vec<String> {
        let Ok(mut tail) = self.tail.lock() else {
            return Vec::new();
        };
        let bytes = std::mem::take(&mut *tail);
        if bytes.is_empty() {
            return Vec::new();
        }
        bytes
            .strip_suffix(b"\n")
            .unwrap_or(&bytes)
            .split(|&b| b == b'\n')
            .map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                // A report keeps at most 1 KiB of a line.
                String::from_utf8_lossy(&line[..line.len().min(LINE_KEPT)]).into_owned()
            })
            .collect()
    }

    /// Keeps the last lines of `masked` (complete lines) with those kept before.
    fn keep_tail(&self, masked: &[u8]) {
        let Ok(mut tail) = self.tail.lock() else {
            return;
        };
        tail.extend_from_slice(tail_of(masked));
        let drop = tail.len() - tail_of(&tail).len();
        tail.drain(..drop);
        if tail.len() > 2 * TAIL_LINES * LINE_KEPT {
            // Long lines: only their first KiB is ever shown.
            let capped: Vec<u8> = tail
                .split_inclusive(|&b| b == b'\n')
                .flat_map(|line| {
                    let body = line.strip_suffix(b"\n").unwrap_or(line);
                    let newline = &line[body.len()..];
                    body[..body.len().min(LINE_KEPT)].iter().chain(newline)
                })
                .copied()
                .collect();
            *tail = capped;
        }
    }

    /// Whether the terminal is behind: producers of output should wait.
    pub fn backlogged(&self) -> bool {
        self.sink.backlogged()
    }

    /// Waits while the terminal is behind.
    pub async fn room(&self) {
        self.sink.room().await;
    }
}

/// The last `TAIL_LINES` complete lines of a chunk.
fn tail_of(chunk: &[u8]) -> &[u8] {
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    let start = body
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(TAIL_LINES - 1)
        .map_or(0, |(i, _)| i + 1);
    &chunk[start..]
}

/// A writer for `tracing`: bitops' own diagnostics, masked, to the console and log.
#[derive(Clone)]
pub struct DiagnosticWriter(pub Arc<Sink>);

impl std::io::Write for DiagnosticWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.emit(Event::Diagnostic(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for DiagnosticWriter {
    type Writer = DiagnosticWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
