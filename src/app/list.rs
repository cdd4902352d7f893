//! `bitops list`: the environments of the ops repo, or the deployments of one.

use crate::app::cli::{ListArgs, TableFormat};
use crate::app::discover;
use crate::app::{emit, print_json};
use crate::config::settings::EnvVars;
use crate::error::{Result, check};
use crate::repo::inputs;

pub fn list(args: &ListArgs) -> Result<()> {
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
            format => emit(&discover::environments_text(&repo, &envs, format)),
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
        format => emit(&discover::deployments_text(
            &environment,
            settings.deployments_file.as_deref(),
            &deps,
            format,
        )),
    }
    Ok(())
}
