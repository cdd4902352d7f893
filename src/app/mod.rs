//! The commands, one file each: read the inputs, build the plan, then print it or run
//! it. Shared here: the command dispatch and how output reaches stdout.

pub mod agent;
pub mod cli;
pub mod cli_hints;
pub mod complete;
pub mod deploy;
pub mod discover;
pub mod doctor;
pub mod hub;
pub mod install;
pub mod list;
pub mod plan;
pub mod plugins;
pub mod prepare;
pub mod resolve;
pub mod schema;
pub mod validate;

use crate::app::cli::{Cli, ColorChoice, Command};
use crate::config::settings::EnvVars;
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Deploy(args) => deploy::deploy(&args),
        Command::Plan(args) => plan::plan(&args),
        Command::Install(args) => install::install(&args),
        Command::List(args) => list::list(&args),
        Command::Doctor(args) => doctor::doctor(&args),
        Command::Validate(args) => validate::validate(&args),
        Command::Resolve(args) => resolve::resolve(&args),
        Command::Plugins(args) => plugins::plugins(&args),
        Command::Schema(args) => schema::schema(&args),
        Command::Agent(args) => agent::agent(&args),
        Command::Hub { command } => hub::hub(command),
        Command::Completions { shell } => {
            emit(&complete::script(shell)?);
            Ok(())
        }
    }
}

/// Pretty JSON with a final newline.
pub fn print_json<T: serde::Serialize>(value: &T) {
    emit(&(serde_json::to_string_pretty(value).unwrap_or_default() + "\n"));
}

/// Writes to stdout; a reader that went away (`| head`) just ends the output. Under
/// GitHub Actions the text is made inert: repo text it quotes is never a workflow command.
pub fn emit(text: &str) {
    emit_command(&inert(text));
}

/// Writes bitops' own workflow commands (`::error file=…::…`) to stdout, as they are.
pub fn emit_command(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes to stderr, never failing; inert under GitHub Actions, as `emit`.
pub fn emit_err(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(inert(text).as_bytes());
}

/// `text`, made inert for GitHub Actions' runner when bitops runs under it.
fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    static GITHUB: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*GITHUB.get_or_init(|| std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")) {
        return std::borrow::Cow::Borrowed(text);
    }
    match crate::report::ci::inert_for_github(text.as_bytes()) {
        std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(text),
        std::borrow::Cow::Owned(bytes) => {
            std::borrow::Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

pub fn use_color(choice: ColorChoice, env: &EnvVars, configured: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            env.get("NO_COLOR").is_none()
                && (configured || std::io::IsTerminal::is_terminal(&std::io::stderr()))
        }
    }
}
