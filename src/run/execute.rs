//! The executor: takes the plan built up front and runs it as a stream of events —
//! the deploy lock, staging, then for each step its before-hooks, deploy script and
//! after-hooks; fail-fast policy; stop signals. Each step is resolved again from the
//! workspace right before it runs (hooks of earlier steps may have edited its files),
//! and any secret that resolution finds is masked before anything of the step is shown.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, exit};
use crate::plan::{self, Context, Plan, Step};
use crate::repo::hooks::Hook;
use crate::report::event::{Event, Tone};
use crate::report::mask::secret_values;
use crate::report::model::{PartKind, PartReport, RunReport, RunStatus, Status, StepReport};
use crate::report::sink::Sink;
use crate::run::process::{self, Outcome, Spec};
use crate::run::signals::Signals;
use crate::run::workspace::{self, Workspace};

/// What a deploy needs beyond the plan.
pub struct Request<'a> {
    pub ctx: &'a Context,
    pub plan: &'a Plan,
    pub sink: &'a Arc<Sink>,
    /// The folder of the deploy locks, and how long to wait for one.
    pub state_dir: PathBuf,
    pub wait_lock: Option<Duration>,
    pub keep_workspace: bool,
    /// A line after this long without output from a step (`--heartbeat`).
    pub heartbeat: Option<Duration>,
}

/// Runs the plan: lock, stage, steps. Always returns the report of what happened
/// (written by the reporters at `RunFinished`), with the run's result.
pub fn execute(req: &Request) -> (RunReport, Result<()>) {
    let ctx = req.ctx;
    let started = Instant::now();
    let mut report = RunReport::new(&ctx.environment, &ctx.ops_repo, ctx.dry_run);
    let result = lock_stage_and_run(req, &mut report);
    report.seconds = started.elapsed().as_secs_f64();
    report.status = match &result {
        Ok(()) => RunStatus::Succeeded,
        Err(Error::Interrupted { .. }) => RunStatus::Interrupted,
        Err(_) => RunStatus::Failed,
    };
    report.exit_code = result.as_ref().err().map_or(exit::OK, Error::exit_code);
    if let Err(Error::Interrupted { signal }) = &result
        && report.steps.iter().all(|s| s.status == Status::NotRun)
    {
        // Caught outside a step (lock wait, staging): say so now.
        req.sink.emit(Event::Interrupted {
            signal: *signal,
            grace_secs: ctx.grace.as_secs(),
        });
    }
    req.sink.emit(Event::RunFinished(&report));
    (report, result)
}

fn lock_stage_and_run(req: &Request, report: &mut RunReport) -> Result<()> {
    let ctx = req.ctx;
    crate::stop::check()?;
    let _lock = crate::run::lock::acquire(
        &req.state_dir,
        &ctx.ops_repo,
        &ctx.environment,
        req.wait_lock,
        &|text| req.sink.notice(Tone::Plain, text),
    )?;
    req.sink.emit(Event::RunStarted {
        environment: &ctx.environment,
        steps: req.plan.steps.len(),
        dry_run: ctx.dry_run,
    });
    let builtins = req.plan.steps.iter().any(|s| s.plugin_builtin);
    let view = crate::repo::inputs::env_view(
        &ctx.ops_repo,
        &ctx.environment,
        &ctx.settings.default_folder,
    );
    let mut ws = workspace::stage(&ctx.ops_repo, &view, builtins)?;
    for notice in &ws.notices {
        req.sink.notice(Tone::Warn, &format!("warning: {notice}"));
    }
    let runtime =
        crate::run::runtime().map_err(|e| Error::io("start the runtime for", ws.root(), e))?;
    let result = runtime.block_on(run_steps(req, &ws, report));
    if req.keep_workspace {
        let plugins = ws
            .builtin_plugins()
            .map(|p| format!(" (built-in plugins at {})", p.display()))
            .unwrap_or_default();
        let path = ws.keep();
        req.sink.notice(
            Tone::Plain,
            &format!("workspace kept at {}{plugins}", path.display()),
        );
    }
    result
}

