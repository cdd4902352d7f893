//! The commands: load the config layers, build the plan, then print or run it.

pub mod cli;
pub mod discover;

use std::path::PathBuf;
use std::sync::Arc;

use crate::app::cli::{
    Cli, ColorChoice, Command, Common, DeployArgs, DryRun, Format, InstallArgs, ListArgs,
    PluginsArgs, PluginsCommand, ResolveArgs, ResolveFormat, TableFormat, ValidateArgs,
};
use crate::config::settings::{self, EnvVars, Layers, LogLevel, RunMode};
use crate::config::yaml::Doc;
use crate::error::{Error, Problem, Result, check};
use crate::plan::{Context, Plan};
use crate::repo::inputs;
use crate::report::mask::Masker;
use crate::report::output::{Ci, LogFormat, LogWriter, Output, Tone};
use crate::report::{self, RunReport, RunStatus};
use crate::run::workspace;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Deploy(args) => deploy(&args),
        Command::Install(args) => install(&args),
        Command::List(args) => list(&args),
        Command::Validate(args) => validate(&args),
        Command::Resolve(args) => resolve(&args),
        Command::Plugins(args) => plugins(&args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "bitops", &mut script);
            emit(&String::from_utf8_lossy(&script));
            Ok(())
        }
        Command::Plan(args) => {
            let (_, plan, out) = prepare(
                &args.common,
                &args.dry_run,
                Style::default(),
                std::time::Duration::ZERO,
            )?;
            match args.format {
                Format::Text => out.print(&crate::report::plan_text::plan_text(&plan)),
                Format::Json => {
                    out.print(&(serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n"))
                }
            }
            Ok(())
        }
    }
}

fn install(args: &InstallArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let doc = inputs::image_config(args.config.as_deref())?;
    let mut problems = Vec::new();
    let layers = Layers {
        env: &env,
        docs: vec![&doc],
    };
    let settings = settings::resolve(&layers, &mut problems);
    let color = use_color(args.color, &env, settings.color);
    let out = Output::new(
        Masker::new(&settings.masks, &env, &settings.secret_env),
        None,
        color,
    )
    .shared();
    for p in problems.iter().filter(|p| !p.is_error()) {
        out.say(Tone::Plain, &p.to_string());
    }
    let plugins_dir = args
        .plugins_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(inputs::DEFAULT_PLUGINS_DIR));
    let plugins_dir = std::path::absolute(&plugins_dir).unwrap_or(plugins_dir);
    let request = crate::run::install::Request {
        sources: &settings.plugins,
        config_file: &doc.path,
        plugins_dir: &plugins_dir,
        fail_fast: settings.fail_fast,
    };
    crate::run::install::install(&request, problems, &env, &out)
}

fn resolve(args: &ResolveArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let (schema_path, schema_root) = match &args.schema {
        Some(path) => (path.clone(), crate::config::yaml::load_file(path)),
        None => {
            let installed = env.get("BITOPS_INSTALLED_PLUGIN_DIR").map(PathBuf::from);
            let located = crate::plugin::locate(
                installed.as_deref().and_then(std::path::Path::parent),
                None,
                &args.plugin,
            )
            .ok_or_else(|| {
                Error::Invalid(vec![
                    Problem::error(format!("unknown plugin `{}`", args.plugin))
                        .hint("pass --schema FILE"),
                ])
            })?;
            let path = located.path(crate::plugin::SCHEMA);
            let loaded = located.load_yaml(crate::plugin::SCHEMA).ok_or_else(|| {
                Error::Invalid(vec![
                    Problem::error(format!(
                        "plugin `{}` has no {}",
                        args.plugin,
                        crate::plugin::SCHEMA
                    ))
                    .file(&path),
                ])
            })?;
            (path, loaded)
        }
    };
    let root = schema_root.map_err(|e| Error::Invalid(vec![e.at(&schema_path)]))?;
    let mut problems = Vec::new();
    let schema = crate::plugin::schema::parse_schema(
        &Doc {
            path: schema_path,
            root,
        },
        &args.plugin,
        &mut problems,
    );
    let mut layers = Vec::new();
    for path in args.configs.iter().filter(|p| p.exists()) {
        match crate::config::yaml::load_file(path) {
            Ok(root) => layers.push(Doc {
                path: path.clone(),
                root,
            }),
            Err(e) => problems.push(e.at(path)),
        }
    }
    check(&problems)?;
    let Some(schema) = schema else {
        return Err(Error::Invalid(problems));
    };
    // Like a tool folder's config, the root key may be the plugin or the deployment alias.
    let mut roots = vec![args.plugin.clone()];
    roots.extend(env.get("BITOPS_DEPLOYMENT_ALIAS").map(String::from));
    let config = crate::plugin::schema::ToolConfig {
        layers: &layers,
        roots,
    };
    let res = crate::plugin::schema::resolve(&schema, &config, &env, &mut problems);
    for p in problems.iter().filter(|p| !p.is_error()) {
        eprintln!("{p}");
    }
    check(&problems)?;
    let cli_vars = res.cli_vars(&args.plugin);
    match args.format {
        ResolveFormat::Json => print_json(&serde_json::json!({
            "cli": cli_vars[0].1,
            "cli_words": res.cli_words,
            "exports": res.exports.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "values": res.values,
        })),
        ResolveFormat::Shell => {
            let mut text = String::new();
            for (name, value) in cli_vars.iter().chain(res.exports.iter()) {
                let value = shlex::try_quote(value)
                    .map(|q| q.into_owned())
                    .unwrap_or_default();
                text.push_str(&format!("export {name}={value}\n"));
            }
            emit(&text);
        }
    }
    Ok(())
}

