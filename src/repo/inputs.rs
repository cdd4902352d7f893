//! Finding and reading the inputs of a command — the ops repo, the environment, the
//! core config layers, the plugins folder — and turning them into the plan of one
//! environment. Reads only.

use std::path::{Path, PathBuf};

use crate::config::settings::{self, EnvVars, Layers, Settings};
use crate::config::yaml::{Doc, Node, Value};
use crate::error::{Error, Problem, Result};
use crate::repo::TOOL_CONFIG;
use crate::repo::view::EnvView;

pub const DEFAULT_OPS_REPO: &str = "/opt/bitops_deployment";
pub const DEFAULT_CORE_CONFIG: &str = "/opt/bitops/bitops.config.yaml";
pub const DEFAULT_PLUGINS_DIR: &str = "/opt/bitops/scripts/installed_plugins";
pub const IMAGE_BITOPS_DIR: &str = "/opt/bitops";
pub const BUILTIN_CONFIG: &str = include_str!("default_config.yaml");
pub const BUILTIN_CONFIG_NAME: &str = "<built-in config>";

/// `--ops-repo`, else the image's mount point when it exists, else the current folder.
pub fn ops_repo(flag: Option<&Path>) -> Result<PathBuf> {
    let repo = flag
        .map(Path::to_path_buf)
        .or_else(|| existing(DEFAULT_OPS_REPO))
        .unwrap_or_else(|| PathBuf::from("."));
    if repo.is_dir() {
        Ok(repo)
    } else {
        Err(Error::Invalid(vec![
            Problem::error("the ops repo folder does not exist")
                .file(&repo)
                .hint("pass --ops-repo DIR or set BITOPS_OPS_REPO"),
        ]))
    }
}

/// `--plugins-dir`, else the image's plugins folder when it exists; made absolute.
pub fn plugins_dir(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| existing(DEFAULT_PLUGINS_DIR))
        .map(|p| std::path::absolute(&p).unwrap_or(p))
}

/// The environment to deploy: the flag, else `BITOPS_ENVIRONMENT`, else the deprecated
/// `ENVIRONMENT`; it must be a folder of the repo that is not `_`- or `.`-prefixed.
pub fn environment(
    flag: Option<&str>,
    env: &EnvVars,
    repo: &Path,
    problems: &mut Vec<Problem>,
) -> Result<String> {
    let name = match (flag, env.get("BITOPS_ENVIRONMENT"), env.get("ENVIRONMENT")) {
        (Some(name), _, _) => name.to_string(),
        (None, Some(name), _) => name.to_string(),
        (None, None, Some(name)) => {
            problems.push(Problem::warning(
                "ENVIRONMENT is deprecated; set BITOPS_ENVIRONMENT instead",
            ));
            name.to_string()
        }
        (None, None, None) => {
            return Err(Error::Invalid(vec![
                Problem::error("no environment given").hint(format!(
                    "pass -e ENV or set BITOPS_ENVIRONMENT; {}",
                    environments_hint(repo)
                )),
            ]));
        }
    };
    // `-e dev/` and `-e ./dev` (a shell's completion of a folder) mean `dev`.
    let mut name = name.as_str();
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    let name = name.trim_end_matches('/').to_string();
    // `-e BITOPS_ENVIRONMENT=dev`: `docker run`'s `-e NAME=VALUE` typed after the image.
    if let Some((var, value)) = name.split_once('=') {
        return Err(Error::Invalid(vec![
            Problem::error(format!("`{name}` is not an environment name"))
                .key("environment")
                .hint(format!(
                    "bitops' `-e` takes the environment's name: `-e {value}`; `-e {var}={value}` is `docker run`'s way to set a variable, and goes before the image name"
                )),
        ]));
    }
    let invalid = crate::config::names::check(&name).err();
    if let Some(why) = invalid {
        return Err(Error::Invalid(vec![Problem::error(why).key("environment")]));
    }
    if name.starts_with('_') || name.starts_with('.') {
        return Err(Error::Invalid(vec![
            Problem::error(format!(
                "`{name}` is not an environment: folders starting with `_` or `.` never are"
            ))
            .hint(environments_hint(repo)),
        ]));
    }
    if !repo.join(&name).is_dir() {
        return Err(Error::Invalid(vec![
            Problem::error(format!(
                "environment `{name}` not found: there is no folder {}",
                repo.join(&name).display()
            ))
            .hint(environments_hint(repo)),
        ]));
    }
    Ok(name)
}

