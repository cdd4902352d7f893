//! The executor: takes the plan built up front and runs it as a stream of events —
//! the deploy lock, staging, then for each step its before-hooks, deploy script and
//! after-hooks; fail-fast policy; stop signals. Each step is resolved again from the
//! workspace right before it runs (hooks of earlier steps may have edited its files),
//! and any secret that resolution finds is masked before anything of the step is shown.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, exit};
use crate::plan::outputs::{MAX_OUTPUTS_BYTES, Outputs, Published, StepIo, inputs_json};
use crate::plan::{self, Context, Plan, Step};
use crate::repo::hooks::Hook;
use crate::report::event::{Event, Tag, Tone};
use crate::report::mask::secret_values;
use crate::report::model::{PartKind, PartReport, RunReport, RunStatus, Status, StepReport};
use crate::report::sink::{Sink, StepOut};
use crate::run::process::{self, Cancel, Outcome, Spec};
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
    /// How many steps may run at once (`--parallel`).
    pub parallel: usize,
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
    if let Err(Error::Interrupted { signal }) = &result {
        // Caught outside a step too (lock wait, staging): the sink says it once.
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

/// Where a step is in the run.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting,
    Running,
    Done(Status),
}

/// What a step's run hands back to the scheduler.
struct Finished {
    index: usize,
    report: StepReport,
    /// What it published, when it ended well.
    published: Option<Published>,
    /// Process groups that outlived their process (background jobs).
    groups: Vec<i32>,
}

/// A step being run, polled with the others by `next_done`.
type Running<'a> = Pin<Box<dyn Future<Output = Finished> + 'a>>;