fn validate(args: &ValidateArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let repo = inputs::ops_repo(args.inputs.ops_repo.as_deref())?;
    let environments = if args.all {
        inputs::environments(&repo)
    } else {
        let mut problems = Vec::new();
        let name = inputs::environment(args.environment.as_deref(), &env, &repo, &mut problems)?;
        vec![name]
    };
    let request = crate::plan::validate::Request {
        repo: &repo,
        environments,
        config: args.inputs.config.as_deref(),
        plugins_dir: inputs::plugins_dir(args.inputs.plugins_dir.as_deref()),
        strict: args.strict,
    };
    let report = crate::plan::validate::validate(&request, &env)?;
    match args.format {
        Format::Json => print_json(&report),
        Format::Text => emit(&crate::plan::validate::text(&report)),
    }
    if resolve_ci(args.ci, &env) == Ci::Github {
        for finding in report.problems.iter().filter(|f| f.problem.is_error()) {
            emit(&(report::github_problem(&finding.problem) + "\n"));
        }
    }
    if report.errors > 0 {
        Err(Error::Reported)
    } else {
        Ok(())
    }
}

fn list(args: &ListArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let repo = inputs::ops_repo(args.inputs.ops_repo.as_deref())?;
    let name = args
        .environment
        .clone()
        .or_else(|| env.get("BITOPS_ENVIRONMENT").map(String::from));
    let Some(name) = name else {
        let envs = discover::environments(&repo);
        match args.format {
            TableFormat::Json => print_json(&envs),
            _ => emit(&discover::environments_text(&repo, &envs)),
        }
        return Ok(());
    };
    let mut problems = Vec::new();
    let environment = inputs::environment(Some(&name), &env, &repo, &mut problems)?;
    let image = inputs::image_config(args.inputs.config.as_deref())?;
    let settings = inputs::env_settings(&repo, &environment, &image, &env, &mut problems);
    check(&problems)?;
    let plugins_dir = inputs::plugins_dir(args.inputs.plugins_dir.as_deref());
    let view = inputs::env_view(&repo, &environment, &settings.default_folder);
    let deps = discover::deployments(&settings, &view, plugins_dir.as_deref());
    match args.format {
        TableFormat::Json => print_json(&deps),
        _ => emit(&discover::deployments_text(
            &environment,
            settings.deployments_file.as_deref(),
            &deps,
        )),
    }
    Ok(())
}

fn plugins(args: &PluginsArgs) -> Result<()> {
    let plugins_dir = inputs::plugins_dir(args.plugins_dir.as_deref());
    match &args.show {
        None => {
            let list = discover::plugins(plugins_dir.as_deref());
            match args.format {
                TableFormat::Json => print_json(&list),
                _ => emit(&discover::plugins_text(&list)),
            }
        }
        Some(PluginsCommand::Show { name }) => {
            let (located, rows) = discover::settings_of(plugins_dir.as_deref(), name)?;
            match args.format {
                TableFormat::Json => print_json(&rows),
                format => emit(&discover::settings_text(name, &located, &rows, format)),
            }
        }
    }
    Ok(())
}

/// Pretty JSON with a final newline.
fn print_json<T: serde::Serialize>(value: &T) {
    emit(&(serde_json::to_string_pretty(value).unwrap_or_default() + "\n"));
}