async fn run_steps(req: &Request<'_>, ws: &Workspace, report: &mut RunReport) -> Result<()> {
    let (ctx, sink) = (req.ctx, req.sink);
    let mut signals = Signals::install()?;
    crate::run::reaper::become_subreaper();
    let total = req.plan.steps.len();
    let mut first_error: Option<Error> = None;
    let mut groups = Vec::new();
    for (planned, dep) in req.plan.steps.iter().zip(&ctx.settings.deployments) {
        if first_error.is_none()
            && let Some(signal) = crate::stop::requested()
        {
            first_error = Some(Error::Interrupted { signal });
        }
        let stopped = matches!(first_error, Some(Error::Interrupted { .. }))
            || (first_error.is_some() && ctx.settings.fail_fast);
        let mut step_report = StepReport {
            index: planned.index,
            alias: planned.alias.clone(),
            plugin: planned.plugin.clone(),
            plugin_source: String::new(),
            status: Status::NotRun,
            seconds: 0.0,
            parts: Vec::new(),
            output_tail: Vec::new(),
        };
        if stopped {
            sink.emit(Event::StepFinished {
                step: &step_report,
                total,
            });
            report.steps.push(step_report);
            continue;
        }
        sink.emit(Event::StepStarted {
            index: planned.index,
            total,
            alias: &planned.alias,
            plugin: &planned.plugin,
        });
        let step_started = Instant::now();
        let mut problems = Vec::new();
        let view = ws.view(&ctx.environment);
        let target = plan::Target {
            view: &view,
            root: ws.root(),
            builtins: ws.builtin_plugins(),
        };
        let step = plan::build_step(ctx, planned.index, dep, &target, &mut problems);
        // Name the files of the ops repo, not their copies in the workspace.
        for p in &mut problems {
            let Some(copy) = p.file.clone() else { continue };
            let Ok(rel) = copy.strip_prefix(ws.root()) else {
                continue;
            };
            let original = ctx.ops_repo.join(rel);
            // A file merged with the default folder's differs anyway.
            let merged = rel.strip_prefix(&ctx.environment).is_ok_and(|r| {
                ctx.ops_repo
                    .join(&ctx.settings.default_folder)
                    .join(r)
                    .exists()
            });
            if !merged && std::fs::read(&original).ok() != std::fs::read(&copy).ok() {
                let note = "the run's copy of this file differs from the ops repo's: a hook of an earlier step changed it";
                p.hint = Some(match p.hint.take() {
                    Some(h) => format!("{h}; {note}"),
                    None => note.to_string(),
                });
            }
            p.file = Some(original);
        }
        // Before anything of this step is shown: its secrets join the masks.
        sink.add_secrets(&secret_values(&step.env, &ctx.settings.secret_env));
        for value in &step.values {
            let origin = value.origin.to_string();
            let ws_root = ws.root().to_string_lossy();
            let repo = ctx.ops_repo.to_string_lossy();
            tracing::debug!(
                "{}: {} = {} (from {})",
                step.alias,
                value.key,
                value.value.env_text(),
                origin.replacen(ws_root.as_ref(), repo.as_ref(), 1)
            );
        }
        step_report.plugin_source = match (&step.plugin_dir, step.plugin_builtin) {
            (_, true) => "built in".into(),
            (Some(dir), false) => dir.to_string_lossy().into_owned(),
            (None, false) => "unknown".into(),
        };
        let errors: Vec<_> = problems.into_iter().filter(|p| p.is_error()).collect();
        step_report.status = if let Some(first) = errors.first() {
            for p in &errors {
                sink.emit(Event::Problem(p));
            }
            Status::Failed {
                part: "configuration".into(),
                exit_code: first.kind.exit_code(),
            }
        } else if let Some(reason) = &step.skip {
            sink.notice(
                Tone::Warn,
                &format!("warning: {reason}; skipping `{}`", dep.alias),
            );
            Status::Skipped {
                reason: reason.clone(),
            }
        } else {
            let mut run = StepRun {
                ctx,
                step: &step,
                ws,
                sink,
                signals: &mut signals,
                groups: &mut groups,
                parts: &mut step_report.parts,
                heartbeat: req.heartbeat,
            };
            run.run().await
        };
        step_report.seconds = step_started.elapsed().as_secs_f64();
        step_report.output_tail = sink.take_tail();
        sink.emit(Event::StepFinished {
            step: &step_report,
            total,
        });
        if first_error.is_none() {
            first_error = failure(&step_report.status, &dep.alias);
        }
        report.steps.push(step_report);
    }
    // Background processes a hook or plugin left behind do not outlive the run, nor
    // do those that left their group (adopted by bitops, the subreaper).
    for pgid in groups {
        process::stop_group(pgid, Duration::from_secs(2), None).await;
    }
    let strays = crate::run::reaper::descendants();
    crate::run::reaper::stop(&strays, Duration::from_secs(2), None).await;
    let failed = report.steps.iter().filter(|s| s.status.failed()).count();
    match first_error {
        None => Ok(()),
        Some(e @ Error::Interrupted { .. }) => Err(e),
        Some(e) if ctx.settings.fail_fast => Err(e),
        Some(_) => Err(Error::SomeFailed { failed, total }),
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
        Status::Interrupted { signal, .. } => Some(Error::Interrupted { signal: *signal }),
        _ => None,
    }
}

