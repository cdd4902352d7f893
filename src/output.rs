//! Where bitops writes: child output to stdout, its own messages to stderr, both
//! to the log file when one is configured; every line through the masker.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::mask::Masker;

pub struct Output {
    masker: Masker,
    log: Option<Mutex<File>>,
    pub color: bool,
}

impl Output {
    pub fn new(masker: Masker, log: Option<File>, color: bool) -> Arc<Output> {
        Arc::new(Output {
            masker,
            log: log.map(Mutex::new),
            color,
        })
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    fn to_log(&self, bytes: &[u8]) {
        if let Some(log) = &self.log
            && let Ok(mut f) = log.lock()
        {
            let _ = f.write_all(bytes);
        }
    }

    /// One line of a hook's or plugin's output (without its newline).
    pub fn child_line(&self, line: &[u8]) {
        let masked = self.masker.mask(line);
        let mut buf = Vec::with_capacity(masked.len() + 1);
        buf.extend_from_slice(&masked);
        buf.push(b'\n');
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&buf);
        let _ = out.flush();
        drop(out);
        self.to_log(&buf);
    }

    /// bitops' own message; `styled` is the coloured form for a terminal.
    pub fn note(&self, plain: &str, styled: Option<&str>) {
        let plain = self.masker.mask_str(plain);
        let shown = match (self.color, styled) {
            (true, Some(s)) => self.masker.mask_str(s).into_owned(),
            _ => plain.to_string(),
        };
        let _ = writeln!(std::io::stderr().lock(), "{shown}");
        self.to_log(format!("{plain}\n").as_bytes());
    }

    /// Plain text to stdout (plan output), masked.
    pub fn print(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.masker.mask_str(text).as_bytes());
        let _ = out.flush();
    }
}

/// ANSI styling, applied only when colour is on.
pub fn paint(code: &str, text: &str) -> String {
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A writer for tracing events: masked, to stderr and the log file.
#[derive(Clone)]
pub struct LogWriter(pub Arc<Mutex<Option<Arc<Output>>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let output = self.0.lock().ok().and_then(|o| o.clone());
        match output {
            Some(out) => {
                let masked = out.masker.mask(buf);
                let _ = std::io::stderr().lock().write_all(&masked);
                out.to_log(&strip_ansi(&masked));
            }
            None => {
                let _ = std::io::stderr().lock().write_all(buf);
            }
        }
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