/// Writes to stdout; a reader that went away (`| head`) just ends the output.
fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn use_color(choice: ColorChoice, env: &EnvVars, configured: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            env.get("NO_COLOR").is_none()
                && (configured || std::io::IsTerminal::is_terminal(&std::io::stderr()))
        }
    }
}

/// How bitops' own output looks.
#[derive(Clone, Copy)]
struct Style {
    format: LogFormat,
    ci: Ci,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            format: LogFormat::Text,
            ci: Ci::None,
        }
    }
}

/// `--ci auto`: GitHub Actions or GitLab CI when their variables say so.
fn resolve_ci(choice: Ci, env: &EnvVars) -> Ci {
    match choice {
        Ci::Auto if env.get("GITHUB_ACTIONS") == Some("true") => Ci::Github,
        Ci::Auto if env.get("GITLAB_CI") == Some("true") => Ci::Gitlab,
        Ci::Auto => Ci::None,
        other => other,
    }
}

fn deploy(args: &DeployArgs) -> Result<()> {
    let env = EnvVars::from_process();
    let style = Style {
        format: args.log_format,
        ci: resolve_ci(args.ci, &env),
    };
    let (ctx, plan, out) = match prepare(&args.common, &args.dry_run, style, args.grace_period) {
        Ok(prepared) => prepared,
        Err(e) => {
            // Nothing ran; reports and CI still hear why.
            if let Error::Invalid(problems) = &e {
                if style.ci == Ci::Github {
                    for p in problems {
                        emit(&(report::github_problem(p) + "\n"));
                    }
                }
                let name = args
                    .common
                    .environment
                    .clone()
                    .or_else(|| env.get("BITOPS_ENVIRONMENT").map(String::from));
                let repo = args.common.inputs.ops_repo.clone().unwrap_or_default();
                let mut run =
                    RunReport::new(name.as_deref().unwrap_or(""), &repo, args.dry_run.dry_run);
                run.status = RunStatus::Invalid;
                run.exit_code = e.exit_code();
                run.problems = problems.clone();
                let masker = Masker::new(&[], &env, &[]);
                write_reports(args, &run, &masker, None);
                github_summary(style.ci, &env, &run);
            }
            return Err(e);
        }
    };
    if ctx.settings.run_mode == RunMode::ValidateConfig {
        out.say(
            Tone::Plain,
            "run_mode validate_config: the configuration is valid; nothing was run",
        );
        return Ok(());
    }
    let state = crate::run::lock::state_dir(args.state_dir.as_deref(), &ctx.env);
    let _lock = crate::run::lock::acquire(&state, &ctx.ops_repo, &ctx.environment, args.wait_lock)?;
    let mut run = RunReport::new(&ctx.environment, &ctx.ops_repo, ctx.dry_run);
    let builtins = plan.steps.iter().any(|s| s.plugin_builtin);
    let result = stage_and_run(&ctx, &out, args.keep_workspace, builtins, &mut run);
    if let Err(e) = &result
        && run.steps.is_empty()
    {
        run.status = RunStatus::Failed;
        run.exit_code = e.exit_code();
    }
    for (tone, line) in report::summary(&run) {
        out.say(tone, &line);
    }
    write_reports(args, &run, out.masker(), Some(&out));
    github_summary(style.ci, &ctx.env, &run);
    result
}

fn stage_and_run(
    ctx: &Context,
    out: &Arc<Output>,
    keep: bool,
    builtins: bool,
    run: &mut RunReport,
) -> Result<()> {
    let mut ws = workspace::stage(&ctx.ops_repo, &view(ctx), builtins)?;
    for notice in &ws.notices {
        out.say(Tone::Warn, &format!("warning: {notice}"));
    }
    let result = crate::run::execute::execute(ctx, &ws, out, run);
    if keep {
        let plugins = ws
            .builtin_plugins()
            .map(|p| format!(" (built-in plugins at {})", p.display()))
            .unwrap_or_default();
        let path = ws.keep();
        out.say(
            Tone::Plain,
            &format!("workspace kept at {}{plugins}", path.display()),
        );
    }
    result
}

/// `--report` and `--junit`, written whatever the outcome.
fn write_reports(args: &DeployArgs, run: &RunReport, masker: &Masker, out: Option<&Output>) {
    type Writer = fn(&RunReport, &std::path::Path, &Masker) -> std::io::Result<()>;
    let writers: [(&Option<PathBuf>, Writer); 2] = [
        (&args.report, report::write_json),
        (&args.junit, report::write_junit),
    ];
    for (path, write) in writers {
        if let Some(path) = path
            && let Err(e) = write(run, path, masker)
        {
            let text = format!("warning: cannot write {}: {e}", path.display());
            match out {
                Some(out) => out.say(Tone::Warn, &text),
                None => eprintln!("{text}"),
            }
        }
    }
}

