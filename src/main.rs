use std::io::Write;

use bitops::app;
use bitops::error;

fn main() {
    // The completion scripts call `bitops -- WORDS…`: answered before the command line is
    // parsed, as it is not one.
    app::complete::answer_if_asked();
    let cli = app::cli_hints::parse();
    let code = match app::run(cli) {
        Ok(()) => error::exit::OK,
        Err(e) => {
            // A closed stderr (`2>&1 | head`) must not turn the exit code into a panic's.
            let mut stderr = std::io::stderr().lock();
            let _ = match &e {
                error::Error::Invalid(_) | error::Error::Locked(_) => writeln!(stderr, "{e}"),
                error::Error::Reported | error::Error::Printed { .. } => Ok(()),
                _ => writeln!(stderr, "error: {e}"),
            };
            e.exit_code()
        }
    };
    // The trash of earlier runs this one started emptying (run::scratch).
    bitops::run::scratch::finish();
    std::process::exit(code);
}
