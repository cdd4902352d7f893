//! `bitops plugins [show NAME]`: the installed and built-in plugins, or one's settings.

use crate::app::cli::{PluginsArgs, PluginsCommand, TableFormat};
use crate::app::discover;
use crate::app::{emit, print_json};
use crate::error::Result;
use crate::repo::inputs;

pub fn plugins(args: &PluginsArgs) -> Result<()> {
    let plugins_dir = inputs::plugins_dir(args.plugins_dir.as_deref());
    match &args.show {
        None => {
            let list = discover::plugins(plugins_dir.as_deref());
            match args.format {
                TableFormat::Json => print_json(&list),
                format => emit(&discover::plugins_text(&list, format)),
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
