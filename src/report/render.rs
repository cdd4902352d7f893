//! How events look as lines: plain text (with colours on a terminal) or JSON lines.
//! The console and the log file share these, so both say the same thing.

use serde::Serialize;

use crate::config::settings::LogLevel;
use crate::plugin::schema::shell_join;
use crate::report::event::{Event, Tag, Tone};
use crate::report::model::Status;
use crate::report::summary::summary;
use crate::report::terminal::Stream;
use crate::report::time::{now_rfc3339, secs};

/// Where rendered pieces go: a stream and its bytes.
pub type Emit<'a> = dyn FnMut(Stream, &[u8]) + 'a;

pub trait Render: Send {
    /// Renders `event` of the step `step` (`None`: the run's own).
    fn render(&mut self, event: &Event, step: Option<&Tag>, emit: &mut Emit);
}

impl Render for Box<dyn Render> {
    fn render(&mut self, event: &Event, step: Option<&Tag>, emit: &mut Emit) {
        (**self).render(event, step, emit);
    }
}

/// Whether a line of this tone, said of `event`, shows at `level`: WARNING hides step
/// headers, commands and notices, leaving warnings, errors and the summary; ERROR (and
/// CRITICAL) hides the warnings and the summary too, leaving errors. Child output always
/// shows.
fn shown(tone: Tone, level: LogLevel, event: &Event) -> bool {
    match level {
        LogLevel::Debug | LogLevel::Info => true,
        LogLevel::Warning => {
            matches!(tone, Tone::Warn | Tone::Bad) || matches!(event, Event::RunFinished(_))
        }
        LogLevel::Error | LogLevel::Critical => tone == Tone::Bad,
    }
}

/// What bitops says of an event, if anything: one or more lines, each with its tone.
/// Output and diagnostics are not narration and are handled by each renderer.
fn narration(event: &Event) -> Vec<(Tone, String)> {
    match *event {
        Event::Notice { tone, text } => vec![(tone, text.to_string())],
        Event::Problem(p) => {
            let tone = if p.is_error() { Tone::Bad } else { Tone::Warn };
            vec![(tone, p.to_string())]
        }
        Event::StepStarted {
            index,
            total,
            alias,
            plugin,
        } => vec![(
            Tone::Step,
            format!("[{index}/{total}] {alias} (plugin {plugin})"),
        )],
        Event::PartStarted { label, command } => {
            vec![(Tone::Dim, format!("  {label}: {}", shell_join(command)))]
        }
        Event::PartSkipped { label, reason } => {
            vec![(Tone::Warn, format!("  skipping {label}: {reason}"))]
        }
        Event::StepFinished { step, total } => {
            let done = format!("[{}/{total}] {}", step.index, step.alias);
            let line = match &step.status {
                Status::Ok => (Tone::Good, format!("{done} ok in {}", secs(step.seconds))),
                Status::Skipped { .. } => (Tone::Warn, format!("{done} skipped")),
                Status::NotRun => return Vec::new(),
                other => (
                    Tone::Bad,
                    format!("{done} {} after {}", other.describe(), secs(step.seconds)),
                ),
            };
            vec![line]
        }
        Event::Interrupted { signal, grace_secs } => vec![(
            Tone::Warn,
            format!(
                "{} received: stopping the run (a running step gets {grace_secs}s after SIGTERM; a second signal kills it at once)",
                signal.name()
            ),
        )],
        // A run that ended before any step (lock held, interrupted while staging) has
        // nothing to sum up; its error says why.
        Event::RunFinished(report) if report.steps.is_empty() => Vec::new(),
        Event::RunFinished(report) => summary(report),
        Event::RunStarted { .. }
        | Event::Output(_)
        | Event::Diagnostic(_)
        | Event::PartFinished(_) => Vec::new(),
    }
}

/// Plain text: child output as it came, narration on its own stream.
pub struct Text {
    pub color: bool,
    /// stderr, or stdout under CI so that groups and output stay in order.
    pub narration: Stream,
    pub level: LogLevel,
    /// Under CI each step is a group whose title is the step header: not printed twice.
    pub in_groups: bool,
    /// Steps run at the same time: each line of a step starts with its alias.
    pub prefix: bool,
    /// Under GitHub Actions: every line is made inert (`ci::inert_for_github`), so no
    /// output or repo text is obeyed as a workflow command.
    pub inert: bool,
}

impl Render for Text {
    fn render(&mut self, event: &Event, step: Option<&Tag>, emit: &mut Emit) {
        if self.inert {
            let mut inert = |stream: Stream, bytes: &[u8]| {
                emit(stream, &crate::report::ci::inert_for_github(bytes))
            };
            return self.render_text(event, step, &mut inert);
        }
        self.render_text(event, step, emit)
    }
}

impl Text {
    fn render_text(&mut self, event: &Event, step: Option<&Tag>, emit: &mut Emit) {
        let prefix = step.filter(|_| self.prefix).map(|t| t.prefix(self.color));
        match (event, &prefix) {
            (Event::Output(bytes), None) => emit(Stream::Out, bytes),
            (Event::Output(bytes), Some(p)) => emit(Stream::Out, &prefixed(p, bytes)),
            (Event::Diagnostic(bytes), _) if self.color => emit(self.narration, bytes),
            (Event::Diagnostic(bytes), _) => emit(self.narration, &strip_ansi(bytes)),
            (Event::StepStarted { .. }, _) if self.in_groups => {}
            _ => {
                for (tone, text) in narration(event) {
                    if !shown(tone, self.level, event) {
                        continue;
                    }
                    // Names from the repo (a hook's file name) never drive the terminal.
                    let text = crate::error::visible_lines(&text);
                    let text = match tone.ansi().filter(|_| self.color) {
                        Some(code) => paint(code, &text),
                        None => text,
                    };
                    let line = format!("{}{text}\n", prefix.as_deref().unwrap_or(""));
                    emit(self.narration, line.as_bytes());
                }
            }
        }
    }
}

