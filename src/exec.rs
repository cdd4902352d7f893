//! Runs a plan in a staged workspace: for each step, before-hooks, deploy script,
//! after-hooks; fail-fast policy; a report of what happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Problem};
use crate::hooks::Hook;
use crate::output::{Output, paint};
use crate::plan::{self, Context, Plan, Step};
use crate::process::{self, Outcome, Signals, Spec};
use crate::workspace::Workspace;

/// Time a step's processes get to stop after SIGTERM before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed { part: String, code: i32 },
    TimedOut { part: String },
    Interrupted { part: String },
    Skipped { reason: String },
    NotRun,
}

#[derive(Debug, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub alias: String,
    pub plugin: String,
    #[serde(flatten)]
    pub status: Status,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub environment: String,
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
}

impl RunReport {
    fn new(ctx: &Context) -> Self {
        RunReport {
            environment: ctx.environment.clone(),
            dry_run: ctx.dry_run,
            steps: Vec::new(),
        }
    }
}

/// The single-threaded runtime that drives child processes.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

pub fn execute(
    ctx: &Context,
    plan: &Plan,
    ws: &Workspace,
    out: &Arc<Output>,
) -> (RunReport, Result<(), Error>) {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let report = RunReport::new(ctx);
            return (
                report,
                Err(Error::io("start the runtime for", ws.root(), e)),
            );
        }
    };
    runtime.block_on(run(ctx, plan, ws, out))
}

async fn run(
    ctx: &Context,
    plan: &Plan,
    ws: &Workspace,
    out: &Arc<Output>,
) -> (RunReport, Result<(), Error>) {
    let mut report = RunReport::new(ctx);
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            return (
                report,
                Err(Error::io("install signal handlers in", ws.root(), e)),
            );
        }
    };
    let total = plan.steps.len();
    let mut first_error: Option<Error> = None;
    let mut groups = Vec::new();
    for (i, dep) in ctx.settings.deployments.iter().enumerate() {
        if first_error.is_some() && ctx.settings.fail_fast {
            report.steps.push(StepReport {
                index: i + 1,
                alias: dep.alias.clone(),
                plugin: dep.plugin.clone(),
                status: Status::NotRun,
                seconds: 0.0,
            });
            continue;
        }
        let header = format!(
            "[{}/{}] {} (plugin {})",
            i + 1,
            total,
            dep.alias,
            dep.plugin
        );
        out.note(&header, Some(&paint("1;36", &header)));
        let started = Instant::now();
        // Hooks of earlier steps may have edited this step's files: resolve again from the workspace.
        let mut problems = Vec::new();
        let view = ws.view(&ctx.environment);
        let target = plan::Target {
            view: &view,
            root: ws.root(),
            builtins: Some(ws.builtin_plugins()),
        };
        let step = plan::build_step(ctx, i + 1, dep, &target, &mut problems);
        let status = if problems.iter().any(Problem::is_error) {
            for p in problems.iter().filter(|p| p.is_error()) {
                out.note(&p.to_string(), None);
            }
            let code = problems
                .iter()
                .find(|p| p.is_error())
                .map_or(1, |p| p.exit_code);
            Status::Failed {
                part: "configuration".into(),
                code,
            }
        } else if let Some(reason) = &step.skip {
            let text = format!("warning: {reason}; skipping `{}`", dep.alias);
            out.note(&text, Some(&paint("33", &text)));
            Status::Skipped {
                reason: reason.clone(),
            }
        } else {
            run_step(ctx, &step, ws, out, &mut signals, &mut groups).await
        };
        let seconds = started.elapsed().as_secs_f64();
        let (line, color) = match &status {
            Status::Ok => (
                format!(
                    "[{}/{}] {} ok in {}",
                    i + 1,
                    total,
                    dep.alias,
                    secs(seconds)
                ),
                "32",
            ),
            Status::Skipped { .. } => {
                (format!("[{}/{}] {} skipped", i + 1, total, dep.alias), "33")
            }
            other => (
                format!(
                    "[{}/{}] {} {} after {}",
                    i + 1,
                    total,
                    dep.alias,
                    describe(other),
                    secs(seconds)
                ),
                "31",
            ),
        };
        out.note(&line, Some(&paint(color, &line)));
        if first_error.is_none() {
            first_error = failure(&status, &dep.alias);
        }
        let interrupted = matches!(status, Status::Interrupted { .. });
        report.steps.push(StepReport {
            index: i + 1,
            alias: dep.alias.clone(),
            plugin: dep.plugin.clone(),
            status,
            seconds,
        });
        if interrupted {
            break;
        }
    }
    // Background processes a hook or plugin left behind do not outlive the run.
    for pgid in groups {
        process::stop_group(pgid, Duration::from_secs(2), None).await;
    }
    print_summary(&report, out);
    let failed = report
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                Status::Failed { .. } | Status::TimedOut { .. } | Status::Interrupted { .. }
            )
        })
        .count();
    let result = match first_error {
        None => Ok(()),
        Some(e @ Error::Interrupted { .. }) => Err(e),
        Some(e) if ctx.settings.fail_fast => Err(e),
        Some(_) => Err(Error::SomeFailed { failed, total }),
    };
    (report, result)
}

