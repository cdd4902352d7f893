//! What a run tells its reporters, in order. The executor emits these; the sink masks
//! them and hands them to every reporter.

use crate::error::{Problem, Signal};
use crate::report::model::{PartReport, RunReport, StepReport};

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
    pub fn ansi(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Dim => Some("2"),
            Tone::Step => Some("1;36"),
            Tone::Good => Some("32"),
            Tone::Warn => Some("33"),
            Tone::Bad => Some("31"),
        }
    }

    pub fn level(self) -> &'static str {
        match self {
            Tone::Warn => "warning",
            Tone::Bad => "error",
            _ => "info",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The deploy lock is held and staging starts.
    RunStarted {
        environment: &'a str,
        steps: usize,
        dry_run: bool,
    },
    /// A message of bitops' own.
    Notice {
        tone: Tone,
        text: &'a str,
    },
    /// A problem of the configuration (at the start, or when a step is re-resolved).
    Problem(&'a Problem),
    StepStarted {
        index: usize,
        total: usize,
        alias: &'a str,
        plugin: &'a str,
    },
    /// A hook or the deploy script starts.
    PartStarted {
        label: &'a str,
        command: &'a [String],
    },
    /// A hook that does not run (not executable, dry run).
    PartSkipped {
        label: &'a str,
        reason: &'a str,
    },
    /// Complete lines of a hook's or plugin's output (each ending in a newline).
    Output(&'a [u8]),
    /// bitops' own diagnostics (`tracing`), already formatted.
    Diagnostic(&'a [u8]),
    PartFinished(&'a PartReport),
    StepFinished {
        step: &'a StepReport,
        total: usize,
    },
    /// A stop signal was caught: the run winds down.
    Interrupted {
        signal: Signal,
        grace_secs: u64,
    },
    RunFinished(&'a RunReport),
}

impl Event<'_> {
    /// Events that close what an earlier one opened go to the reporters in reverse
    /// order, so that output nests: a CI group opened before the console's step header
    /// is closed after the console's step result.
    pub fn closes(&self) -> bool {
        matches!(self, Event::StepFinished { .. } | Event::RunFinished(_))
    }
}

/// The step an event belongs to, when steps run at the same time: its output is
/// prefixed with the alias, or held and shown whole when the step ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The step's number in the plan (1-based).
    pub index: usize,
    pub alias: String,
    /// The longest alias of the run, so that prefixes line up.
    pub width: usize,
}

impl Tag {
    /// `alias │ `, padded to the run's longest alias; coloured when `color`.
    pub fn prefix(&self, color: bool) -> String {
        const COLORS: [&str; 6] = ["36", "33", "35", "32", "34", "96"];
        let text = format!("{:<width$} │ ", self.alias, width = self.width);
        if color {
            let code = COLORS[(self.index.saturating_sub(1)) % COLORS.len()];
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    }
}

/// Anything that writes a run's events somewhere: the console, a log file, CI
/// markers, the report files. Events arrive masked, with the step they belong to
/// (`None` for the run's own).
pub trait Reporter: Send {
    fn on(&mut self, event: &Event, step: Option<&Tag>);
}
