//! `bitops resolve`: for plugins, config files resolved against a schema, as shell
//! exports or JSON.

use std::path::PathBuf;

use crate::app::cli::{ResolveArgs, ResolveFormat};
use crate::app::{emit, emit_err, print_json};
use crate::config::settings::EnvVars;
use crate::config::yaml::Doc;
use crate::error::{Error, Problem, Result, check};

pub fn resolve(args: &ResolveArgs) -> Result<()> {
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
        secret_env: &[],
    };
    let res = crate::plugin::schema::resolve(&schema, &config, &env, &mut problems);
    for p in problems.iter().filter(|p| !p.is_error()) {
        emit_err(&format!("{p}\n"));
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
