//! Runs a plan in a staged workspace: for each step, before-hooks, deploy script,
//! after-hooks; fail-fast policy; a report of what happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, exit};
use crate::plan::{self, Context, Step};
use crate::repo::hooks::Hook;
use crate::report::output::{Ci, Output, Tone};
use crate::report::{PartKind, PartReport, RunReport, RunStatus, Status, StepReport, secs};
use crate::run::process::{self, Outcome, Spec};
use crate::run::signals::Signals;
use crate::run::workspace::Workspace;

/// The single-threaded runtime that drives child processes.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs every step; fills `report` and returns the run's result.
pub fn execute(
    ctx: &Context,
    ws: &Workspace,
    out: &Arc<Output>,
    report: &mut RunReport,
) -> Result<(), Error> {
    let runtime = runtime().map_err(|e| Error::io("start the runtime for", ws.root(), e))?;
    runtime.block_on(run(ctx, ws, out, report))
}

async fn run(
    ctx: &Context,
    ws: &Workspace,
    out: &Arc<Output>,
    report: &mut RunReport,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut signals =
        Signals::install().map_err(|e| Error::io("install signal handlers in", ws.root(), e))?;
    let total = ctx.settings.deployments.len();
    let mut first_error: Option<Error> = None;
    let mut groups = Vec::new();
    for (i, dep) in ctx.settings.deployments.iter().enumerate() {
        let stopped = matches!(first_error, Some(Error::Interrupted { .. }))
            || (first_error.is_some() && ctx.settings.fail_fast);
        let mut step_report = StepReport {
            index: i + 1,
            alias: dep.alias.clone(),
            plugin: dep.plugin.clone(),
            plugin_source: String::new(),
            status: Status::NotRun,
            seconds: 0.0,
            parts: Vec::new(),
            output_tail: Vec::new(),
        };
        if stopped {
            report.steps.push(step_report);
            continue;
        }
        let header = format!("[{}/{total}] {} (plugin {})", i + 1, dep.alias, dep.plugin);
        group(out, true, i + 1, &header);
        out.say(Tone::Step, &header);
        out.set_step(Some(&dep.alias));
        let step_started = Instant::now();
        // Hooks of earlier steps may have edited this step's files: resolve again from the workspace.
        let mut problems = Vec::new();
        let view = ws.view(&ctx.environment);
        let target = plan::Target {
            view: &view,
            root: ws.root(),
            builtins: ws.builtin_plugins(),
        };
        let step = plan::build_step(ctx, i + 1, dep, &target, &mut problems);
        step_report.plugin_source = match (&step.plugin_dir, step.plugin_builtin) {
            (_, true) => "built in".into(),
            (Some(dir), false) => dir.to_string_lossy().into_owned(),
            (None, false) => "unknown".into(),
        };
        let errors: Vec<_> = problems.into_iter().filter(|p| p.is_error()).collect();
        step_report.status = if let Some(first) = errors.first() {
            for p in &errors {
                out.say(Tone::Bad, &p.to_string());
                if out.ci() == Ci::Github {
                    out.control(&crate::report::github_problem(p));
                }
            }
            Status::Failed {
                part: "configuration".into(),
                exit_code: first.exit_code,
            }
        } else if let Some(reason) = &step.skip {
            out.say(
                Tone::Warn,
                &format!("warning: {reason}; skipping `{}`", dep.alias),
            );
            Status::Skipped {
                reason: reason.clone(),
            }
        } else {
            run_step(
                ctx,
                &step,
                ws,
                out,
                &mut signals,
                &mut groups,
                &mut step_report.parts,
            )
            .await
        };
        step_report.seconds = step_started.elapsed().as_secs_f64();
        step_report.output_tail = out.take_tail();
        out.set_step(None);
        let done = format!("[{}/{total}] {}", i + 1, dep.alias);
        match &step_report.status {
            Status::Ok => out.say(
                Tone::Good,
                &format!("{done} ok in {}", secs(step_report.seconds)),
            ),
            Status::Skipped { .. } => out.say(Tone::Warn, &format!("{done} skipped")),
            other => {
                out.say(
                    Tone::Bad,
                    &format!(
                        "{done} {} after {}",
                        other.describe(),
                        secs(step_report.seconds)
                    ),
                );
                if out.ci() == Ci::Github
                    && !matches!(other, Status::Failed { part, .. } if part == "configuration")
                {
                    out.control(&crate::report::github_error(
                        None,
                        None,
                        &format!("bitops: {} failed", dep.alias),
                        &format!("{} {}", dep.alias, other.describe()),
                    ));
                }
            }
        }
        group(out, false, i + 1, &header);
        if first_error.is_none() {
            first_error = failure(&step_report.status, &dep.alias);
        }
        report.steps.push(step_report);
    }
    // Background processes a hook or plugin left behind do not outlive the run.
    for pgid in groups {
        process::stop_group(pgid, Duration::from_secs(2), None).await;
    }
    report.seconds = started.elapsed().as_secs_f64();
    let failed = report.steps.iter().filter(|s| s.status.failed()).count();
    let result = match first_error {
        None => Ok(()),
        Some(e @ Error::Interrupted { .. }) => Err(e),
        Some(e) if ctx.settings.fail_fast => Err(e),
        Some(_) => Err(Error::SomeFailed { failed, total }),
    };
    report.status = match &result {
        Ok(()) => RunStatus::Succeeded,
        Err(Error::Interrupted { .. }) => RunStatus::Interrupted,
        Err(_) => RunStatus::Failed,
    };
    report.exit_code = result.as_ref().err().map_or(exit::OK, Error::exit_code);
    result
}

