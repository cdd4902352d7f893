//! The commands: load the config layers, build the plan, then print or run it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{Cli, ColorChoice, Command, Common, DryRun, Format, InstallArgs};
use crate::error::{Error, Problem, Result, check};
use crate::mask::Masker;
use crate::output::{LogWriter, Output};
use crate::plan::{self, Context, Plan};
use crate::settings::{self, EnvVars, Layers, LogLevel, RunMode};
use crate::view::EnvView;
use crate::workspace;
use crate::yaml::Doc;

const DEFAULT_OPS_REPO: &str = "/opt/bitops_deployment";
const DEFAULT_CORE_CONFIG: &str = "/opt/bitops/bitops.config.yaml";
const DEFAULT_PLUGINS_DIR: &str = "/opt/bitops/scripts/installed_plugins";
const IMAGE_BITOPS_DIR: &str = "/opt/bitops";
const BUILTIN_CONFIG: &str = include_str!("default_config.yaml");
const BUILTIN_CONFIG_NAME: &str = "<built-in config>";

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Deploy(args) => {
            let (ctx, plan, out) = prepare(&args.common, &args.dry_run)?;
            if ctx.settings.run_mode == RunMode::ValidateConfig {
                out.note(
                    "run_mode validate_config: the configuration is valid; nothing was run",
                    None,
                );
                return Ok(());
            }
            deploy(&ctx, &plan, &out, args.keep_workspace)
        }
        Command::Install(args) => install(&args),
        Command::Plan(args) => {
            let (_, plan, out) = prepare(&args.common, &args.dry_run)?;
            match args.format {
                Format::Text => out.print(&crate::render::plan_text(&plan)),
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
    let doc = image_config(args.config.as_deref())?;
    let mut problems = Vec::new();
    let layers = Layers {
        env: &env,
        docs: vec![&doc],
    };
    let settings = settings::resolve(&layers, &mut problems);
    let color = use_color(args.color, &env, settings.color);
    let out = Output::new(Masker::new(&settings.masks, &env, &[]), None, color);
    for p in problems.iter().filter(|p| !p.is_error()) {
        out.note(&p.to_string(), None);
    }
    let plugins_dir = args
        .plugins_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PLUGINS_DIR));
    let plugins_dir = std::path::absolute(&plugins_dir).unwrap_or(plugins_dir);
    let request = crate::install::Request {
        sources: &settings.plugins,
        config_file: &doc.path,
        plugins_dir: &plugins_dir,
        fail_fast: settings.fail_fast,
    };
    crate::install::install(&request, problems, &env, &out)
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

fn deploy(ctx: &Context, plan: &Plan, out: &Arc<Output>, keep: bool) -> Result<()> {
    let mut ws = workspace::stage(&ctx.ops_repo, &view(ctx))?;
    for notice in &ws.notices {
        out.note(&format!("warning: {notice}"), None);
    }
    let (_report, result) = crate::exec::execute(ctx, plan, &ws, out);
    if keep {
        let plugins = ws.builtin_plugins().to_path_buf();
        let path = ws.keep();
        out.note(
            &format!(
                "workspace kept at {} (built-in plugins at {})",
                path.display(),
                plugins.display()
            ),
            None,
        );
    }
    result
}

fn view(ctx: &Context) -> EnvView {
    let default_dir = ctx.ops_repo.join(&ctx.settings.default_folder);
    EnvView {
        env_name: ctx.environment.clone(),
        env_dir: ctx.ops_repo.join(&ctx.environment),
        default_dir: default_dir.is_dir().then_some(default_dir),
    }
}

/// The image-level core config: `-c`, else the image's file, else the built-in one.
fn image_config(flag: Option<&Path>) -> Result<Doc> {
    match flag
        .map(Path::to_path_buf)
        .or_else(|| existing(DEFAULT_CORE_CONFIG))
    {
        Some(path) => settings::load_core_file(&path).map_err(|p| Error::Invalid(vec![p])),
        None => Ok(Doc {
            path: PathBuf::from(BUILTIN_CONFIG_NAME),
            root: crate::yaml::parse(BUILTIN_CONFIG).expect("the built-in config is valid YAML"),
        }),
    }
}

fn existing(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    p.exists().then_some(p)
}

