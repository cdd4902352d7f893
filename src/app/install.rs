//! `bitops install`: the plugins of the image-level config, fetched and installed.

use std::path::PathBuf;

use crate::app::cli::InstallArgs;
use crate::app::use_color;
use crate::config::settings::{self, EnvVars, Layers};
use crate::error::Result;
use crate::repo::inputs;
use crate::report::console::Console;
use crate::report::event::Event;
use crate::report::mask::Masker;
use crate::report::render::Text;
use crate::report::sink::Sink;
use crate::report::terminal::{Stream, Terminal};

pub fn install(args: &InstallArgs) -> Result<()> {
    // From the first instruction: a signal removes the partial install and ends it.
    crate::run::signals::install()?;
    let env = EnvVars::from_process();
    let doc = inputs::image_config(args.config.as_deref())?;
    let mut problems = Vec::new();
    let layers = Layers {
        env: &env,
        docs: vec![&doc],
    };
    let settings = settings::resolve(&layers, &mut problems);
    let color = use_color(args.color, &env, settings.color);
    let terminal = Terminal::start();
    let console = Console {
        render: Text {
            color,
            narration: Stream::Err,
            level: settings.log_level,
            in_groups: false,
            prefix: false,
            // Under GitHub Actions, an install script's output is never a workflow command.
            inert: env.get("GITHUB_ACTIONS") == Some("true"),
        },
        terminal: terminal.clone(),
    };
    let sink = Sink::new(
        Masker::new(&settings.masks, &env, &settings.secret_env),
        Some(terminal),
        vec![Box::new(console)],
    );
    for p in problems.iter().filter(|p| !p.is_error()) {
        sink.emit(Event::Problem(p));
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
    let result = crate::run::install::install(&request, problems, &env, &sink);
    sink.finish(None);
    result
}