fn failure(status: &Status, alias: &str) -> Option<Error> {
    match status {
        Status::Failed { part, code } => Some(Error::StepFailed {
            what: format!("{part} of `{alias}`"),
            code: *code,
        }),
        Status::TimedOut { part } => Some(Error::TimedOut {
            what: format!("{part} of `{alias}`"),
        }),
        Status::Interrupted { part } => Some(Error::Interrupted {
            signal: if part.contains("SIGTERM") {
                "SIGTERM"
            } else {
                "SIGINT"
            },
            code: if part.contains("SIGTERM") {
                crate::error::exit::INTERRUPTED_SIGTERM
            } else {
                crate::error::exit::INTERRUPTED_SIGINT
            },
        }),
        _ => None,
    }
}

fn describe(status: &Status) -> String {
    match status {
        Status::Ok => "ok".into(),
        Status::Failed { part, code } => format!("failed ({part}, exit {code})"),
        Status::TimedOut { part } => format!("timed out ({part})"),
        Status::Interrupted { part } => format!("interrupted ({part})"),
        Status::Skipped { reason } => format!("skipped ({reason})"),
        Status::NotRun => "not run".into(),
    }
}

/// `850ms`, `4.2s`, `3m05s`: short, and precise where it matters.
fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{}ms", (s * 1000.0).round() as u64)
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = s.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// One process of a step: a hook or the deploy script.
struct Part<'a> {
    label: String,
    argv: Option<&'a [String]>,
    skip: Option<&'a str>,
}

async fn run_step<'a>(
    ctx: &Context,
    step: &'a Step,
    ws: &Workspace,
    out: &Arc<Output>,
    signals: &mut Signals,
    groups: &mut Vec<i32>,
) -> Status {
    let cwd = ws.root().join(&step.tool_dir);
    let env = ctx.env.with(&step.env);
    let deadline = step
        .timeout_secs
        .map(|s| Instant::now() + Duration::from_secs(s));
    let hook_part = |kind: &str, hook: &'a Hook| Part {
        label: format!("{kind} hook {}", hook.name),
        argv: hook.argv.as_deref(),
        skip: hook.skip_reason.as_deref(),
    };
    let parts: Vec<Part> = step
        .before_hooks
        .iter()
        .map(|h| hook_part("before", h))
        .chain(std::iter::once(Part {
            label: "deploy script".into(),
            argv: Some(&step.deploy),
            skip: None,
        }))
        .chain(step.after_hooks.iter().map(|h| hook_part("after", h)))
        .collect();
    let after_start = step.before_hooks.len() + 1;
    let mut status = Status::Ok;
    for (
        n,
        Part {
            label: part,
            argv,
            skip,
        },
    ) in parts.into_iter().enumerate()
    {
        if n == after_start && status != Status::Ok && ctx.settings.fail_fast {
            break; // after-hooks of a failed step are skipped
        }
        let Some(argv) = argv else {
            let text = format!("  skipping {part}: {}", skip.unwrap_or("not runnable"));
            out.note(&text, Some(&paint("33", &text)));
            continue;
        };
        let text = format!("  {part}: {}", shell_words(argv));
        out.note(&text, Some(&paint("2", &text)));
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let spec = Spec {
            argv: argv.to_vec(),
            cwd: cwd.clone(),
            env: env.clone(),
            timeout,
            grace: GRACE,
        };
        let (outcome, pgid) = process::run(&spec, out, signals).await;
        groups.extend(pgid);
        let this = match outcome {
            Outcome::Exited { code: 0 } => continue,
            Outcome::Exited { code } => Status::Failed { part, code },
            Outcome::TimedOut => Status::TimedOut { part },
            Outcome::Interrupted { signal, .. } => Status::Interrupted {
                part: format!("{part}, {signal}"),
            },
            Outcome::SpawnFailed { error } => {
                out.note(&format!("error: {error}"), None);
                Status::Failed { part, code: 127 }
            }
        };
        let stop = ctx.settings.fail_fast
            || matches!(this, Status::Interrupted { .. } | Status::TimedOut { .. });
        if status == Status::Ok {
            status = this;
        }
        if stop {
            break;
        }
    }
    status
}

fn shell_words(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

fn print_summary(report: &RunReport, out: &Output) {
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
    out.note(
        &format!("Summary for environment `{}`{dry}:", report.environment),
        None,
    );
    out.note(
        &format!(
            "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  result",
            "#", "deployment", "plugin", "time"
        ),
        None,
    );
    for s in &report.steps {
        let time = if s.status == Status::NotRun {
            "-".to_string()
        } else {
            secs(s.seconds)
        };
        let result = describe(&s.status);
        let plain = format!(
            "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  {result}",
            s.index, s.alias, s.plugin, time
        );
        let color = match s.status {
            Status::Ok => "32",
            Status::Skipped { .. } | Status::NotRun => "33",
            _ => "31",
        };
        let styled = format!(
            "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  {}",
            s.index,
            s.alias,
            s.plugin,
            time,
            paint(color, &result)
        );
        out.note(&plain, Some(&styled));
    }
}
