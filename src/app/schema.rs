//! `bitops schema`: JSON Schemas of the core config, of each plugin's tool config and of
//! the `--report` file, printed, or written as files into `--out`. Writes nothing else.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value as Json;

use crate::app::cli::{SchemaArgs, SchemaCommand};
use crate::app::{discover, emit, emit_err, print_json};
use crate::error::{Error, Problem, Result};
use crate::plan::json_schema;
use crate::repo::inputs;

/// The file the core config's schema is written to.
pub const CORE_FILE: &str = "bitops.config.schema.json";
/// The file the report's schema is written to.
pub const REPORT_FILE: &str = "report.schema.json";

/// The file a plugin's tool-config schema is written to.
pub fn plugin_file(name: &str) -> String {
    format!("{name}.schema.json")
}

pub fn schema(args: &SchemaArgs) -> Result<()> {
    let (files, out) = match &args.which {
        Some(SchemaCommand::Core { out }) => {
            (vec![(CORE_FILE.to_string(), json_schema::core())], out)
        }
        Some(SchemaCommand::Report { out }) => (
            vec![(
                REPORT_FILE.to_string(),
                crate::report::json_schema::report(),
            )],
            out,
        ),
        Some(SchemaCommand::Plugin {
            name,
            plugins_dir,
            out,
        }) => {
            let plugins_dir = inputs::plugins_dir(plugins_dir.as_deref());
            let (_, parsed) = discover::schema_of(plugins_dir.as_deref(), name)?;
            (
                vec![(plugin_file(name), json_schema::tool_config(&parsed))],
                out,
            )
        }
        None => (all(args.plugins_dir.as_deref())?, &args.out),
    };
    match out {
        None => {
            for (_, schema) in &files {
                print_json(schema);
            }
            Ok(())
        }
        Some(dir) => write_all(dir, &files),
    }
}

/// The core, report and every plugin's schema (installed ones over built-in ones). A
/// plugin without a `bitops.schema.yaml` (`core_schema_parsing: false`) has none; a
/// broken schema is an error, and then nothing is written.
fn all(plugins_dir: Option<&Path>) -> Result<Vec<(String, Json)>> {
    let plugins_dir = inputs::plugins_dir(plugins_dir);
    let mut files = vec![
        (CORE_FILE.to_string(), json_schema::core()),
        (
            REPORT_FILE.to_string(),
            crate::report::json_schema::report(),
        ),
    ];
    let mut problems = Vec::new();
    for name in crate::plugin::available(plugins_dir.as_deref()) {
        let has_schema = crate::plugin::locate(plugins_dir.as_deref(), None, &name)
            .is_some_and(|p| p.has_entry(crate::plugin::SCHEMA));
        if !has_schema {
            emit_err(&format!(
                "note: plugin `{name}` has no {}: no schema for its tool config\n",
                crate::plugin::SCHEMA
            ));
            continue;
        }
        let file = plugin_file(&name);
        if files.iter().any(|(f, _)| *f == file) {
            problems.push(
                Problem::error(format!(
                    "the schema of plugin `{name}` would be written to {file}, which is taken"
                ))
                .hint(format!(
                    "print it with `bitops schema plugin {name}` and save it under another name"
                )),
            );
            continue;
        }
        match discover::schema_of(plugins_dir.as_deref(), &name) {
            Ok((_, parsed)) => files.push((file, json_schema::tool_config(&parsed))),
            Err(Error::Invalid(found)) => problems.extend(found),
            Err(e) => return Err(e),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Each file replaced whole (a temporary file renamed over it), mode 0644; then its path.
fn write_all(dir: &Path, files: &[(String, Json)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    for (name, schema) in files {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(schema).unwrap_or_default() + "\n";
        let mut tmp = tempfile::Builder::new()
            .prefix(".bitops-schema-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("write", &path, e))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| {
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
            })
            .map_err(|e| Error::io("write", &path, e))?;
        tmp.persist(&path)
            .map_err(|e| Error::io("write", &path, e.error))?;
        emit(&format!("{}\n", path.display()));
    }
    Ok(())
}
