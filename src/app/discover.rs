//! Discovery: `bitops list` (environments and deployments) and `bitops plugins`
//! (installed and built-in plugins, and one plugin's settings). Reads only.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::app::cli::TableFormat;
use crate::config::yaml::Doc;
use crate::error::{Error, Problem, Result};
use crate::plugin::schema::{self, Property};
use crate::plugin::{self, Located};

/// The width of the terminal stdout writes to: `COLUMNS`, else the terminal's own;
/// `None` when stdout is not a terminal (a pipe or a file gets lines as they are).
fn terminal_width() -> Option<usize> {
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(cols);
    }
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_col > 0).then_some(size.ws_col as usize)
}

/// `text` cut at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// Aligned text columns; the last column is not padded, and on a terminal it wraps to the
/// terminal's width (the other columns, the key among them, never wrap).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    table_for(header, rows, terminal_width())
}

fn table_for(header: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let last = header.len().saturating_sub(1);
    // Where the last column starts: a space, each padded column after a space, a space.
    let indent = 1 + widths[..last].iter().map(|w| w + 1).sum::<usize>() + 1;
    let room = width.map(|w| w.saturating_sub(indent)).filter(|r| *r >= 20);
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, cell) in cells.iter().enumerate().take(last) {
            let _ = write!(s, " {cell:<w$}", w = widths[i]);
        }
        let text = cells.get(last).copied().unwrap_or("");
        let pieces = match room {
            Some(r) if text.chars().count() > r => wrap(text, r),
            _ => vec![text.to_string()],
        };
        let lead = s.chars().count() + 1;
        let mut out = String::new();
        for (n, piece) in pieces.iter().enumerate() {
            if n == 0 {
                out.push_str(format!("{s} {piece}").trim_end());
            } else {
                out.push_str(&format!("{}{piece}", " ".repeat(lead)));
            }
            out.push('\n');
        }
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn markdown(header: &[&str], rows: &[Vec<String>]) -> String {
    let esc = |c: &str| c.replace('|', "\\|");
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| esc(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

#[derive(Serialize)]
pub struct EnvSummary {
    pub name: String,
    pub tool_folders: Vec<String>,
}

/// The environments of a repo and the tool folders of each.
pub fn environments(repo: &Path) -> Vec<EnvSummary> {
    crate::repo::inputs::environments(repo)
        .into_iter()
        .map(|name| {
            let mut tool_folders: Vec<String> = std::fs::read_dir(repo.join(&name))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect();
            tool_folders.sort();
            EnvSummary { name, tool_folders }
        })
        .collect()
}

pub fn environments_text(repo: &Path, envs: &[EnvSummary], format: TableFormat) -> String {
    if envs.is_empty() {
        return format!(
            "No environments in {} (an environment is a top-level folder not starting with `_` or `.`).\n",
            repo.display()
        );
    }
    let rows: Vec<Vec<String>> = envs
        .iter()
        .map(|e| vec![e.name.clone(), e.tool_folders.join(", ")])
        .collect();
    format!(
        "Environments in {}:\n{}",
        repo.display(),
        render(format, &["ENVIRONMENT", "TOOL FOLDERS"], &rows)
    )
}

#[derive(Serialize)]
pub struct DeploymentSummary {
    pub alias: String,
    pub plugin: String,
    pub source: String,
    pub folder: bool,
}

/// The deployments of an environment: plugin, where it comes from, folder present.
pub fn deployments(
    settings: &crate::config::settings::Settings,
    view: &crate::repo::view::EnvView,
    plugins_dir: Option<&Path>,
) -> Vec<DeploymentSummary> {
    settings
        .deployments
        .iter()
        .map(|d| DeploymentSummary {
            alias: d.alias.clone(),
            plugin: d.plugin.clone(),
            source: source_of(plugin::locate(plugins_dir, None, &d.plugin).as_ref()),
            folder: view.is_dir(Path::new(&d.alias)),
        })
        .collect()
}

pub fn deployments_text(
    env: &str,
    from: Option<&Path>,
    deps: &[DeploymentSummary],
    format: TableFormat,
) -> String {
    let rows: Vec<Vec<String>> = deps
        .iter()
        .enumerate()
        .map(|(i, d)| {
            vec![
                (i + 1).to_string(),
                d.alias.clone(),
                d.plugin.clone(),
                if d.folder {
                    "present".into()
                } else {
                    "missing: skipped".into()
                },
                d.source.clone(),
            ]
        })
        .collect();
    let from = from.map_or(String::new(), |f| format!(" (from {})", f.display()));
    format!(
        "Deployments of `{env}`{from}, in order:\n{}",
        render(
            format,
            &["#", "DEPLOYMENT", "PLUGIN", "FOLDER", "PLUGIN SOURCE"],
            &rows
        )
    )
}

/// Where a plugin comes from, for a person.
pub fn source_of(located: Option<&Located>) -> String {
    let Some(p) = located else {
        return "unknown plugin".into();
    };
    if p.builtin {
        return "built in".into();
    }
    let record = std::fs::read_to_string(p.dir.join(crate::plugin::fetch::RECORD))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let origin = record.and_then(|r| {
        let mut s = r["source"].as_str()?.to_string();
        for (key, label) in [
            ("source_tag", "tag"),
            ("source_branch", "branch"),
            ("source_commit", "commit"),
        ] {
            if let Some(v) = r[key].as_str() {
                let _ = write!(s, " {label} {v}");
            }
        }
        Some(s)
    });
    match origin {
        Some(o) => format!("installed in {} from {o}", p.dir.display()),
        None => format!("installed in {}", p.dir.display()),
    }
}

#[derive(Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub source: String,
    pub overrides_builtin: bool,
}

pub fn plugins(plugins_dir: Option<&Path>) -> Vec<PluginSummary> {
    plugin::available(plugins_dir)
        .into_iter()
        .map(|name| {
            let located = plugin::locate(plugins_dir, None, &name);
            PluginSummary {
                overrides_builtin: located.as_ref().is_some_and(|l| !l.builtin)
                    && crate::plugin::builtin::exists(&name),
                source: source_of(located.as_ref()),
                name,
            }
        })
        .collect()
}

pub fn plugins_text(list: &[PluginSummary], format: TableFormat) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            let note = if p.overrides_builtin {
                " (replaces the built-in one)"
            } else {
                ""
            };
            vec![p.name.clone(), format!("{}{note}", p.source)]
        })
        .collect();
    render(format, &["PLUGIN", "SOURCE"], &rows)
}

