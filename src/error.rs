//! One error type for the whole program, rendered in one place, with exit codes.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Exit codes. A failing hook or deploy script passes its own code through.
pub mod exit {
    pub const OK: i32 = 0;
    /// Any other failure: bad config, missing environment, a failure under `fail_fast: false`.
    pub const FAILURE: i32 = 1;
    /// A tool folder's `bitops.config.yaml` or a plugin's `bitops.schema.yaml` is missing
    /// (as BitOps), or the command line is wrong.
    pub const MISSING_CONFIG: i32 = 2;
    /// `bitops install`: a plugin's dependency is not listed under `plugins` (as BitOps).
    pub const DEPENDENCY_MISSING: i32 = 10;
    /// A program a step needs is not on `PATH` (as a shell's "command not found").
    pub const TOOL_MISSING: i32 = 127;
    /// Another deploy of the same environment holds the lock.
    pub const LOCKED: i32 = 75;
    /// A step ran longer than its `timeout`.
    pub const TIMED_OUT: i32 = 124;
    pub const INTERRUPTED_SIGHUP: i32 = 129;
    pub const INTERRUPTED_SIGINT: i32 = 130;
    pub const INTERRUPTED_SIGTERM: i32 = 143;
}

/// The signals that stop a run: the running step's processes are stopped, the workspace
/// and any partial install removed, the lock released, the report written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Hangup,
    Interrupt,
    Terminate,
}

impl Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Hangup, Signal::Interrupt, Signal::Terminate];

    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => libc::SIGHUP,
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
        }
    }

    pub fn from_number(n: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.number() == n)
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal number, as shells report it.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Hangup => exit::INTERRUPTED_SIGHUP,
            Signal::Interrupt => exit::INTERRUPTED_SIGINT,
            Signal::Terminate => exit::INTERRUPTED_SIGTERM,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// What kind of problem a configuration problem is; its exit code follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// Anything wrong with the input.
    #[default]
    Invalid,
    /// A tool folder's `bitops.config.yaml` or a plugin's `bitops.schema.yaml` is missing.
    MissingConfig,
    /// `bitops install`: a plugin's dependency is not listed under `plugins`.
    DependencyMissing,
    /// A program a step needs is not on `PATH`.
    ToolMissing,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Invalid => exit::FAILURE,
            Kind::MissingConfig => exit::MISSING_CONFIG,
            Kind::DependencyMissing => exit::DEPENDENCY_MISSING,
            Kind::ToolMissing => exit::TOOL_MISSING,
        }
    }
}

/// One finding about the input: what is wrong, where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    #[serde(skip)]
    pub kind: Kind,
    /// A warning for `deploy` that `validate` reports as an error.
    #[serde(skip)]
    pub strict: bool,
    /// A warning about what BitOps itself does without a word (a folder of its standard
    /// sequence that the environment does not have): never an error, not even under
    /// `validate --strict`, so a plain BitOps repo passes it.
    #[serde(skip)]
    pub lenient: bool,
}

impl Problem {
    pub fn error(message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            file: None,
            line: None,
            key: None,
            message: message.into(),
            hint: None,
            kind: Kind::Invalid,
            strict: false,
            lenient: false,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(message)
        }
    }

    pub fn file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    pub fn line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }

    pub fn at(self, file: &Path, line: usize) -> Self {
        self.file(file).line(Some(line))
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Marks a warning that `validate` treats as an error.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// See `Problem::lenient`.
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `text` with every control character but tab shown as an escape (`\u{1b}`, `\n`), so
/// repo text quoted in a message (a YAML key or value, a file name) can neither drive the
/// terminal (colours, OSC 52 clipboard writes) nor start a line of its own.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `visible` for each line of `text`: its line breaks are kept.
pub fn visible_lines(text: &str) -> String {
    text.split('\n')
        .map(|l| visible(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "error: ")?,
            Severity::Warning => write!(f, "warning: ")?,
        }
        if let Some(file) = &self.file {
            write!(f, "{}", visible(&file.to_string_lossy()))?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            write!(f, ": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "`{}`: ", visible(key))?;
        }
        // A message or hint of several lines keeps them, each shown on its own.
        write!(f, "{}", visible_lines(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", visible_lines(hint))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems found while reading config; nothing has run.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
    /// Another deploy of the environment holds the lock; nothing has run.
    #[error("{0}")]
    Locked(Box<Problem>),
    #[error("failed to {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A hook or deploy script failed and fail_fast stopped the run.
    #[error("{what} failed with exit code {code}; the run stopped there (fail_fast)")]
    StepFailed { what: String, code: i32 },
    #[error("{what} ran past its timeout and was stopped")]
    TimedOut { what: String },
    /// Under `fail_fast: false`, some steps failed.
    #[error("{failed} of {total} deployments failed")]
    SomeFailed { failed: usize, total: usize },
    /// The problems were already printed (e.g. by `validate`); exit 1 quietly.
    #[error("")]
    Reported,
    /// The error was already printed (as a JSON line); exit with its code quietly.
    #[error("")]
    Printed { code: i32 },
    #[error("interrupted by {}; the run was stopped, its workspace removed", .signal.name())]
    Interrupted { signal: Signal },
}

fn render_problems(problems: &[Problem]) -> String {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let mut out: Vec<String> = problems.iter().map(ToString::to_string).collect();
    if errors > 1 {
        out.push(format!("{errors} errors found; nothing was run"));
    }
    out.join("\n")
}

impl Error {
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit code of every outcome, decided here and nowhere else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(problems) => problems
                .iter()
                .find(|p| p.is_error())
                .map_or(exit::FAILURE, |p| p.kind.exit_code()),
            Error::Locked(_) => exit::LOCKED,
            Error::Printed { code } => *code,
            Error::Io { .. } | Error::SomeFailed { .. } | Error::Reported => exit::FAILURE,
            Error::StepFailed { code, .. } => *code,
            Error::TimedOut { .. } => exit::TIMED_OUT,
            Error::Interrupted { signal } => signal.exit_code(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Fails with every error-level problem at once; warnings pass.
pub fn check(problems: &[Problem]) -> Result<()> {
    if problems.iter().any(Problem::is_error) {
        Err(Error::Invalid(
            problems.iter().filter(|p| p.is_error()).cloned().collect(),
        ))
    } else {
        Ok(())
    }
}
