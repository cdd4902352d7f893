use clap::Parser;

mod app;
mod builtin;
mod cli;
mod discover;
mod error;
mod exec;
mod hooks;
mod install;
mod load;
mod lock;
mod mask;
mod merge;
mod names;
mod output;
mod plan;
mod plugin;
mod process;
mod render;
mod report;
mod schema;
mod settings;
mod validate;
mod view;
mod workspace;
mod yaml;

fn main() {
    let cli = cli::Cli::parse();
    let code = match app::run(cli) {
        Ok(()) => error::exit::OK,
        Err(e) => {
            match &e {
                error::Error::Invalid(_) => eprintln!("{e}"),
                error::Error::Reported => {}
                _ => eprintln!("error: {e}"),
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
