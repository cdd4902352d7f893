use bitops::app::{self, cli};
use bitops::error;
use clap::Parser;

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
