//! What a run did: the report every output is made from — the console summary, the
//! JSON report (`--report`), the JUnit file (`--junit`) and the CI summaries.

pub mod mask;
pub mod output;
pub mod plan_text;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::Problem;
use crate::report::mask::Masker;

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
        signal: String,
        exit_code: i32,
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
            Status::Failed { .. } | Status::TimedOut { .. } | Status::Interrupted { .. }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::Failed { part, exit_code } => format!("failed ({part}, exit {exit_code})"),
            Status::TimedOut { part, .. } => format!("timed out ({part})"),
            Status::Interrupted { part, signal, .. } => format!("interrupted ({part}, {signal})"),
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
    pub parts: Vec<PartReport>,
    /// The last lines of the step's output, masked.
    pub output_tail: Vec<String>,
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
            started_at: now_rfc3339(),
            seconds: 0.0,
            status: RunStatus::Succeeded,
            exit_code: 0,
            problems: Vec::new(),
            steps: Vec::new(),
        }
    }
}

/// `2026-11-21T05:01:10Z`.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `850ms`, `4.2s`, `3m05s`: short, and precise where it matters.
pub fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{}ms", (s * 1000.0).round() as u64)
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = s.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// The console summary: a title and one row per step, each with its tone.
pub fn summary(report: &RunReport) -> Vec<(crate::report::output::Tone, String)> {
    use crate::report::output::Tone;
    let width = report
        .steps
        .iter()
        .map(|s| s.alias.len())
        .max()
        .unwrap_or(0)
        .max("deployment".len());
    let pwidth = report
        .steps
        .iter()
        .map(|s| s.plugin.len())
        .max()
        .unwrap_or(0)
        .max("plugin".len());
    let dry = if report.dry_run {
        " (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks)"
    } else {
        ""
    };
    let mut lines = vec![
        (
            Tone::Plain,
            format!("Summary for environment `{}`{dry}:", report.environment),
        ),
        (
            Tone::Plain,
            format!(
                "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  result",
                "#", "deployment", "plugin", "time"
            ),
        ),
    ];
    for s in &report.steps {
        let time = if s.status == Status::NotRun {
            "-".to_string()
        } else {
            secs(s.seconds)
        };
        let tone = match s.status {
            Status::Ok => Tone::Good,
            Status::Skipped { .. } | Status::NotRun => Tone::Warn,
            _ => Tone::Bad,
        };
        lines.push((
            tone,
            format!(
                "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  {}",
                s.index,
                s.alias,
                s.plugin,
                time,
                s.status.describe()
            ),
        ));
    }
    lines
}

/// Writes `text` to `path` masked, creating its folder; owner-only permissions.
fn write_masked(path: &Path, text: &str, masker: &Masker) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut f, masker.mask_str(text).as_bytes())
}

pub fn write_json(report: &RunReport, path: &Path, masker: &Masker) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(report).unwrap_or_default() + "\n";
    write_masked(path, &text, masker)
}

pub fn junit(report: &RunReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("bitops deploy {}", report.environment));
    for problem in &report.problems {
        let mut case = TestCase::new(
            "configuration",
            TestCaseStatus::non_success(NonSuccessKind::Failure),
        );
        case.set_classname(format!("bitops.{}", report.environment));
        if let TestCaseStatus::NonSuccess { message, .. } = &mut case.status {
            *message = Some(problem.to_string().into());
        }
        suite.add_test_case(case);
    }
    for s in &report.steps {
        let status = match &s.status {
            Status::Ok => TestCaseStatus::success(),
            Status::Skipped { reason } => {
                let mut st = TestCaseStatus::skipped();
                if let TestCaseStatus::Skipped { message, .. } = &mut st {
                    *message = Some(reason.clone().into());
                }
                st
            }
            Status::NotRun => {
                let mut st = TestCaseStatus::skipped();
                if let TestCaseStatus::Skipped { message, .. } = &mut st {
                    *message = Some("not run: an earlier step failed".into());
                }
                st
            }
            other => {
                let kind = if matches!(other, Status::Failed { .. }) {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                if let TestCaseStatus::NonSuccess { message, ty, .. } = &mut st {
                    *message = Some(other.describe().into());
                    *ty = Some(
                        match other {
                            Status::TimedOut { .. } => "timed out",
                            Status::Interrupted { .. } => "interrupted",
                            _ => "failed",
                        }
                        .into(),
                    );
                }
                st
            }
        };
        let mut case = TestCase::new(format!("{} ({})", s.alias, s.plugin), status);
        case.set_classname(format!("bitops.{}", report.environment));
        case.set_time(Duration::from_secs_f64(s.seconds));
        if !s.output_tail.is_empty() {
            case.set_system_out(s.output_tail.join("\n"));
        }
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_secs_f64(report.seconds));
    let mut junit = Report::new("bitops");
    junit.set_time(Duration::from_secs_f64(report.seconds));
    junit.add_test_suite(suite);
    junit.to_string().unwrap_or_default()
}

