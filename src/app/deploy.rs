//! `bitops deploy`: signals first, then the plan, then the run through the executor,
//! its events written by the reporters chosen here.

use std::sync::Arc;
use std::time::Duration;

use crate::app::cli::{DeployArgs, OutputMode};
use crate::app::prepare::{Prepared, prepare};
use crate::app::use_color;
use crate::config::settings::{EnvVars, LogLevel, RunMode};
use crate::error::{Error, Result};
use crate::plan::preflight;
use crate::report::LogFormat;
use crate::report::ci::{Ci, CiLog};
use crate::report::console::Console;
use crate::report::event::{Event, Reporter, Tone};
use crate::report::files::ReportFiles;
use crate::report::log_file::LogFile;
use crate::report::mask::Masker;
use crate::report::model::{RunReport, RunStatus};
use crate::report::render::{Json, Render, Text};
use crate::report::sink::{DiagnosticWriter, Sink};
use crate::report::terminal::{Stream, Terminal};
use crate::run::execute::{self, Request};

/// How long output may take to drain once a run was interrupted.
const DRAIN_AFTER_SIGNAL: Duration = Duration::from_secs(2);

pub fn deploy(args: &DeployArgs) -> Result<()> {
    let result = deploy_inner(args);
    match (args.log_format, result) {
        // Every line JSON, the final error too: one line per configuration problem (with
        // its file and line), or the error with its exit code.
        (LogFormat::Json, Err(e)) if !matches!(e, Error::Printed { .. } | Error::Reported) => {
            let code = e.exit_code();
            let mut text = String::new();
            match &e {
                Error::Invalid(problems) => {
                    for p in problems {
                        let file = p.file.as_ref().map(|f| f.display().to_string());
                        text.push_str(&crate::report::render::json_error_line(
                            &p.to_string(),
                            code,
                            file.as_deref(),
                            p.line,
                        ));
                    }
                }
                other => text.push_str(&crate::report::render::json_error_line(
                    &format!("error: {other}"),
                    code,
                    None,
                    None,
                )),
            }
            crate::app::emit_err(&text);
            Err(Error::Printed { code })
        }
        (_, result) => result,
    }
}