/// One process of a step: a hook or the deploy script.
struct Part<'a> {
    kind: PartKind,
    label: String,
    argv: Option<&'a [String]>,
    /// A hook's file, run under its real name (which may not be UTF-8).
    script: Option<&'a std::path::Path>,
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
        script: Some(&hook.path),
        skip: hook.skip_reason.as_deref(),
    }
}

/// A step being run: its parts in order, each reported.
struct StepRun<'a, 'r> {
    ctx: &'a Context,
    step: &'a Step,
    ws: &'a Workspace,
    sink: &'a Arc<Sink>,
    signals: &'r mut Signals,
    groups: &'r mut Vec<i32>,
    parts: &'r mut Vec<PartReport>,
    heartbeat: Option<Duration>,
}

/// The environment of a step's processes: the caller's, then the step's variables.
type ChildEnv = Vec<(std::ffi::OsString, std::ffi::OsString)>;

impl StepRun<'_, '_> {
    async fn run(&mut self) -> Status {
        let step = self.step;
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
                script: None,
                skip: None,
            }))
            .chain(
                step.after_hooks
                    .iter()
                    .map(|h| hook_part(PartKind::AfterHook, h)),
            )
            .collect();
        let env = self.ctx.env.with(&step.env);
        let mut status = Status::Ok;
        for part in parts {
            if part.kind == PartKind::AfterHook
                && status != Status::Ok
                && self.ctx.settings.fail_fast
            {
                break; // after-hooks of a failed step are skipped
            }
            let this = self.part(part, &env, deadline).await;
            let stop = this != Status::Ok
                && (self.ctx.settings.fail_fast
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

    async fn part(&mut self, part: Part<'_>, env: &ChildEnv, deadline: Option<Instant>) -> Status {
        let name = part.label;
        let Some(argv) = part.argv else {
            let reason = part.skip.unwrap_or("not runnable").to_string();
            self.sink.emit(Event::PartSkipped {
                label: &name,
                reason: &reason,
            });
            self.finished(PartReport {
                kind: part.kind,
                name,
                command: None,
                outcome: "skipped",
                exit_code: None,
                seconds: 0.0,
                skip_reason: Some(reason),
                file: self.repo_file(part.script),
            });
            return Status::Ok;
        };
        self.sink.emit(Event::PartStarted {
            label: &name,
            command: argv,
        });
        let mut words: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
        if let (Some(script), Some(last)) = (part.script, words.last_mut()) {
            *last = script.as_os_str().to_owned();
        }
        let spec = Spec {
            argv: words,
            cwd: self.ws.root().join(&self.step.tool_dir),
            env: env.clone(),
            timeout: deadline.map(|d| d.saturating_duration_since(Instant::now())),
            grace: self.ctx.grace,
            heartbeat: self.heartbeat,
        };
        let started = Instant::now();
        let (outcome, pgid) = process::run(&spec, self.sink, self.signals).await;
        self.groups.extend(pgid);
        let (status, outcome_name, code) = match outcome {
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
            Outcome::Interrupted { signal } => (
                Status::Interrupted {
                    part: name.clone(),
                    signal,
                    exit_code: signal.exit_code(),
                },
                "interrupted",
                None,
            ),
            Outcome::SpawnFailed { error } => {
                self.sink.notice(Tone::Bad, &format!("error: {error}"));
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
        self.finished(PartReport {
            kind: part.kind,
            name,
            command: Some(argv.to_vec()),
            outcome: outcome_name,
            exit_code: code,
            seconds: started.elapsed().as_secs_f64(),
            skip_reason: None,
            file: self.repo_file(part.script),
        });
        status
    }

    /// A hook's file in the ops repo, from its copy in the workspace.
    fn repo_file(&self, script: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
        let rel = script?.strip_prefix(self.ws.root()).ok()?;
        Some(self.ctx.ops_repo.join(rel))
    }

    fn finished(&mut self, part: PartReport) {
        self.sink.emit(Event::PartFinished(&part));
        self.parts.push(part);
    }
}