/// Each line of `bytes` (complete lines) after `prefix`.
fn prefixed(prefix: &str, bytes: &[u8]) -> Vec<u8> {
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut out = Vec::with_capacity(bytes.len() + lines * prefix.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line);
    }
    out
}

/// One JSON object per line, for log shippers.
pub struct Json {
    pub narration: Stream,
    pub level: LogLevel,
}

impl Json {
    pub fn new(narration: Stream, level: LogLevel) -> Json {
        Json { narration, level }
    }

    /// A line of the deployment `step` (`None`: the run's own).
    fn line(&self, level: &str, stream: &str, message: &str, step: Option<&str>) -> String {
        self.line_with(level, stream, message, &Fields::default(), step)
    }

    fn line_with(
        &self,
        level: &str,
        stream: &str,
        message: &str,
        fields: &Fields,
        step: Option<&str>,
    ) -> String {
        #[derive(Serialize)]
        struct JsonLine<'a> {
            time: String,
            level: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            step: Option<&'a str>,
            stream: &'a str,
            message: &'a str,
            #[serde(flatten)]
            fields: &'a Fields,
        }
        let line = JsonLine {
            time: now_rfc3339(),
            level,
            step: fields.step.as_deref().or(step),
            stream,
            message,
            fields,
        };
        serde_json::to_string(&line).unwrap_or_default() + "\n"
    }
}

/// The structured fields of a JSON line, for log shippers to filter on.
#[derive(Debug, Default, Serialize)]
pub struct Fields {
    #[serde(skip)]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Fields {
    /// What an event says in fields.
    fn of(event: &Event) -> Fields {
        let status_name = |s: &Status| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.get("status").and_then(|x| x.as_str()).map(String::from))
        };
        let code = |s: &Status| match s {
            Status::Failed { exit_code, .. }
            | Status::TimedOut { exit_code, .. }
            | Status::Interrupted { exit_code, .. } => Some(*exit_code),
            Status::Ok => Some(0),
            _ => None,
        };
        match event {
            Event::Notice { .. } => Fields {
                event: Some("notice"),
                ..Fields::default()
            },
            Event::Problem(p) => Fields {
                event: Some("problem"),
                file: p.file.as_ref().map(|f| f.display().to_string()),
                line: p.line,
                ..Fields::default()
            },
            Event::StepStarted { .. } => Fields {
                event: Some("step_started"),
                ..Fields::default()
            },
            Event::PartStarted { .. } => Fields {
                event: Some("part_started"),
                ..Fields::default()
            },
            Event::PartSkipped { .. } => Fields {
                event: Some("part_skipped"),
                ..Fields::default()
            },
            Event::StepFinished { step, .. } => Fields {
                step: Some(step.alias.clone()),
                event: Some("step_finished"),
                status: status_name(&step.status),
                duration_ms: Some((step.seconds * 1000.0).round() as u64),
                exit_code: code(&step.status),
                ..Fields::default()
            },
            Event::Interrupted { .. } => Fields {
                event: Some("interrupted"),
                ..Fields::default()
            },
            Event::RunFinished(r) => Fields {
                event: Some("run_finished"),
                status: serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from)),
                duration_ms: Some((r.seconds * 1000.0).round() as u64),
                exit_code: Some(r.exit_code),
                ..Fields::default()
            },
            _ => Fields::default(),
        }
    }
}

/// A JSON line for an error bitops ends with (`--log-format json`): every line is JSON.
pub fn json_error_line(
    message: &str,
    exit_code: i32,
    file: Option<&str>,
    line: Option<usize>,
) -> String {
    let json = Json::new(Stream::Err, LogLevel::Error);
    json.line_with(
        "error",
        "bitops",
        message,
        &Fields {
            event: Some("error"),
            exit_code: Some(exit_code),
            file: file.map(String::from),
            line,
            ..Fields::default()
        },
        None,
    )
}

impl Render for Json {
    fn render(&mut self, event: &Event, step: Option<&Tag>, emit: &mut Emit) {
        let step = step.map(|t| t.alias.as_str());
        match event {
            Event::Output(bytes) => {
                let mut buf = Vec::with_capacity(bytes.len() * 2);
                for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let body = String::from_utf8_lossy(line);
                    let body = body.strip_suffix('\r').unwrap_or(&body);
                    buf.extend_from_slice(self.line("info", "output", body, step).as_bytes());
                }
                emit(Stream::Out, &buf);
            }
            Event::Diagnostic(bytes) => {
                let text = String::from_utf8_lossy(&strip_ansi(bytes)).into_owned();
                let text = text.trim_end();
                let level = text.split_whitespace().next().unwrap_or("INFO");
                let line = self.line(&level.to_ascii_lowercase(), "diagnostic", text, step);
                emit(self.narration, line.as_bytes());
            }
            _ => {
                let fields = Fields::of(event);
                for (tone, text) in narration(event) {
                    if !shown(tone, self.level, event) {
                        continue;
                    }
                    let line = self.line_with(tone.level(), "bitops", &text, &fields, step);
                    emit(self.narration, line.as_bytes());
                }
            }
        }
    }
}

/// ANSI styling.
pub fn paint(code: &str, text: &str) -> String {
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
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
