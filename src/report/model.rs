//! What a run did: the data every report is made from (the console summary, the JSON
//! report, JUnit, the CI summaries).

use std::path::Path;

use serde::Serialize;

use crate::error::Problem;
use crate::report::mask::{Mask, Masker};

/// Bumped when a field changes meaning or disappears; new fields do not bump it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed {
        part: String,
        exit_code: i32,
    },
    TimedOut {
        part: String,
        exit_code: i32,
    },
    Interrupted {
        part: String,
        signal: crate::error::Signal,
        exit_code: i32,
    },
    /// Stopped because another step failed (fail_fast, steps running at the same time).
    Cancelled {
        part: String,
    },
    Skipped {
        reason: String,
    },
    NotRun,
}

impl Status {
    pub fn failed(&self) -> bool {
        matches!(
            self,
            Status::Failed { .. }
                | Status::TimedOut { .. }
                | Status::Interrupted { .. }
                | Status::Cancelled { .. }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::Failed { part, exit_code } => format!("failed ({part}, exit {exit_code})"),
            Status::TimedOut { part, .. } => format!("timed out ({part})"),
            Status::Interrupted { part, signal, .. } => format!("interrupted ({part}, {signal})"),
            Status::Cancelled { part } => format!("cancelled ({part}; another step failed)"),
            Status::Skipped { reason } => format!("skipped ({reason})"),
            Status::NotRun => "not run".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    BeforeHook,
    Deploy,
    AfterHook,
}

/// One process of a step (a hook or the deploy script), or a hook that was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct PartReport {
    pub kind: PartKind,
    pub name: String,
    pub command: Option<Vec<String>>,
    /// `ok`, `failed`, `timed_out`, `interrupted`, `skipped`.
    pub outcome: &'static str,
    pub exit_code: Option<i32>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// A hook's file in the ops repo (not its copy in the workspace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub alias: String,
    pub plugin: String,
    /// `built in`, or the plugin's folder.
    pub plugin_source: String,
    #[serde(flatten)]
    pub status: Status,
    pub seconds: f64,
    /// When the step started and ended (RFC 3339, milliseconds): steps that ran at the
    /// same time overlap. Absent for a step that did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The steps it waited for (`depends_on`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    pub parts: Vec<PartReport>,
    /// The last lines of the step's output, masked.
    pub output_tail: Vec<String>,
    /// What the step published (`$BITOPS_OUTPUTS`), masked.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub outputs: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Interrupted,
    /// The configuration had errors; nothing ran.
    Invalid,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub bitops_version: &'static str,
    pub environment: String,
    pub ops_repo: String,
    pub dry_run: bool,
    pub started_at: String,
    pub seconds: f64,
    pub status: RunStatus,
    pub exit_code: i32,
    pub problems: Vec<Problem>,
    pub steps: Vec<StepReport>,
}

impl RunReport {
    pub fn new(environment: &str, ops_repo: &Path, dry_run: bool) -> RunReport {
        RunReport {
            schema_version: SCHEMA_VERSION,
            bitops_version: env!("CARGO_PKG_VERSION"),
            environment: environment.to_string(),
            ops_repo: ops_repo.to_string_lossy().into_owned(),
            dry_run,
            started_at: crate::report::time::now_rfc3339(),
            seconds: 0.0,
            status: RunStatus::Succeeded,
            exit_code: 0,
            problems: Vec::new(),
            steps: Vec::new(),
        }
    }
}

impl Mask for Status {
    fn mask_with(&mut self, m: &Masker) {
        match self {
            Status::Failed { part, .. }
            | Status::TimedOut { part, .. }
            | Status::Interrupted { part, .. }
            | Status::Cancelled { part } => part.mask_with(m),
            Status::Skipped { reason } => reason.mask_with(m),
            Status::Ok | Status::NotRun => {}
        }
    }
}

impl Mask for PartReport {
    fn mask_with(&mut self, m: &Masker) {
        self.name.mask_with(m);
        self.command.mask_with(m);
        self.skip_reason.mask_with(m);
        self.file.mask_with(m);
    }
}

impl Mask for StepReport {
    fn mask_with(&mut self, m: &Masker) {
        self.alias.mask_with(m);
        self.plugin_source.mask_with(m);
        self.status.mask_with(m);
        self.parts.mask_with(m);
        self.output_tail.mask_with(m);
        for value in self.outputs.values_mut() {
            value.mask_with(m);
        }
    }
}

impl Mask for RunReport {
    fn mask_with(&mut self, m: &Masker) {
        self.ops_repo.mask_with(m);
        self.problems.mask_with(m);
        self.steps.mask_with(m);
    }
}