/// Everything up to a checked plan: config layers, settings, output, plan.
fn prepare(args: &Common, dry: &DryRun) -> Result<(Context, Plan, Arc<Output>)> {
    let env = EnvVars::from_process();
    let mut problems = Vec::new();
    let ops_repo = args
        .ops_repo
        .clone()
        .or_else(|| existing(DEFAULT_OPS_REPO))
        .unwrap_or_else(|| PathBuf::from("."));
    if !ops_repo.is_dir() {
        return Err(Error::Invalid(vec![
            Problem::error("the ops repo folder does not exist")
                .file(&ops_repo)
                .hint("pass --ops-repo DIR or set BITOPS_OPS_REPO"),
        ]));
    }
    let environment = environment(args, &env, &ops_repo, &mut problems)?;
    let image_doc = image_config(args.config.as_deref())?;
    // The environment-level core config, with the default folder's merged under it.
    let env_dir = ops_repo.join(&environment);
    let default_folder = env
        .get("BITOPS_DEFAULT_FOLDER")
        .map(String::from)
        .or_else(|| {
            let path = ["bitops".to_string(), "default_folder".to_string()];
            image_doc.root.get_path(&path)?.scalar_text()
        })
        .unwrap_or_else(|| "_default".into());
    let pre_view = EnvView {
        env_name: environment.clone(),
        env_dir: env_dir.clone(),
        default_dir: Some(ops_repo.join(&default_folder)).filter(|d| d.is_dir()),
    };
    let mut env_docs: Vec<Doc> = Vec::new();
    for path in pre_view.file_layers(Path::new(plan::TOOL_CONFIG)) {
        match settings::load_core_file(&path) {
            Ok(doc) => env_docs.push(doc),
            Err(p) => problems.push(p),
        }
    }
    let layers = Layers {
        env: &env,
        docs: env_docs.iter().chain(std::iter::once(&image_doc)).collect(),
    };
    let mut settings = settings::resolve(&layers, &mut problems);
    settings::require_deployments(&settings, &env_dir.join(plan::TOOL_CONFIG), &mut problems);
    settings::select(&mut settings, &args.only, &args.skip, &mut problems);
    if let Some(level) = &args.log_level {
        match LogLevel::parse(level) {
            Some(l) => settings.log_level = l,
            None => problems.push(
                Problem::error(format!("unknown log level `{level}` given to --log-level"))
                    .hint("use DEBUG, INFO, WARNING, ERROR or CRITICAL"),
            ),
        }
    }
    let color = use_color(args.color, &env, settings.color);
    let log_file = settings.log_file().and_then(|path| {
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
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
    let out = Output::new(Masker::new(&settings.masks, &env, &[]), log_file, color);
    init_tracing(&out, settings.log_level, color);
    let plugins_dir = args
        .plugins_dir
        .clone()
        .or_else(|| existing(DEFAULT_PLUGINS_DIR))
        .map(|p| std::path::absolute(&p).unwrap_or(p));
    let ctx = Context {
        environment,
        ops_repo,
        plugins_dir,
        env,
        bitops_dir: bitops_dir(),
        dry_run: dry.dry_run,
        dry_run_hooks: dry.dry_run_hooks,
        settings,
    };
    let mut plan = plan::build(&ctx, &view(&ctx));
    problems.append(&mut plan.problems);
    if ctx.settings.log_level <= LogLevel::Warning {
        for p in problems.iter().filter(|p| !p.is_error()) {
            out.note(
                &p.to_string(),
                Some(&crate::output::paint("33", &p.to_string())),
            );
        }
    }
    check(&problems)?;
    plan.problems = problems;
    Ok((ctx, plan, out))
}

fn environment(
    args: &Common,
    env: &EnvVars,
    repo: &Path,
    problems: &mut Vec<Problem>,
) -> Result<String> {
    let name = match (
        &args.environment,
        env.get("BITOPS_ENVIRONMENT"),
        env.get("ENVIRONMENT"),
    ) {
        (Some(name), _, _) => name.clone(),
        (None, Some(name), _) => name.to_string(),
        (None, None, Some(name)) => {
            problems.push(Problem::warning(
                "ENVIRONMENT is deprecated; set BITOPS_ENVIRONMENT instead",
            ));
            name.to_string()
        }
        (None, None, None) => {
            return Err(Error::Invalid(vec![
                Problem::error("no environment given").hint(format!(
                    "pass -e ENV or set BITOPS_ENVIRONMENT; environments in {}: {}",
                    repo.display(),
                    environments(repo)
                )),
            ]));
        }
    };
    let invalid = crate::names::check(&name).err();
    if let Some(why) = invalid {
        return Err(Error::Invalid(vec![Problem::error(why).key("environment")]));
    }
    if name.starts_with('_') || name.starts_with('.') {
        return Err(Error::Invalid(vec![
            Problem::error(format!(
                "`{name}` is not an environment: folders starting with `_` or `.` never are"
            ))
            .hint(format!(
                "environments in {}: {}",
                repo.display(),
                environments(repo)
            )),
        ]));
    }
    if !repo.join(&name).is_dir() {
        return Err(Error::Invalid(vec![
            Problem::error(format!(
                "environment `{name}` not found: there is no folder {}",
                repo.join(&name).display()
            ))
            .hint(format!(
                "environments in {}: {}",
                repo.display(),
                environments(repo)
            )),
        ]));
    }
    Ok(name)
}

/// The environment folders of a repo, for hints.
fn environments(repo: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(repo)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('_') && !n.starts_with('.'))
        .collect();
    names.sort();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn bitops_dir() -> PathBuf {
    if Path::new(IMAGE_BITOPS_DIR).is_dir() {
        return PathBuf::from(IMAGE_BITOPS_DIR);
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

fn init_tracing(out: &Arc<Output>, level: LogLevel, color: bool) {
    let max = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warning => tracing::Level::WARN,
        LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
    };
    let writer = LogWriter(Arc::new(std::sync::Mutex::new(Some(out.clone()))));
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(max)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
}