/// Runs the steps: each as soon as the steps it waits for ended (at most `parallel`
/// at once, never two in one tool folder), with fail-fast, dependency-failure skips and
/// stop signals. The report lists the steps in plan order.
async fn run_steps(req: &Request<'_>, ws: &Workspace, report: &mut RunReport) -> Result<()> {
    let (ctx, sink, plan) = (req.ctx, req.sink, req.plan);
    let graph = &plan.graph;
    let mut signals = Signals::install()?;
    crate::run::reaper::become_subreaper();
    let io_dir = crate::run::scratch::reusable_tempdir(
        "bitops-outputs-",
        crate::run::scratch::Size::Few,
        &|_| false,
    )?;
    let total = plan.steps.len();
    let width = plan.steps.iter().map(|s| s.alias.len()).max().unwrap_or(0);
    let tag = |i: usize| Tag {
        index: plan.steps[i].index,
        alias: plan.steps[i].alias.clone(),
        width,
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let mut state = vec![State::Waiting; total];
    let mut reports: Vec<Option<StepReport>> = vec![None; total];
    let mut outputs = Outputs::new();
    let mut first_error: Option<Error> = None;
    let mut groups = Vec::new();
    let mut busy: Vec<(usize, PathBuf)> = Vec::new();
    let mut running: Vec<Running> = Vec::new();
    let mut first_waiting = 0;
    loop {
        if first_error.is_none()
            && let Some(signal) = crate::stop::requested()
        {
            first_error = Some(Error::Interrupted { signal });
        }
        let interrupted = matches!(first_error, Some(Error::Interrupted { .. }));
        let stopping = interrupted || (first_error.is_some() && ctx.settings.fail_fast);
        if stopping && !interrupted && !*cancel_tx.borrow() {
            // The others stop as on a signal; their reports say `cancelled`.
            let _ = cancel_tx.send(true);
        }
        // Start what can start, again after each skip (it may free a later step). The
        // steps before the first waiting one have all started: not looked at again.
        while first_waiting < total && state[first_waiting] != State::Waiting {
            first_waiting += 1;
        }
        let mut changed = !stopping;
        while changed {
            changed = false;
            for i in first_waiting..total {
                if running.len() >= req.parallel.max(1) {
                    break;
                }
                let ready = state[i] == State::Waiting
                    && graph.deps[i]
                        .iter()
                        .all(|&d| matches!(state[d], State::Done(_)));
                if !ready {
                    continue;
                }
                let failed_dep = graph.deps[i].iter().copied().find(|&d| {
                    graph.declared
                        && matches!(&state[d], State::Done(s) if s.failed() || skipped_for_failure(s))
                });
                if let Some(d) = failed_dep {
                    let out = StepOut::new(sink, Some(tag(i)));
                    let step = &plan.steps[i];
                    let reason = format!("dependency `{}` did not succeed", plan.steps[d].alias);
                    out.notice(
                        Tone::Warn,
                        &format!("warning: {reason}; skipping `{}`", step.alias),
                    );
                    let mut r = step_report(step);
                    r.status = Status::Skipped { reason };
                    out.emit(Event::StepFinished { step: &r, total });
                    state[i] = State::Done(r.status.clone());
                    reports[i] = Some(r);
                    changed = true;
                    continue;
                }
                let dir = ws.root().join(&plan.steps[i].tool_dir);
                let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
                if busy
                    .iter()
                    .any(|(_, b)| b.starts_with(&dir) || dir.starts_with(b))
                {
                    continue; // the same tool folder as a running step: after it
                }
                busy.push((i, dir));
                state[i] = State::Running;
                // Nothing published yet: no inputs, and no walk of the ancestors (a
                // long listed-order chain would make that quadratic).
                let inputs: Outputs = if outputs.is_empty() {
                    Outputs::default()
                } else {
                    graph
                        .ancestors(i)
                        .into_iter()
                        .filter_map(|a| {
                            let alias = &plan.steps[a].alias;
                            outputs.get(alias).map(|p| (alias.clone(), p.clone()))
                        })
                        .collect()
                };
                let one = OneStep {
                    req,
                    ws,
                    i,
                    out: StepOut::new(sink, Some(tag(i))),
                    io_dir: io_dir.path(),
                    inputs,
                    cancel: cancel_rx.clone(),
                };
                running.push(Box::pin(one.run()));
            }
        }
        if running.is_empty() {
            break;
        }
        let done = tokio::select! {
            done = next_done(&mut running) => done,
            signal = signals.next() => {
                sink.emit(Event::Interrupted { signal, grace_secs: ctx.grace.as_secs() });
                continue;
            }
        };
        let i = done.index;
        busy.retain(|(j, _)| *j != i);
        groups.extend(done.groups);
        if let Some(published) = done.published {
            outputs.insert(plan.steps[i].alias.clone(), published);
        }
        if first_error.is_none() {
            first_error = failure(&done.report.status, &plan.steps[i].alias);
        }
        state[i] = State::Done(done.report.status.clone());
        reports[i] = Some(done.report);
    }
    // The steps that never started.
    for (i, r) in reports.iter_mut().enumerate() {
        if r.is_none() {
            let not_run = step_report(&plan.steps[i]);
            sink.emit_in(
                Some(&tag(i)),
                Event::StepFinished {
                    step: &not_run,
                    total,
                },
            );
            *r = Some(not_run);
        }
    }
    report.steps = reports.into_iter().flatten().collect();
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

/// A step skipped because a dependency failed: its own dependents are skipped too.
fn skipped_for_failure(status: &Status) -> bool {
    matches!(status, Status::Skipped { reason } if reason.starts_with("dependency "))
}

/// The report of a step before it runs (`not_run`).
fn step_report(step: &Step) -> StepReport {
    StepReport {
        index: step.index,
        alias: step.alias.clone(),
        plugin: step.plugin.clone(),
        plugin_source: String::new(),
        status: Status::NotRun,
        seconds: 0.0,
        started_at: None,
        finished_at: None,
        needs: step.needs.clone(),
        parts: Vec::new(),
        output_tail: Vec::new(),
        outputs: Default::default(),
    }
}

/// The first of the running steps to end.
async fn next_done(running: &mut Vec<Running<'_>>) -> Finished {
    std::future::poll_fn(|cx| {
        for i in 0..running.len() {
            if let Poll::Ready(done) = running[i].as_mut().poll(cx) {
                drop(running.swap_remove(i));
                return Poll::Ready(done);
            }
        }
        Poll::Pending
    })
    .await
}

/// One step of the run, from its header to its result.
struct OneStep<'a, 'r> {
    req: &'a Request<'r>,
    ws: &'a Workspace,
    /// Its position in the plan.
    i: usize,
    out: Arc<StepOut>,
    io_dir: &'a Path,
    /// The outputs of the steps it depends on.
    inputs: Outputs,
    cancel: Cancel,
}

impl OneStep<'_, '_> {
    async fn run(mut self) -> Finished {
        let planned = &self.req.plan.steps[self.i];
        let total = self.req.plan.steps.len();
        let out = self.out.clone();
        let mut report = step_report(planned);
        out.emit(Event::StepStarted {
            index: planned.index,
            total,
            alias: &planned.alias,
            plugin: &planned.plugin,
        });
        report.started_at = Some(crate::report::time::now_rfc3339_millis());
        let started = Instant::now();
        let mut groups = Vec::new();
        let published = self.resolve_and_run(&mut report, &mut groups).await;
        report.seconds = started.elapsed().as_secs_f64();
        report.finished_at = Some(crate::report::time::now_rfc3339_millis());
        report.output_tail = out.take_tail();
        out.emit(Event::StepFinished {
            step: &report,
            total,
        });
        Finished {
            index: self.i,
            report,
            published,
            groups,
        }
    }

    /// The step resolved again with its inputs, its parts run, its outputs read: sets
    /// `report`'s status (and parts, plugin source, outputs); what it published when it
    /// ended well.
    async fn resolve_and_run(
        &mut self,
        report: &mut StepReport,
        groups: &mut Vec<i32>,
    ) -> Option<Published> {
        let (ctx, ws, out) = (self.req.ctx, self.ws, &self.out);
        let planned = &self.req.plan.steps[self.i];
        let dep = &ctx.settings.deployments[self.i];
        let failed = |part: &str| Status::Failed {
            part: part.into(),
            exit_code: exit::FAILURE,
        };
        let io = match step_io(self.io_dir, planned, std::mem::take(&mut self.inputs)) {
            Ok(io) => io,
            Err(e) => {
                out.notice(Tone::Bad, &format!("error: {e}"));
                report.status = failed("outputs");
                return None;
            }
        };
        let mut problems = Vec::new();
        let view = ws.view(&ctx.environment);
        let plugins = plan::plugins::Plugins::default();
        let target = plan::Target {
            view: &view,
            root: ws.root(),
            builtins: ws.builtin_plugins(),
            io: Some(&io),
            plugins: &plugins,
        };
        let step = plan::build_step(ctx, planned.index, dep, &target, &mut problems);
        // Name the files of the ops repo, not their copies in the workspace.
        for p in &mut problems {
            repo_problem(ctx, ws, p);
        }
        // Before anything of this step is shown: its secrets join the masks.
        out.sink()
            .add_secrets(&secret_values(&step.env, &ctx.settings.secret_env));
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
        report.plugin_source = match (&step.plugin_dir, step.plugin_builtin) {
            (_, true) => "built in".into(),
            (Some(dir), false) => dir.to_string_lossy().into_owned(),
            (None, false) => "unknown".into(),
        };
        let errors: Vec<_> = problems.into_iter().filter(|p| p.is_error()).collect();
        report.status = if let Some(first) = errors.first() {
            for p in &errors {
                out.emit(Event::Problem(p));
            }
            Status::Failed {
                part: "configuration".into(),
                exit_code: first.kind.exit_code(),
            }
        } else if let Some(reason) = &step.skip {
            // A problem, at the deployment's line: under CI it is an annotation too.
            let mut p =
                crate::error::Problem::warning(format!("{reason}; skipping `{}`", dep.alias))
                    .key(format!("bitops.deployments.{}", dep.alias));
            p.file = ctx.settings.deployments_file.clone();
            p.line = (dep.line > 0).then_some(dep.line);
            out.emit(Event::Problem(&p));
            Status::Skipped {
                reason: reason.clone(),
            }
        } else {
            let mut signals = match Signals::install() {
                Ok(s) => s,
                Err(e) => {
                    out.notice(Tone::Bad, &format!("error: {e}"));
                    report.status = failed("deploy script");
                    return None;
                }
            };
            let mut run = StepRun {
                ctx,
                step: &step,
                ws,
                out,
                signals: &mut signals,
                cancel: self.cancel.clone(),
                groups,
                parts: &mut report.parts,
                heartbeat: self.req.heartbeat,
            };
            run.run().await
        };
        if report.status != Status::Ok {
            return None;
        }
        match read_outputs(&io.outputs_file, &ctx.settings.secret_env) {
            Ok(published) => {
                // Before the report shows them: secret outputs join the masks.
                let secrets: Vec<String> = published.values().flat_map(|o| o.secrets()).collect();
                out.sink().add_secrets(&secrets);
                report.outputs = published
                    .iter()
                    .map(|(k, o)| (k.clone(), o.value.clone()))
                    .collect();
                Some(published)
            }
            Err(why) => {
                out.notice(
                    Tone::Bad,
                    &format!(
                        "error: the outputs `{}` wrote to $BITOPS_OUTPUTS cannot be read: {why}",
                        step.alias
                    ),
                );
                report.status = failed("outputs");
                None
            }
        }
    }
}

/// The step's outputs file (in the run's private folder, made by the step when it
/// publishes: creating files costs more than running a tiny step) and inputs file (what
/// the steps it depends on published; one shared `{}` for the steps without inputs).
fn step_io(dir: &Path, step: &Step, inputs: Outputs) -> std::io::Result<StepIo> {
    let name = format!(
        "{}-{}",
        step.index,
        crate::config::names::alias_word(&step.alias)
    );
    let inputs_file = if inputs.is_empty() {
        let empty = dir.join("no-inputs.json");
        if !empty.exists() {
            crate::files::write_private(&empty, b"{}\n")?;
        }
        empty
    } else {
        let file = dir.join(format!("{name}.inputs.json"));
        crate::files::write_private(&file, inputs_json(&inputs).as_bytes())?;
        file
    };
    let mut in_files = std::collections::BTreeMap::new();
    for (var, output) in crate::plan::outputs::too_large_for_variables(&inputs) {
        let file = dir.join(format!("{name}.{var}"));
        crate::files::write_private(&file, output.value.as_bytes())?;
        in_files.insert(var, file);
    }
    Ok(StepIo {
        outputs_file: dir.join(format!("{name}.outputs")),
        inputs_file,
        inputs,
        in_files,
    })
}

/// What the step published; nothing when it wrote no file. Only a regular file is read
/// (a FIFO left there does not block the run).
fn read_outputs(file: &Path, secret_env: &[String]) -> std::result::Result<Published, String> {
    let bytes = match crate::files::read_limited(file, MAX_OUTPUTS_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Published::new()),
        Err(e) => return Err(e.to_string()),
    };
    let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
    crate::plan::outputs::parse(&text, secret_env)
}

/// A problem found in the workspace's copy of a file, pointed at the ops repo's file.
fn repo_problem(ctx: &Context, ws: &Workspace, p: &mut crate::error::Problem) {
    let Some(copy) = p.file.clone() else { return };
    let Ok(rel) = copy.strip_prefix(ws.root()) else {
        return;
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
    out: &'a Arc<StepOut>,
    signals: &'r mut Signals,
    cancel: Cancel,
    groups: &'r mut Vec<i32>,
    parts: &'r mut Vec<PartReport>,
    heartbeat: Option<Duration>,
}

/// The environment of a step's processes: the caller's, then the step's variables;
/// made once per step, ready to hand to each of its processes.
type ChildEnv = Arc<crate::run::spawn::Env>;

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
        let env: ChildEnv = Arc::new(crate::run::spawn::Env::new(&self.ctx.env.1, &step.env));
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
                    || matches!(
                        this,
                        Status::Interrupted { .. }
                            | Status::TimedOut { .. }
                            | Status::Cancelled { .. }
                    ));
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
            self.out.emit(Event::PartSkipped {
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
        self.out.emit(Event::PartStarted {
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
            env: Arc::clone(env),
            timeout: deadline.map(|d| d.saturating_duration_since(Instant::now())),
            grace: self.ctx.grace,
            heartbeat: self.heartbeat,
        };
        let started = Instant::now();
        let (outcome, pgid) =
            process::run(&spec, self.out, self.signals, Some(self.cancel.clone())).await;
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
            Outcome::Cancelled => (Status::Cancelled { part: name.clone() }, "cancelled", None),
            Outcome::SpawnFailed { error } => {
                self.out.notice(Tone::Bad, &format!("error: {error}"));
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
        self.out.emit(Event::PartFinished(&part));
        self.parts.push(part);
    }
}