/// The environment folders of a repo, sorted.
pub fn environments(repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = folders(repo)
        .into_iter()
        .filter(|n| !n.starts_with('_') && !n.starts_with('.'))
        .filter(|n| !is_tool_folder(&repo.join(n)))
        .collect();
    names.sort();
    names
}

fn folders(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Hook folders, or a tool config, or Terraform files: a tool folder (`dev/terraform`), not
/// an environment, whatever its parent.
fn is_tool_folder(dir: &Path) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if [crate::repo::hooks::BEFORE, crate::repo::hooks::AFTER].contains(&name) {
        return true;
    }
    let hooks = [crate::repo::hooks::BEFORE, crate::repo::hooks::AFTER]
        .iter()
        .any(|h| dir.join(h).is_dir());
    let tf = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".tf"));
    let root_key = crate::files::read_limited(&dir.join(TOOL_CONFIG), 64 * 1024)
        .ok()
        .and_then(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with("---"))
                .map(|l| l.split(':').next().unwrap_or_default().trim().to_string())
        });
    hooks || tf || root_key.is_some_and(|k| k != "bitops")
}

/// The environments of `repo`, or where the ops repo really is when `repo` is one of its
/// tool or environment folders (bitops run inside `dev/terraform`), or a word on tool
/// folders at the root, which are no environments.
fn environments_hint(repo: &Path) -> String {
    let here = std::path::absolute(repo).unwrap_or_else(|_| repo.to_path_buf());
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    // The folders of the repo, each looked at once: tool folders, and environments.
    let mut tools = Vec::new();
    let mut envs = Vec::new();
    for name in folders(repo).into_iter().filter(|n| !n.starts_with('.')) {
        if is_tool_folder(&repo.join(&name)) {
            tools.push(name);
        } else if !name.starts_with('_') {
            envs.push(name);
        }
    }
    tools.sort();
    envs.sort();
    let hooks = [crate::repo::hooks::BEFORE, crate::repo::hooks::AFTER];
    let holds_tool_folders = tools.iter().any(|t| !hooks.contains(&t.as_str()));
    if is_tool_folder(&here)
        && !holds_tool_folders
        && let Some(env) = here.parent()
        && let (Some(tool), Some(env_name), Some(root)) =
            (name_of(&here), name_of(env), env.parent())
    {
        return format!(
            "{} is the tool folder `{tool}` of environment `{env_name}`, not an ops repo: run bitops from the ops repo with `-e {env_name}`, or pass `--ops-repo {} -e {env_name}`",
            here.display(),
            root.display()
        );
    }
    if envs.is_empty()
        && holds_tool_folders
        && let (Some(name), Some(parent)) = (name_of(&here), here.parent())
    {
        return format!(
            "{} holds tool folders ({}), so it is an environment, not an ops repo: pass `--ops-repo {} -e {name}`, or move the tool folders into an environment folder (`dev/{}`)",
            here.display(),
            tools.join(", "),
            parent.display(),
            tools[0]
        );
    }
    let mut hint = format!(
        "environments in {}: {}",
        repo.display(),
        if envs.is_empty() {
            "none".to_string()
        } else {
            envs.join(", ")
        }
    );
    if !tools.is_empty() {
        hint.push_str(&format!(
            " (tool folders at the root, which are no environments: {})",
            tools.join(", ")
        ));
    }
    hint
}

/// The image-level core config: `-c`, else the image's file, else the built-in one.
pub fn image_config(flag: Option<&Path>) -> Result<Doc> {
    match flag
        .map(Path::to_path_buf)
        .or_else(|| existing(DEFAULT_CORE_CONFIG))
    {
        Some(path) => settings::load_core_file(&path).map_err(|p| Error::Invalid(vec![p])),
        None => Ok(Doc {
            path: PathBuf::from(BUILTIN_CONFIG_NAME),
            root: builtin_config(),
        }),
    }
}

