//! Where bitops writes. Child output goes to stdout, bitops' own messages to stderr
//! (to stdout too under CI, so that groups and output stay in order), both to the log
//! file when one is configured; every line goes through the masker first.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::report::mask::Masker;

/// Lines of output kept per step for reports.
pub const TAIL_LINES: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// CI systems whose log viewers get groups, annotations and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    /// GitHub Actions when GITHUB_ACTIONS=true, GitLab CI when GITLAB_CI=true, else none
    Auto,
    Github,
    Gitlab,
    None,
}

/// How a message of bitops' own is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// The command a step runs.
    Dim,
    /// A step header.
    Step,
    Good,
    Warn,
    Bad,
}

impl Tone {
    fn ansi(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Dim => Some("2"),
            Tone::Step => Some("1;36"),
            Tone::Good => Some("32"),
            Tone::Warn => Some("33"),
            Tone::Bad => Some("31"),
        }
    }

    fn level(self) -> &'static str {
        match self {
            Tone::Warn => "warning",
            Tone::Bad => "error",
            _ => "info",
        }
    }
}

pub struct Output {
    masker: Masker,
    log: Option<Mutex<File>>,
    color: bool,
    format: LogFormat,
    ci: Ci,
    /// The deployment whose output is flowing, for JSON lines.
    step: Mutex<Option<String>>,
    tail: Mutex<VecDeque<String>>,
    /// Whether the last chunk of output needed masking.
    masking: std::sync::atomic::AtomicBool,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    level: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<&'a str>,
    stream: &'a str,
    message: &'a str,
}

impl Output {
    pub fn new(masker: Masker, log: Option<File>, color: bool) -> Output {
        Output {
            masker,
            log: log.map(Mutex::new),
            color,
            format: LogFormat::Text,
            ci: Ci::None,
            step: Mutex::new(None),
            tail: Mutex::new(VecDeque::new()),
            masking: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn with_format(mut self, format: LogFormat, ci: Ci) -> Output {
        self.format = format;
        self.ci = ci;
        self
    }

    pub fn shared(self) -> Arc<Output> {
        Arc::new(self)
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    pub fn ci(&self) -> Ci {
        self.ci
    }

    fn to_log(&self, bytes: &[u8]) {
        if let Some(log) = &self.log
            && let Ok(mut f) = log.lock()
        {
            let _ = f.write_all(bytes);
        }
    }

    fn json(&self, level: &str, stream: &str, message: &str) -> String {
        let step = self.step.lock().ok().and_then(|s| s.clone());
        let line = JsonLine {
            time: crate::report::now_rfc3339(),
            level,
            step: step.as_deref(),
            stream,
            message,
        };
        serde_json::to_string(&line).unwrap_or_default() + "\n"
    }

    /// Starts or ends a step: JSON lines name it, and its output tail starts afresh.
    pub fn set_step(&self, alias: Option<&str>) {
        if let Ok(mut s) = self.step.lock() {
            *s = alias.map(String::from);
        }
        if let Ok(mut t) = self.tail.lock() {
            t.clear();
        }
    }

    /// The last lines of output of the current step, masked.
    pub fn take_tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default()
    }

    /// Complete lines of a hook's or plugin's output (each ending in a newline),
    /// masked and written with one call, and kept in the step's tail.
    pub fn child_lines(&self, chunk: &[u8]) {
        // While chunks keep needing masks, skip the whole-chunk pre-check.
        let check = !self.masking.load(std::sync::atomic::Ordering::Relaxed);
        let masked: std::borrow::Cow<[u8]> = match self.format {
            LogFormat::Text => {
                let m = self.masker.mask_lines_checked(chunk, check);
                let changed = matches!(m, std::borrow::Cow::Owned(_));
                self.masking
                    .store(changed, std::sync::atomic::Ordering::Relaxed);
                m
            }
            LogFormat::Json => {
                let mut buf = Vec::with_capacity(chunk.len() * 2);
                for line in self.masker.mask_lines(chunk).split(|&b| b == b'\n') {
                    if let Some(body) = Some(line).filter(|l| !l.is_empty()) {
                        let body = String::from_utf8_lossy(body);
                        let body = body.strip_suffix('\r').unwrap_or(&body);
                        buf.extend_from_slice(self.json("info", "output", body).as_bytes());
                    }
                }
                std::borrow::Cow::Owned(buf)
            }
        };
        match self.format {
            LogFormat::Text => self.keep_tail(tail_of(&masked)),
            LogFormat::Json => self.keep_tail(&self.masker.mask_lines(tail_of(chunk))),
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&masked);
        let _ = out.flush();
        drop(out);
        self.to_log(&masked);
    }

    /// Keeps the last lines of an already masked chunk for the report.
    fn keep_tail(&self, masked: &[u8]) {
        let Ok(mut tail) = self.tail.lock() else {
            return;
        };
        let lines: Vec<&[u8]> = masked
            .strip_suffix(b"\n")
            .unwrap_or(masked)
            .rsplit(|&b| b == b'\n')
            .take(TAIL_LINES)
            .collect();
        for line in lines.into_iter().rev() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // A report keeps at most 1 KiB of a line.
            tail.push_back(String::from_utf8_lossy(&line[..line.len().min(1024)]).into_owned());
        }
    }

    /// A message of bitops' own.
    pub fn say(&self, tone: Tone, text: &str) {
        let plain = self.masker.mask_str(text);
        let shown = match self.format {
            LogFormat::Json => self.json(tone.level(), "bitops", &plain),
            LogFormat::Text => match tone.ansi().filter(|_| self.color) {
                Some(code) => format!("{}\n", paint(code, &plain)),
                None => format!("{plain}\n"),
            },
        };
        self.narrate(shown.as_bytes());
        match self.format {
            LogFormat::Json => self.to_log(shown.as_bytes()),
            LogFormat::Text => self.to_log(format!("{plain}\n").as_bytes()),
        }
    }

    /// Narration goes to stderr, or to stdout under CI so that it interleaves with
    /// child output in order.
    fn narrate(&self, bytes: &[u8]) {
        if self.ci == Ci::None {
            let _ = std::io::stderr().lock().write_all(bytes);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
    }

    /// A CI control line (group markers, annotations), masked, never coloured.
    pub fn control(&self, text: &str) {
        let line = format!("{}\n", self.masker.mask_str(text));
        self.narrate(line.as_bytes());
    }

    /// Plain text to stdout (plan output), masked.
    pub fn print(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.masker.mask_str(text).as_bytes());
        let _ = out.flush();
    }
}

/// The last `TAIL_LINES` complete lines of a chunk (for the report's tail).
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

/// ANSI styling.
pub fn paint(code: &str, text: &str) -> String {
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A writer for tracing events: masked, to stderr and the log file.
#[derive(Clone)]
pub struct LogWriter(pub Arc<Output>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let masked = self.0.masker.mask(buf);
        self.0.narrate(&masked);
        self.0.to_log(&strip_ansi(&masked));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < bytes.len() && !(bytes[i] as char).is_ascii_alphabetic() {
                i += 1;
            }
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