/// A collapsible group around a step in CI logs.
fn group(out: &Output, start: bool, index: usize, title: &str) {
    match (out.ci(), start) {
        (Ci::Github, true) => out.control(&format!("::group::{title}")),
        (Ci::Github, false) => out.control("::endgroup::"),
        (Ci::Gitlab, start) => out.control(&crate::report::gitlab_section(
            start,
            &format!("bitops_step_{index}"),
            title,
        )),
        _ => {}
    }
}

fn failure(status: &Status, alias: &str) -> Option<Error> {
    match status {
        Status::Failed { part, exit_code } => Some(Error::StepFailed {
            what: format!("{part} of `{alias}`"),
            code: *exit_code,
        }),
        Status::TimedOut { part, .. } => Some(Error::TimedOut {
            what: format!("{part} of `{alias}`"),
        }),
        Status::Interrupted {
            signal, exit_code, ..
        } => Some(Error::Interrupted {
            signal: if signal == "SIGTERM" {
                "SIGTERM"
            } else {
                "SIGINT"
            },
            code: *exit_code,
        }),
        _ => None,
    }
}

/// One process of a step: a hook or the deploy script.
struct Part<'a> {
    kind: PartKind,
    label: String,
    argv: Option<&'a [String]>,
    skip: Option<&'a str>,
}

fn hook_part(kind: PartKind, hook: &Hook) -> Part<'_> {
    let when = if kind == PartKind::BeforeHook {
        "before"
    } else {
        "after"
    };
    Part {
        kind,
        label: format!("{when} hook {}", hook.name),
        argv: hook.argv.as_deref(),
        skip: hook.skip_reason.as_deref(),
    }
}

async fn run_step(
    ctx: &Context,
    step: &Step,
    ws: &Workspace,
    out: &Arc<Output>,
    signals: &mut Signals,
    groups: &mut Vec<i32>,
    reports: &mut Vec<PartReport>,
) -> Status {
    let cwd = ws.root().join(&step.tool_dir);
    let env = ctx.env.with(&step.env);
    let deadline = step
        .timeout_secs
        .map(|s| Instant::now() + Duration::from_secs(s));
    let parts: Vec<Part> = step
        .before_hooks
        .iter()
        .map(|h| hook_part(PartKind::BeforeHook, h))
        .chain(std::iter::once(Part {
            kind: PartKind::Deploy,
            label: "deploy script".into(),
            argv: Some(&step.deploy),
            skip: None,
        }))
        .chain(
            step.after_hooks
                .iter()
                .map(|h| hook_part(PartKind::AfterHook, h)),
        )
        .collect();
    let mut status = Status::Ok;
    for part in parts {
        if part.kind == PartKind::AfterHook && status != Status::Ok && ctx.settings.fail_fast {
            break; // after-hooks of a failed step are skipped
        }
        let name = part.label.clone();
        let Some(argv) = part.argv else {
            let reason = part.skip.unwrap_or("not runnable").to_string();
            out.say(Tone::Warn, &format!("  skipping {name}: {reason}"));
            reports.push(PartReport {
                kind: part.kind,
                name,
                command: None,
                outcome: "skipped",
                exit_code: None,
                seconds: 0.0,
                skip_reason: Some(reason),
            });
            continue;
        };
        out.say(
            Tone::Dim,
            &format!("  {name}: {}", crate::plugin::schema::shell_join(argv)),
        );
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let spec = Spec {
            argv: argv.to_vec(),
            cwd: cwd.clone(),
            env: env.clone(),
            timeout,
            grace: ctx.grace,
        };
        let started = Instant::now();
        let (outcome, pgid) = process::run(&spec, out, signals).await;
        groups.extend(pgid);
        let (this, outcome_name, code) = match outcome {
            Outcome::Exited { code: 0 } => (Status::Ok, "ok", Some(0)),
            Outcome::Exited { code } => (
                Status::Failed {
                    part: name.clone(),
                    exit_code: code,
                },
                "failed",
                Some(code),
            ),
            Outcome::TimedOut => (
                Status::TimedOut {
                    part: name.clone(),
                    exit_code: exit::TIMED_OUT,
                },
                "timed_out",
                None,
            ),
            Outcome::Interrupted { signal, code } => (
                Status::Interrupted {
                    part: name.clone(),
                    signal,
                    exit_code: code,
                },
                "interrupted",
                None,
            ),
            Outcome::SpawnFailed { error } => {
                out.say(Tone::Bad, &format!("error: {error}"));
                (
                    Status::Failed {
                        part: name.clone(),
                        exit_code: 127,
                    },
                    "failed",
                    Some(127),
                )
            }
        };
        reports.push(PartReport {
            kind: part.kind,
            name,
            command: Some(argv.to_vec()),
            outcome: outcome_name,
            exit_code: code,
            seconds: started.elapsed().as_secs_f64(),
            skip_reason: None,
        });
        let stop = this != Status::Ok
            && (ctx.settings.fail_fast
                || matches!(this, Status::Interrupted { .. } | Status::TimedOut { .. }));
        if status == Status::Ok {
            status = this;
        }
        if stop {
            break;
        }
    }
    status
}