/// A table as text columns, or as Markdown with `--format markdown`.
fn render(format: TableFormat, header: &[&str], rows: &[Vec<String>]) -> String {
    match format {
        TableFormat::Markdown => markdown(header, rows),
        _ => table(header, rows),
    }
}

#[derive(Serialize)]
pub struct Setting {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub override_var: String,
    pub exported_as: Option<String>,
    pub cli_flag: Option<String>,
    pub default: Option<String>,
    pub required: bool,
    pub description: Option<String>,
}

/// The settings of a plugin, from its schema.
pub fn settings_of(plugins_dir: Option<&Path>, name: &str) -> Result<(Located, Vec<Setting>)> {
    let (located, parsed) = schema_of(plugins_dir, name)?;
    let rows = parsed
        .leaves()
        .into_iter()
        .map(|p| setting(name, p))
        .collect();
    Ok((located, rows))
}

/// A plugin (installed in `plugins_dir`, else built in) and its parsed schema; an
/// unknown plugin, a missing schema or a broken one is an error.
pub fn schema_of(plugins_dir: Option<&Path>, name: &str) -> Result<(Located, schema::Schema)> {
    let located = plugin::locate(plugins_dir, None, name).ok_or_else(|| {
        Error::Invalid(vec![
            Problem::error(format!("unknown plugin `{name}`")).hint(format!(
                "plugins: {}",
                plugin::available(plugins_dir).join(", ")
            )),
        ])
    })?;
    let path = located.path(plugin::SCHEMA);
    let root = match located.load_yaml(plugin::SCHEMA) {
        None => {
            return Err(Error::Invalid(vec![
                Problem::error(format!("plugin `{name}` has no {}", plugin::SCHEMA)).file(&path),
            ]));
        }
        Some(Err(e)) => {
            return Err(Error::Invalid(vec![e.at(&path)]));
        }
        Some(Ok(root)) => root,
    };
    let mut problems = Vec::new();
    let doc = Doc { path, root };
    let parsed = schema::parse_schema(&doc, name, &mut problems);
    crate::error::check(&problems)?;
    let Some(parsed) = parsed else {
        return Err(Error::Invalid(problems));
    };
    Ok((located, parsed))
}

fn setting(plugin: &str, p: &Property) -> Setting {
    let default = p.default.as_ref().map(|d| match d.scalar_text() {
        Some(t) => t,
        None => match &d.value {
            crate::config::yaml::Value::Seq(items) => {
                let items: Vec<String> = items.iter().filter_map(|i| i.scalar_text()).collect();
                format!("[{}]", items.join(", "))
            }
            _ => d.kind().to_string(),
        },
    });
    let cli_flag = if p.is_cli() {
        Some(match p.flag() {
            Some(flag) if p.kind == schema::Type::Boolean => flag,
            Some(flag) if p.kind == schema::Type::List => format!("{flag}=ITEM (repeated)"),
            Some(flag) => format!("{flag}=VALUE"),
            None => "positional".into(),
        })
    } else {
        None
    };
    Setting {
        key: p.dotted(),
        kind: format!("{:?}", p.kind).to_lowercase(),
        override_var: schema::env_name(plugin, &p.name),
        exported_as: p.export_env.clone(),
        cli_flag,
        default,
        required: p.required,
        description: {
            let choices = match (&p.description, &p.choices) {
                (Some(d), Some(c)) => Some(format!("{d} (one of: {})", c.join(", "))),
                (None, Some(c)) => Some(format!("one of: {}", c.join(", "))),
                (d, None) => d.clone(),
            };
            choices
                .into_iter()
                .chain(p.forced_by.iter().map(|f| f.describe()))
                .reduce(|a, b| format!("{a}; {b}"))
        },
    }
}

pub fn settings_text(
    name: &str,
    located: &Located,
    rows: &[Setting],
    format: TableFormat,
) -> String {
    let header = [
        "KEY",
        "TYPE",
        "ENV VAR",
        "CLI FLAG",
        "DEFAULT",
        "REQUIRED",
        "DESCRIPTION",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            let env = match &s.exported_as {
                Some(e) => format!("{e} (set with {})", s.override_var),
                None => format!("(set with {})", s.override_var),
            };
            vec![
                s.key.clone(),
                s.kind.clone(),
                env,
                s.cli_flag.clone().unwrap_or_else(|| "-".into()),
                s.default.clone().unwrap_or_else(|| "-".into()),
                if s.required {
                    "yes".into()
                } else {
                    "no".into()
                },
                s.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    match format {
        TableFormat::Markdown => markdown(&header, &cells),
        _ => format!(
            "Plugin `{name}` ({}); settings of its tool config, in schema order:\n{}",
            source_of(Some(located)),
            table(&header, &cells)
        ),
    }
}
