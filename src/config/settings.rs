//! Core configuration (`bitops:` key), layered: environment variable, then the
//! environment-level `<ops-repo>/<env>/bitops.config.yaml`, then the image-level
//! file, then the built-in default.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::names;
use crate::config::yaml::{Doc, Node, Value};
use crate::error::Problem;

/// A snapshot of the caller's environment; plan building reads only this. Settings
/// are read from its UTF-8 part; children get all of it, bytes as they were.
#[derive(Debug, Clone, Default)]
pub struct EnvVars(pub BTreeMap<String, String>, pub Vec<(OsString, OsString)>);

impl EnvVars {
    pub fn from_process() -> Self {
        let raw: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let text = raw
            .iter()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())))
            .collect();
        EnvVars(text, raw)
    }

    /// A set variable, even when empty (`VAR=`): an override that is set to nothing.
    pub fn get_set(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A set, non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARNING" | "WARN" => LogLevel::Warning,
            "ERROR" => LogLevel::Error,
            "CRITICAL" => LogLevel::Critical,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    Default,
    ValidateConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaskRule {
    pub search: String,
    pub replace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub alias: String,
    pub plugin: String,
    /// Line of the deployment (its `plugin:` when given) in `Settings::deployments_file`.
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub timeout: Option<Duration>,
    /// `depends_on` as written: the aliases with their lines; `None` when not written.
    #[serde(skip)]
    pub depends_on: Option<Vec<(String, usize)>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginSource {
    pub name: String,
    pub source: String,
    pub source_branch: Option<String>,
    pub source_tag: Option<String>,
    pub source_commit: Option<String>,
    /// `skip_install: true`: `bitops install` fetches the plugin but does not run its
    /// install script (one written for another image; its tools installed otherwise).
    pub skip_install: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub fail_fast: bool,
    /// `fail_fast` as BitOps exports it in `BITOPS_FAIL_FAST`: a variable's text as
    /// written, a YAML boolean and the default as Python prints them (`True`, `False`).
    #[serde(skip)]
    pub fail_fast_text: String,
    pub run_mode: RunMode,
    pub log_level: LogLevel,
    pub color: bool,
    pub log_filename: Option<String>,
    pub log_path: PathBuf,
    pub masks: Vec<MaskRule>,
    /// Variables whose values are masked, besides the well-known secret ones.
    pub secret_env: Vec<String>,
    pub default_folder: String,
    #[serde(skip)]
    pub timeout: Option<Duration>,
    pub plugins: Vec<PluginSource>,
    pub deployments: Vec<Deployment>,
    /// Where `deployments` came from, for messages.
    pub deployments_file: Option<PathBuf>,
}

impl Settings {
    pub fn log_file(&self) -> Option<PathBuf> {
        self.log_filename
            .as_ref()
            .map(|name| self.log_path.join(format!("{name}.log")))
    }
}

/// The keys of the `bitops:` map; any other is warned about (an error for `validate`).
pub const KNOWN_KEYS: &[&str] = &[
    "fail_fast",
    "run_mode",
    "logging",
    "default_folder",
    "timeout",
    "plugins",
    "deployments",
];

/// The config layers, most specific first.
pub struct Layers<'a> {
    pub env: &'a EnvVars,
    /// Environment-level file, then image-level file.
    pub docs: Vec<&'a Doc>,
}

/// Parses a core config file and checks its root key.
pub fn load_core_file(path: &Path) -> Result<Doc, Problem> {
    let root = crate::config::yaml::load_file(path).map_err(|e| e.at(path))?;
    match &root.value {
        Value::Map(entries) if entries.iter().any(|(k, _)| k == "bitops") => Ok(Doc {
            path: path.to_path_buf(),
            root,
        }),
        Value::Null => Err(Problem::error("the file is empty")
            .file(path)
            .hint("start it with a `bitops:` key, e.g. `bitops: {fail_fast: true}`")),
        _ => Err(Problem::error("the root key must be `bitops`")
            .at(path, root.line)
            .hint("put every core setting under a top-level `bitops:` key")),
    }
}

/// Resolves every core setting from the layers; problems are collected, not returned early.
pub fn resolve(layers: &Layers, problems: &mut Vec<Problem>) -> Settings {
    let mut r = Resolver { layers, problems };
    for doc in &layers.docs {
        r.check_unknown_keys(doc);
    }
    let log_level = r
        .string("BITOPS_LOGGING_LEVEL", &["logging", "level"])
        .and_then(|(text, at)| match LogLevel::parse(&text) {
            Some(level) => Some(level),
            None => {
                r.problems.push(
                    Problem::error(format!("unknown log level `{text}`"))
                        .key("bitops.logging.level")
                        .hint("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
                        .located(at),
                );
                None
            }
        })
        .unwrap_or(LogLevel::Info);
    let run_mode = r
        .string("BITOPS_MODE", &["run_mode"])
        .and_then(|(text, at)| match text.as_str() {
            "default" => Some(RunMode::Default),
            "validate_config" => Some(RunMode::ValidateConfig),
            _ => {
                r.problems.push(
                    Problem::error(format!("unknown run mode `{text}`"))
                        .key("bitops.run_mode")
                        .hint("use `default` or `validate_config`")
                        .located(at),
                );
                None
            }
        })
        .unwrap_or(RunMode::Default);
    let timeout = r
        .string("BITOPS_TIMEOUT", &["timeout"])
        .and_then(|(text, at)| r.duration(&text, "bitops.timeout", at));
    let fail_fast = r
        .boolean(&["BITOPS_FAST_FAIL", "BITOPS_FAIL_FAST"], &["fail_fast"])
        .unwrap_or(true);
    let fail_fast_text = ["BITOPS_FAST_FAIL", "BITOPS_FAIL_FAST"]
        .iter()
        .find_map(|v| r.layers.env.get(v).map(String::from))
        // A YAML boolean and the default are spelt as Python prints them, as BitOps
        // exports them (`str(True)`); a variable's text is passed on as written.
        .or_else(|| {
            r.node(&["fail_fast"]).and_then(|(n, _)| match n.value {
                Value::Bool(b) => Some(python_bool(b)),
                _ => n.scalar_text(),
            })
        })
        .unwrap_or_else(|| python_bool(true));
    let color = r
        .boolean(&[], &["logging", "color", "enabled"])
        .unwrap_or(false);
    let log_filename = r
        .string("BITOPS_LOGGING_FILENAME", &["logging", "filename"])
        .map(|(t, _)| t);
    let log_path = r
        .string("BITOPS_LOGGING_PATH", &["logging", "path"])
        .map_or_else(
            || PathBuf::from("/var/log/bitops"),
            |(t, _)| PathBuf::from(t),
        );
    // A folder of the ops repo, by name: `../x` or `/x` would merge a host folder in.
    let default_folder = match r.string("BITOPS_DEFAULT_FOLDER", &["default_folder"]) {
        Some((name, at)) => match names::check(&name) {
            Ok(()) => name,
            Err(why) => {
                r.problems.push(
                    Problem::error(format!("default_folder: {why}"))
                        .located(at)
                        .key("bitops.default_folder")
                        .hint("name a top-level folder of the ops repo, such as `_default`"),
                );
                "_default".to_string()
            }
        },
        None => "_default".to_string(),
    };
    let masks = r.masks();
    let secret_env = r.secret_env();
    let plugins = r.plugins();
    let (deployments, deployments_file) = r.deployments();
    Settings {
        fail_fast,
        fail_fast_text,
        run_mode,
        log_level,
        color,
        log_filename,
        log_path,
        masks,
        secret_env,
        default_folder,
        timeout,
        plugins,
        deployments,
        deployments_file,
    }
}

/// Where a value came from: a file and line, or an environment variable.
#[derive(Clone, Copy)]
pub enum At<'a> {
    File(&'a Path, usize),
    Var(&'a str),
}

trait FromSource {
    fn located(self, at: At) -> Self;
}

impl FromSource for Problem {
    fn located(self, at: At) -> Self {
        match at {
            At::File(path, line) => self.at(path, line),
            At::Var(name) => Problem {
                message: format!("{} (from ${name})", self.message),
                ..self
            },
        }
    }
}

struct Resolver<'a, 'p> {
    layers: &'a Layers<'a>,
    problems: &'p mut Vec<Problem>,
}

impl<'a> Resolver<'a, '_> {
    fn node(&self, path: &[&str]) -> Option<(&'a Node, &'a Path)> {
        let path: Vec<String> = std::iter::once("bitops")
            .chain(path.iter().copied())
            .map(String::from)
            .collect();
        self.layers
            .docs
            .iter()
            .find_map(|doc| Some((doc.root.get_path(&path)?, doc.path.as_path())))
    }

    fn key(path: &[&str]) -> String {
        format!("bitops.{}", path.join("."))
    }

    fn string(&mut self, var: &'a str, path: &[&str]) -> Option<(String, At<'a>)> {
        if let Some(value) = self.layers.env.get(var) {
            return Some((value.to_string(), At::Var(var)));
        }
        let (node, file) = self.node(path)?;
        match node.scalar_text() {
            Some(text) => Some((text, At::File(file, node.line))),
            None => {
                self.problems.push(
                    Problem::error(format!("expected a single value, found {}", node.kind()))
                        .at(file, node.line)
                        .key(Self::key(path)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, vars: &[&'a str], path: &[&str]) -> Option<bool> {
        for var in vars {
            if let Some(text) = self.layers.env.get(var) {
                return match parse_bool(text) {
                    Some(b) => Some(b),
                    None => {
                        self.problems.push(
                            Problem::error(format!("${var} must be true or false, found `{text}`"))
                                .hint("use true/false, 1/0, yes/no or on/off"),
                        );
                        None
                    }
                };
            }
        }
        let (node, file) = self.node(path)?;
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if parse_bool(s).is_some() => parse_bool(s),
            _ => {
                self.problems.push(
                    Problem::error(format!("expected true or false, found {}", node.describe()))
                        .at(file, node.line)
                        .key(Self::key(path)),
                );
                None
            }
        }
    }

    fn duration(&mut self, text: &str, key: &str, at: At) -> Option<Duration> {
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(why) => {
                self.problems.push(
                    Problem::error(why)
                        .key(key)
                        .hint("write seconds (600) or a duration such as 90s, 45m, 1h30m; 0 means no limit")
                        .located(at),
                );
                None
            }
        }
    }

    fn check_unknown_keys(&mut self, doc: &Doc) {
        let Some(bitops) = doc.root.get("bitops") else {
            return;
        };
        if !matches!(bitops.value, Value::Map(_) | Value::Null) {
            self.problems.push(
                Problem::error(format!(
                    "expected a map of settings, found {}",
                    bitops.kind()
                ))
                .at(&doc.path, bitops.line)
                .key("bitops"),
            );
            return;
        }
        for (key, node) in bitops.entries() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                self.problems.push(
                    names::unknown_key(
                        format!("unknown core setting `{key}`"),
                        key,
                        KNOWN_KEYS.iter().copied(),
                    )
                    .at(&doc.path, node.line)
                    .key(format!("bitops.{key}")),
                );
            }
        }
    }

    /// `logging.secret_env`, and the names in `BITOPS_LOGGING_SECRET_ENV` (comma-separated;
    /// `bitops agent` lists its secrets' names there for the deploys it runs).
    fn secret_env(&mut self) -> Vec<String> {
        let from_env: Vec<String> = self
            .layers
            .env
            .get("BITOPS_LOGGING_SECRET_ENV")
            .map(|names| {
                names
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let Some((node, file)) = self.node(&["logging", "secret_env"]) else {
            return from_env;
        };
        match &node.value {
            Value::Seq(items) if items.iter().all(|i| i.scalar_text().is_some()) => items
                .iter()
                .filter_map(Node::scalar_text)
                .chain(from_env)
                .collect(),
            _ => {
                self.problems.push(
                    Problem::error(format!(
                        "expected a list of variable names, found {}",
                        node.kind()
                    ))
                    .at(file, node.line)
                    .key("bitops.logging.secret_env")
                    .hint("write `secret_env: [DB_URL, SLACK_WEBHOOK]`"),
                );
                from_env
            }
        }
    }

    fn masks(&mut self) -> Vec<MaskRule> {
        let Some((node, file)) = self.node(&["logging", "masks"]) else {
            return Vec::new();
        };
        let Value::Seq(items) = &node.value else {
            self.problems.push(
                Problem::error(format!("expected a list of masks, found {}", node.kind()))
                    .at(file, node.line)
                    .key("bitops.logging.masks")
                    .hint("write `masks: [{search: 'REGEX', replace: 'TEXT'}]`"),
            );
            return Vec::new();
        };
        let mut rules = Vec::new();
        for item in items {
            let search = item.get("search").and_then(Node::scalar_text);
            let replace = item.get("replace").and_then(Node::scalar_text);
            match (search, replace) {
                (Some(search), replace) => {
                    if let Err(e) = regex::bytes::Regex::new(&search) {
                        self.problems.push(
                            Problem::error(format!(
                                "invalid regex: {}",
                                first_line(&e.to_string())
                            ))
                            .at(file, item.line)
                            .key("bitops.logging.masks.search"),
                        );
                        continue;
                    }
                    rules.push(MaskRule {
                        search,
                        replace: replace.unwrap_or_else(|| "*****".into()),
                    });
                }
                (None, _) => self.problems.push(
                    Problem::error("a mask needs a `search` regex")
                        .at(file, item.line)
                        .key("bitops.logging.masks")
                        .hint("write `- {search: 'REGEX', replace: 'TEXT'}`"),
                ),
            }
        }
        rules
    }

    fn plugins(&mut self) -> Vec<PluginSource> {
        let Some((node, file)) = self.node(&["plugins"]) else {
            return Vec::new();
        };
        if !matches!(node.value, Value::Map(_)) {
            self.problems.push(
                Problem::error(format!("expected a map of plugins, found {}", node.kind()))
                    .at(file, node.line)
                    .key("bitops.plugins"),
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for (name, entry) in node.entries() {
            let key = format!("bitops.plugins.{name}");
            if let Err(why) = names::check(name) {
                self.problems
                    .push(Problem::error(why).at(file, entry.line).key(key.clone()));
                continue;
            }
            const FIELDS: [&str; 5] = [
                "source",
                "source_branch",
                "source_tag",
                "source_commit",
                "skip_install",
            ];
            for (field, value) in entry.entries() {
                if !FIELDS.contains(&field.as_str()) {
                    let mut p = names::unknown_key(
                        format!("unknown plugin setting `{field}`"),
                        field,
                        FIELDS,
                    )
                    .at(file, value.line)
                    .key(format!("{key}.{field}"));
                    if p.hint.is_none() {
                        p = p.hint(format!(
                            "a plugin takes {}",
                            FIELDS.map(|f| format!("`{f}`")).join(", ")
                        ));
                    }
                    self.problems.push(p);
                }
            }
            let text = |field: &str| entry.get(field).and_then(Node::scalar_text);
            let source = match &entry.value {
                Value::Map(_) => text("source").unwrap_or_default(),
                _ => entry.scalar_text().unwrap_or_default(),
            };
            out.push(PluginSource {
                name: name.clone(),
                source,
                source_branch: text("source_branch"),
                source_tag: text("source_tag"),
                source_commit: text("source_commit"),
                skip_install: entry
                    .get("skip_install")
                    .is_some_and(|v| v.value == Value::Bool(true)),
            });
        }
        out
    }

    fn deployments(&mut self) -> (Vec<Deployment>, Option<PathBuf>) {
        let Some((node, file)) = self.node(&["deployments"]) else {
            return (Vec::new(), None);
        };
        if !matches!(node.value, Value::Map(_)) {
            self.problems.push(
                Problem::error(format!(
                    "expected a map of deployment alias to settings, found {}",
                    node.kind()
                ))
                .at(file, node.line)
                .key("bitops.deployments")
                .hint("write `deployments: {terraform: {plugin: terraform}}`"),
            );
            return (Vec::new(), Some(file.to_path_buf()));
        }
        let mut out = Vec::new();
        for (alias, entry) in node.entries() {
            let key = format!("bitops.deployments.{alias}");
            if let Err(why) = names::check_alias(alias) {
                self.problems
                    .push(Problem::error(why).at(file, entry.key_line()).key(key));
                continue;
            }
            let plugin = match &entry.value {
                Value::Null => Some(alias.clone()),
                Value::Map(_) => match entry.get("plugin") {
                    None => Some(alias.clone()),
                    Some(p) => match p.scalar_text() {
                        Some(name) => match names::check(&name) {
                            Ok(()) => Some(name),
                            Err(why) => {
                                self.problems.push(
                                    Problem::error(why)
                                        .at(file, p.line)
                                        .key(format!("{key}.plugin")),
                                );
                                None
                            }
                        },
                        None => {
                            self.problems.push(
                                Problem::error(format!(
                                    "expected a plugin name, found {}",
                                    p.kind()
                                ))
                                .at(file, p.line)
                                .key(format!("{key}.plugin")),
                            );
                            None
                        }
                    },
                },
                _ => {
                    self.problems.push(
                        Problem::error(format!(
                            "expected a map such as `{{plugin: NAME}}`, found {}",
                            entry.describe()
                        ))
                        .at(file, entry.line)
                        .key(key.clone()),
                    );
                    None
                }
            };
            let timeout = entry.get("timeout").and_then(|t| match t.scalar_text() {
                Some(text) => {
                    self.duration(&text, &format!("{key}.timeout"), At::File(file, t.line))
                }
                None => None,
            });
            let depends_on = entry
                .get("depends_on")
                .and_then(|d| self.depends_on(d, file, &format!("{key}.depends_on")));
            for (field, value) in entry.entries() {
                const FIELDS: [&str; 3] = ["plugin", "timeout", "depends_on"];
                if !FIELDS.contains(&field.as_str()) {
                    let mut p = names::unknown_key(
                        format!("unknown deployment setting `{field}`"),
                        field,
                        FIELDS,
                    )
                    .at(file, value.line)
                    .key(format!("{key}.{field}"));
                    if p.hint.is_none() {
                        p = p.hint("a deployment takes `plugin`, `timeout` and `depends_on`");
                    }
                    self.problems.push(p);
                }
            }
            if let Some(plugin) = plugin {
                out.push(Deployment {
                    alias: alias.clone(),
                    plugin,
                    line: entry.get("plugin").map_or(entry.line, |p| p.line),
                    timeout,
                    depends_on,
                });
            }
        }
        (out, Some(file.to_path_buf()))
    }

    /// `depends_on: [alias, …]` (a single alias is taken as a list of one).
    fn depends_on(&mut self, node: &Node, file: &Path, key: &str) -> Option<Vec<(String, usize)>> {
        let items: Vec<&Node> = match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            _ => {
                self.problems.push(
                    Problem::error(format!(
                        "expected a list of deployment aliases, found {}",
                        node.kind()
                    ))
                    .at(file, node.line)
                    .key(key.to_string())
                    .hint("write `depends_on: [network, database]`"),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(alias) => out.push((alias.clone(), item.line)),
                _ => self.problems.push(
                    Problem::error(format!(
                        "expected a deployment alias, found {}",
                        item.describe()
                    ))
                    .at(file, item.line)
                    .key(key.to_string())
                    .hint("list the aliases of other deployments of this environment"),
                ),
            }
        }
        Some(out)
    }
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

/// The longest duration bitops takes: longer ones are a mistake (and would overflow
/// the clock arithmetic).
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// `600`, `90s`, `45m`, `2h`, `1h30m`, `1d`: whole seconds, minutes, hours, days; at
/// most `MAX_DURATION`. `Err` says what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration");
    let too_long =
        || format!("`{text}` is longer than a year (366d), the longest duration bitops takes");
    let text = text.trim();
    let total = if let Ok(secs) = text.parse::<u64>() {
        secs
    } else if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        return Err(too_long()); // digits only, too many for a u64
    } else {
        let mut total = 0u64;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: u64 = number
                .parse()
                .map_err(|_| if number.is_empty() { bad() } else { too_long() })?;
            number.clear();
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                _ => return Err(bad()),
            };
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(too_long)?;
        }
        if !number.is_empty() || text.is_empty() {
            return Err(bad());
        }
        total
    };
    let d = Duration::from_secs(total);
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// Problems in `deployments` that stop everything (no deployments at all).
pub fn require_deployments(settings: &Settings, env_file: &Path, problems: &mut Vec<Problem>) {
    if settings.deployments.is_empty() && settings.deployments_file.is_none() {
        problems.push(
            Problem::error("no deployments are configured").hint(format!(
                "list them under `bitops.deployments` in {} or in the image-level config (-c)",
                env_file.display()
            )),
        );
    }
}

/// What a secret is shown as.
pub const SECRET_MASK: &str = "*****";

/// Variables whose values are never shown.
pub fn is_secret_name(name: &str, extra: &[String]) -> bool {
    const NAMES: &[&str] = &[
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "KUBECONFIG_BASE64",
        "HELM_SECRETS_BASE64",
    ];
    const SUFFIXES: &[&str] = &["_TOKEN", "_PASSWORD", "_SECRET"];
    NAMES.contains(&name)
        || SUFFIXES.iter().any(|s| name.ends_with(s))
        || extra.iter().any(|e| e == name)
}

/// `True` / `False`, as Python's `str(bool)` writes them.
fn python_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

/// `true/1/yes/on` and `false/0/no/off`, any case; empty means false.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "n" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Doc {
        Doc {
            path: PathBuf::from("core.yaml"),
            root: crate::config::yaml::parse(text).unwrap(),
        }
    }

    #[test]
    fn layers_env_then_env_file_then_image_file() {
        let image = doc(
            "bitops:\n  fail_fast: false\n  logging: {level: ERROR}\n  default_folder: _base\n  deployments: {a: {plugin: p}}\n",
        );
        let envf = doc(
            "bitops:\n  logging: {level: DEBUG}\n  deployments:\n    z: {plugin: q}\n    b: {}\n",
        );
        let mut env = EnvVars::default();
        env.0
            .insert("BITOPS_DEFAULT_FOLDER".into(), "_common".into());
        let layers = Layers {
            env: &env,
            docs: vec![&envf, &image],
        };
        let mut problems = Vec::new();
        let s = resolve(&layers, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!s.fail_fast);
        assert_eq!(s.log_level, LogLevel::Debug);
        assert_eq!(s.default_folder, "_common");
        let order: Vec<_> = s
            .deployments
            .iter()
            .map(|d| (d.alias.as_str(), d.plugin.as_str()))
            .collect();
        assert_eq!(order, [("z", "q"), ("b", "b")]);
    }

    #[test]
    fn env_booleans_are_parsed() {
        for (text, expected) in [
            ("false", false),
            ("0", false),
            ("no", false),
            ("off", false),
            ("True", true),
        ] {
            let mut env = EnvVars::default();
            env.0.insert("BITOPS_FAST_FAIL".into(), text.into());
            let layers = Layers {
                env: &env,
                docs: vec![],
            };
            let mut problems = Vec::new();
            assert_eq!(
                resolve(&layers, &mut problems).fail_fast,
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn wrong_types_name_key_and_line() {
        let d = doc("bitops:\n  fail_fast: sometimes\n  deployments: [a, b]\n");
        let env = EnvVars::default();
        let mut problems = Vec::new();
        resolve(
            &Layers {
                env: &env,
                docs: vec![&d],
            },
            &mut problems,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, Some(2));
        assert_eq!(problems[0].key.as_deref(), Some("bitops.fail_fast"));
        assert_eq!(problems[1].line, Some(3));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("366d"), Ok(MAX_DURATION));
        assert!(
            parse_duration("ten")
                .unwrap_err()
                .contains("is not a duration")
        );
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        for huge in [
            "367d",
            "99999999999999999999",
            "18446744073709551615s",
            "9999999999999999h",
        ] {
            assert!(
                parse_duration(huge)
                    .unwrap_err()
                    .contains("longer than a year"),
                "{huge}"
            );
        }
    }
}