/// Appends the run's Markdown table to `$GITHUB_STEP_SUMMARY` under GitHub Actions.
fn github_summary(ci: Ci, env: &EnvVars, run: &RunReport) {
    if ci != Ci::Github {
        return;
    }
    if let Some(path) = env.get("GITHUB_STEP_SUMMARY") {
        use std::io::Write;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut f) = file {
            let _ = f.write_all((report::markdown(run) + "\n").as_bytes());
        }
    }
}

fn view(ctx: &Context) -> crate::repo::view::EnvView {
    inputs::env_view(
        &ctx.ops_repo,
        &ctx.environment,
        &ctx.settings.default_folder,
    )
}

/// Everything up to a checked plan: config layers, settings, output, plan.
fn prepare(
    args: &Common,
    dry: &DryRun,
    style: Style,
    grace: std::time::Duration,
) -> Result<(Context, Plan, Arc<Output>)> {
    let env = EnvVars::from_process();
    let mut problems = Vec::new();
    let ops_repo = inputs::ops_repo(args.inputs.ops_repo.as_deref())?;
    let environment =
        inputs::environment(args.environment.as_deref(), &env, &ops_repo, &mut problems)?;
    let image_doc = inputs::image_config(args.inputs.config.as_deref())?;
    let options = crate::plan::load::PlanOptions {
        only: &args.only,
        skip: &args.skip,
        dry_run: dry.dry_run,
        dry_run_hooks: dry.dry_run_hooks,
        grace,
    };
    let plugins_dir = inputs::plugins_dir(args.inputs.plugins_dir.as_deref());
    let (mut ctx, mut plan) = crate::plan::load::plan_env(
        &ops_repo,
        &environment,
        &image_doc,
        env,
        plugins_dir,
        &options,
    );
    problems.append(&mut plan.problems);
    let settings = &mut ctx.settings;
    if let Some(level) = &args.log_level {
        match LogLevel::parse(level) {
            Some(l) => settings.log_level = l,
            None => problems.push(
                Problem::error(format!("unknown log level `{level}` given to --log-level"))
                    .hint("use DEBUG, INFO, WARNING, ERROR or CRITICAL"),
            ),
        }
    }
    let color = use_color(args.color, &ctx.env, settings.color);
    let log_file = settings.log_file().and_then(|path| {
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::os::unix::fs::OpenOptionsExt::mode(
                    std::fs::OpenOptions::new().create(true).append(true),
                    0o600,
                )
                .open(&path)
            });
        match opened {
            Ok(f) => Some(f),
            Err(e) => {
                problems.push(
                    Problem::warning(format!(
                        "cannot open the log file: {e}; logging to the console only"
                    ))
                    .file(&path),
                );
                None
            }
        }
    });
    let masker = masker_for(&ctx, &plan);
    let out = Output::new(masker, log_file, color)
        .with_format(style.format, style.ci)
        .shared();
    init_tracing(&out, ctx.settings.log_level, color);
    if ctx.settings.log_level <= LogLevel::Warning {
        for p in problems.iter().filter(|p| !p.is_error()) {
            out.say(Tone::Warn, &p.to_string());
        }
    }
    // Error messages quote values: they are masked like everything else.
    for p in &mut problems {
        p.message = out.masker().mask_str(&p.message).into_owned();
    }
    check(&problems)?;
    plan.problems = problems;
    Ok((ctx, plan, out))
}

/// Masks for the run: the `logging.masks` regexes, the values of secret variables in
/// the environment, and the values of secret-named variables a step exports (a schema's
/// `export_env: API_TOKEN` whose value comes from a config file).
fn masker_for(ctx: &Context, plan: &Plan) -> Masker {
    let names = &ctx.settings.secret_env;
    let exported: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|step| &step.env)
        .filter(|(k, _)| crate::report::mask::is_secret_name(k, names))
        .map(|(_, v)| v.clone())
        .collect();
    Masker::with_values(&ctx.settings.masks, &ctx.env, names, &exported)
}

fn init_tracing(out: &Arc<Output>, level: LogLevel, color: bool) {
    let max = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warning => tracing::Level::WARN,
        LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
    };
    let writer = LogWriter(out.clone());
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(max)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
}
