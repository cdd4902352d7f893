//! The JUnit file (`--junit`): one test case per deployment, one per configuration
//! problem. Built from a masked report; quick-junit escapes it.

use std::time::Duration;

use crate::report::model::{RunReport, Status};

pub fn junit(report: &RunReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("bitops deploy {}", report.environment));
    let mut names: Vec<String> = Vec::new();
    for (i, problem) in report.problems.iter().enumerate() {
        // Distinct names: where the problem is, else its number.
        let mut name = match (&problem.file, problem.line) {
            (Some(f), Some(l)) => format!("configuration: {}:{l}", f.display()),
            (Some(f), None) => format!("configuration: {}", f.display()),
            _ => format!("configuration #{}", i + 1),
        };
        if names.contains(&name) {
            name = format!("{name} #{}", i + 1);
        }
        names.push(name.clone());
        let mut case = TestCase::new(name, TestCaseStatus::non_success(NonSuccessKind::Failure));
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
                            Status::Cancelled { .. } => "cancelled",
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
        // When it started: steps that ran at the same time overlap.
        if let Some(t) = s
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            case.set_timestamp(t);
        }
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