pub fn write_junit(report: &RunReport, path: &Path, masker: &Masker) -> std::io::Result<()> {
    write_masked(path, &junit(report), masker)
}

/// The Markdown table for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(report: &RunReport) -> String {
    let icon = |s: &Status| match s {
        Status::Ok => "✅",
        Status::Skipped { .. } | Status::NotRun => "⏭️",
        _ => "❌",
    };
    let mut out = format!(
        "### bitops deploy `{}`{}\n\n| # | deployment | plugin | result | time |\n|---|---|---|---|---|\n",
        report.environment,
        if report.dry_run { " (dry run)" } else { "" }
    );
    for p in &report.problems {
        out.push_str(&format!(
            "| – | configuration | – | ❌ {} | – |\n",
            p.message.replace('|', "\\|")
        ));
    }
    for s in &report.steps {
        out.push_str(&format!(
            "| {} | {} | {} | {} {} | {} |\n",
            s.index,
            s.alias,
            s.plugin,
            icon(&s.status),
            s.status.describe().replace('|', "\\|"),
            if s.status == Status::NotRun {
                "–".into()
            } else {
                secs(s.seconds)
            }
        ));
    }
    out
}

/// `%`, CR and LF escaped as GitHub's workflow commands want them; in properties also
/// `:` and `,`.
fn gh_escape(text: &str, property: bool) -> String {
    let mut s = text
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        s = s.replace(':', "%3A").replace(',', "%2C");
    }
    s
}

/// `::error file=F,line=L,title=T::message`
pub fn github_error(
    file: Option<&Path>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", gh_escape(&f.to_string_lossy(), true)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
    }
    props.push(format!("title={}", gh_escape(title, true)));
    format!("::error {}::{}", props.join(","), gh_escape(message, false))
}

pub fn github_problem(p: &Problem) -> String {
    let title = match &p.key {
        Some(k) => format!("bitops: {k}"),
        None => "bitops: configuration".into(),
    };
    let mut message = p.message.clone();
    if let Some(h) = &p.hint {
        message.push_str(&format!("\n{h}"));
    }
    github_error(p.file.as_deref(), p.line, &title, &message)
}

/// GitLab's collapsible section markers.
pub fn gitlab_section(start: bool, id: &str, title: &str) -> String {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if start {
        format!("\x1b[0Ksection_start:{ts}:{id}[collapsed=true]\r\x1b[0K{title}")
    } else {
        format!("\x1b[0Ksection_end:{ts}:{id}\r\x1b[0K")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_237_270)),
            "2026-11-21T05:01:10Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(secs(0.0123), "12ms");
        assert_eq!(secs(4.24), "4.2s");
        assert_eq!(secs(185.0), "3m05s");
    }

    #[test]
    fn github_escapes() {
        assert_eq!(
            github_error(Some(Path::new("a,b:c.yaml")), Some(3), "t", "50%\nnext"),
            "::error file=a%2Cb%3Ac.yaml,line=3,title=t::50%25%0Anext"
        );
    }
}