/// `BUILTIN_CONFIG` as `yaml::parse` reads it (a test checks they are equal), built
/// directly: parsing those 585 bytes took 160K instructions at every start, half a
/// child process's worth (BENCHMARKS.md, P1i).
fn builtin_config() -> Node {
    let text = |line, s: &str| Node::new(Value::Str(s.into()), line);
    // Entries as (key, the key's line, value).
    let map = |line, entries: Vec<(&str, usize, Node)>| {
        let entries = entries
            .into_iter()
            .map(|(k, key_line, v)| (k.to_string(), Node { key_line, ..v }));
        Node::new(Value::Map(entries.collect()), line)
    };
    let plugins = [
        "aws",
        "kubectl",
        "cloudformation",
        "terraform",
        "helm",
        "ansible",
    ];
    let deployments = ["cloudformation", "terraform", "helm", "ansible"];
    let plugin_entries = (10..).zip(plugins).map(|(line, name)| {
        let source = map(line, vec![("source", line, text(line, "builtin"))]);
        (name, line, source)
    });
    let deployment_entries = (17..).zip(deployments).map(|(line, name)| {
        let plugin = map(line, vec![("plugin", line, text(line, name))]);
        (name, line, plugin)
    });
    let bitops = map(
        4,
        vec![
            ("fail_fast", 4, Node::new(Value::Bool(true), 4)),
            ("run_mode", 5, text(5, "default")),
            ("default_folder", 6, text(6, "_default")),
            ("logging", 7, map(8, vec![("level", 8, text(8, "INFO"))])),
            ("plugins", 9, map(10, plugin_entries.collect())),
            ("deployments", 16, map(17, deployment_entries.collect())),
        ],
    );
    map(3, vec![("bitops", 3, bitops)])
}

fn existing(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    p.exists().then_some(p)
}

/// The default folder's name, known before the settings are (it shapes the env-level layer).
fn default_folder(image: &Doc, env: &EnvVars) -> String {
    env.get("BITOPS_DEFAULT_FOLDER")
        .map(String::from)
        .or_else(|| {
            let path = ["bitops".to_string(), "default_folder".to_string()];
            image.root.get_path(&path)?.scalar_text()
        })
        // Not a plain name (`../x`): the settings report it; nothing is read outside.
        .filter(|name| crate::config::names::check(name).is_ok())
        .unwrap_or_else(|| "_default".into())
}

/// The environment folder as a run sees it, with the default folder merged in.
pub fn env_view(repo: &Path, environment: &str, default_folder: &str) -> EnvView {
    let default_dir = repo.join(default_folder);
    EnvView {
        env_name: environment.to_string(),
        env_dir: repo.join(environment),
        default_dir: default_dir.is_dir().then_some(default_dir),
        listings: Default::default(),
    }
}

/// The core settings of one environment: variables, then `<env>/bitops.config.yaml`
/// (with the default folder's merged under it), then the image-level file, then defaults.
pub fn env_settings(
    repo: &Path,
    environment: &str,
    image: &Doc,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Settings {
    let view = env_view(repo, environment, &default_folder(image, env));
    let mut env_docs: Vec<Doc> = Vec::new();
    for path in view.file_layers(Path::new(TOOL_CONFIG)) {
        match settings::load_core_file(&path) {
            Ok(doc) => env_docs.push(doc),
            Err(p) => problems.push(p),
        }
    }
    let layers = Layers {
        env,
        docs: env_docs.iter().chain(std::iter::once(image)).collect(),
    };
    settings::resolve(&layers, problems)
}

pub fn bitops_dir() -> PathBuf {
    if Path::new(IMAGE_BITOPS_DIR).is_dir() {
        return PathBuf::from(IMAGE_BITOPS_DIR);
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_config_is_its_yaml_text() {
        let parsed = crate::config::yaml::parse(super::BUILTIN_CONFIG).unwrap();
        assert_eq!(super::builtin_config(), parsed);
    }
}
