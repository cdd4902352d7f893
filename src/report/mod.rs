//! Reporting: the events a run emits, the sink that masks them and the reporters that
//! write them (console, JSON lines, CI, log file, report files), plus the plan's text.

pub mod ci;
pub mod console;
pub mod event;
pub mod files;
pub mod json_schema;
pub mod junit;
pub mod lines;
pub mod log_file;
pub mod mask;
pub mod model;
pub mod plan_text;
pub mod render;
pub mod scan;
pub mod sink;
pub mod summary;
pub mod terminal;
pub mod time;

/// Format of bitops' console output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}