fn deploy_inner(args: &DeployArgs) -> Result<()> {
    // From the first instruction: no signal ends a deploy without winding it down.
    crate::run::signals::install()?;
    let env = EnvVars::from_process();
    let ci = args.ci.resolve(&env);
    let prepared = match prepare(
        &args.common,
        &args.dry_run,
        args.grace_period,
        args.state_dir.as_deref(),
    ) {
        Ok(prepared) => prepared,
        Err(failed) => {
            if let Error::Invalid(problems) = &failed.error {
                invalid(args, ci, &env, *failed.masker, problems);
            }
            return Err(failed.error);
        }
    };
    // Every program every step needs, before step 1 (exit 127 listing all that are missing).
    let missing = preflight::missing(&prepared.plan, preflight::path_of(&prepared.ctx.env));
    if !missing.is_empty() {
        let problems = vec![preflight::error(&missing, true)];
        invalid(args, ci, &env, prepared.masker, &problems);
        return Err(Error::Invalid(problems));
    }
    // A signal caught while planning ends the run in the executor, with its report.
    let Prepared {
        ctx,
        plan,
        masker,
        warnings,
    } = prepared;
    let color = use_color(args.common.color, &ctx.env, ctx.settings.color);
    let level = ctx.settings.log_level;
    let terminal = Terminal::start();
    // Narration goes to stdout under CI, so that it stays in order with groups and output.
    let narration = if ci == Ci::None {
        Stream::Err
    } else {
        Stream::Out
    };
    // Steps at the same time: marked by prefixes, or each shown whole (under CI, where
    // groups cannot interleave, by default).
    let together = args.parallel > 1 && plan.graph.levels().iter().any(|l| l.len() > 1);
    let mode = args.output.unwrap_or(match (together, ci) {
        (false, _) => OutputMode::Stream,
        (true, Ci::None) => OutputMode::Prefixed,
        (true, _) => OutputMode::Grouped,
    });
    if mode == OutputMode::Grouped {
        terminal.hold_steps();
    }
    let groups = mode == OutputMode::Grouped || !together;
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if ci != Ci::None {
        reporters.push(ci_log(ci, &terminal, &ctx.env, groups));
    }
    // The console under CI shows step headers as group titles; the log file has no
    // groups, and marks lines by step whenever steps may run at the same time.
    let render = |color: bool, in_groups: bool, prefix: bool, inert: bool| -> Box<dyn Render> {
        match args.log_format {
            LogFormat::Text => Box::new(Text {
                color,
                narration,
                level,
                in_groups,
                prefix,
                inert,
            }),
            LogFormat::Json => Box::new(Json::new(narration, level)),
        }
    };
    reporters.push(Box::new(Console {
        render: render(
            color,
            ci != Ci::None && groups,
            mode == OutputMode::Prefixed,
            ci == Ci::Github,
        ),
        terminal: terminal.clone(),
    }));
    let mut log_problem = None;
    if let Some(path) = ctx.settings.log_file() {
        match LogFile::open(
            &path,
            render(false, false, mode != OutputMode::Stream, false),
        ) {
            Ok(log) => reporters.push(Box::new(log)),
            Err(e) => {
                log_problem = Some(
                    crate::error::Problem::warning(format!(
                        "cannot open the log file: {e}; logging to the console only"
                    ))
                    .file(&path),
                )
            }
        }
    }
    reporters.push(report_files(args));
    let sink = Sink::new(masker, Some(terminal), reporters);
    init_tracing(&sink, level, color);
    for p in warnings.iter().chain(&log_problem) {
        sink.emit(Event::Problem(p));
    }
    if ctx.settings.run_mode == RunMode::ValidateConfig {
        sink.notice(
            Tone::Plain,
            "run_mode validate_config: the configuration is valid; nothing was run",
        );
        sink.finish(None);
        return Ok(());
    }
    let state_dir = ctx.state_dir.clone();
    let request = Request {
        ctx: &ctx,
        plan: &plan,
        sink: &sink,
        state_dir,
        wait_lock: args.wait_lock,
        keep_workspace: args.keep_workspace,
        heartbeat: Some(args.heartbeat).filter(|d| !d.is_zero()),
        parallel: usize::from(args.parallel),
    };
    let (_, result) = execute::execute(&request);
    let wait = matches!(result, Err(Error::Interrupted { .. })).then_some(DRAIN_AFTER_SIGNAL);
    sink.finish(wait);
    result
}

/// Nothing ran: the report files and CI still hear why. The error itself is printed
/// by `main`.
fn invalid(
    args: &DeployArgs,
    ci: Ci,
    env: &EnvVars,
    masker: Masker,
    problems: &[crate::error::Problem],
) {
    let name = args
        .common
        .environment
        .clone()
        .or_else(|| env.get("BITOPS_ENVIRONMENT").map(String::from));
    let repo = args.common.inputs.ops_repo.clone().unwrap_or_default();
    let mut run = RunReport::new(name.as_deref().unwrap_or(""), &repo, args.dry_run.dry_run);
    run.status = RunStatus::Invalid;
    run.exit_code = Error::Invalid(problems.to_vec()).exit_code();
    run.problems = problems.iter().filter(|p| p.is_error()).cloned().collect();
    let terminal = Terminal::start();
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if ci != Ci::None {
        reporters.push(ci_log(ci, &terminal, env, true));
    }
    reporters.push(report_files(args));
    let sink = Sink::new(masker, Some(terminal), reporters);
    sink.emit(Event::RunFinished(&run));
    sink.finish(None);
}

/// The CI reporter, from the CI's own variables.
fn ci_log(ci: Ci, terminal: &Arc<Terminal>, env: &EnvVars, groups: bool) -> Box<dyn Reporter> {
    Box::new(CiLog {
        ci,
        terminal: terminal.clone(),
        summary: env.get("GITHUB_STEP_SUMMARY").map(Into::into),
        workspace: env.get("GITHUB_WORKSPACE").map(Into::into),
        groups,
    })
}

/// `--report` and `--junit`.
fn report_files(args: &DeployArgs) -> Box<dyn Reporter> {
    Box::new(ReportFiles {
        json: args.report.clone(),
        junit: args.junit.clone(),
    })
}

fn init_tracing(sink: &Arc<Sink>, level: LogLevel, color: bool) {
    let max = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warning => tracing::Level::WARN,
        LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(DiagnosticWriter(sink.clone()))
        .with_max_level(max)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
}
