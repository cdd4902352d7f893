//! Plugin schemas (`bitops.schema.yaml`) and the resolution of a tool's
//! `bitops.config.yaml` against one: values, CLI words and exported variables. Pure.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::names;
use crate::config::settings::EnvVars;
use crate::config::settings::parse_bool;
use crate::config::yaml::{Doc, Node, Value};
use crate::error::{Kind, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    String,
    Integer,
    Boolean,
    List,
    Object,
}

impl Type {
    fn parse(text: &str) -> Option<Type> {
        Some(match text {
            "string" | "str" => Type::String,
            "integer" | "int" => Type::Integer,
            "boolean" | "bool" => Type::Boolean,
            "list" | "array" => Type::List,
            "object" | "map" => Type::Object,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Property {
    pub name: String,
    /// Keys from the plugin root, e.g. `["cli", "var-file"]`.
    pub path: Vec<String>,
    #[serde(rename = "type")]
    pub kind: Type,
    pub parameter: Option<String>,
    pub dash: String,
    pub export_env: Option<String>,
    #[serde(skip)]
    pub default: Option<Node>,
    pub required: bool,
    pub description: Option<String>,
    /// `enum: [plan, apply, destroy]`: the only values allowed.
    #[serde(rename = "enum")]
    pub choices: Option<Vec<String>>,
    /// `forced_by`: variables that, set to true, replace the value (the first that applies
    /// wins), e.g. `TERRAFORM_APPLY=true` turns `plan` into `apply`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forced_by: Vec<Force>,
    pub children: Vec<Property>,
}

/// One entry of a property's `forced_by`: `{env: TERRAFORM_APPLY, value: apply, unless: [destroy]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Force {
    pub env: String,
    pub value: String,
    /// Values this variable leaves as they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unless: Vec<String>,
}

impl Force {
    /// As the plugin tables say it: `TERRAFORM_APPLY=true forces apply, unless destroy`.
    pub fn describe(&self) -> String {
        let mut text = format!("{}=true forces {}", self.env, self.value);
        if !self.unless.is_empty() {
            text.push_str(&format!(", unless {}", self.unless.join(" or ")));
        }
        text
    }
}

impl Property {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// The CLI flag, when the property is a parameter.
    pub fn flag(&self) -> Option<String> {
        self.parameter.as_ref().map(|p| format!("{}{p}", self.dash))
    }

    pub fn is_cli(&self) -> bool {
        self.path.first().is_some_and(|p| p == "cli")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    pub plugin: String,
    pub file: PathBuf,
    pub properties: Vec<Property>,
}

impl Schema {
    /// Every leaf, in schema order.
    pub fn leaves(&self) -> Vec<&Property> {
        fn walk<'a>(props: &'a [Property], out: &mut Vec<&'a Property>) {
            for p in props {
                if p.kind == Type::Object {
                    walk(&p.children, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.properties, &mut out);
        out
    }
}

/// `BITOPS_<PLUGIN>_<LEAF>`: upper case, `-` becomes `_`.
pub fn env_name(plugin: &str, leaf: &str) -> String {
    format!("BITOPS_{}_{}", shout(plugin), shout(leaf))
}

pub fn shout(name: &str) -> String {
    name.to_ascii_uppercase().replace(['-', '.'], "_")
}

pub fn parse_schema(doc: &Doc, plugin: &str, problems: &mut Vec<Problem>) -> Option<Schema> {
    let file = &doc.path;
    let Some(root) = doc.root.get(plugin) else {
        let found = doc.root.entries().first().map(|(k, _)| k.clone());
        problems.push(
            Problem::error(match found {
                Some(k) => format!("the root key must be the plugin name `{plugin}`, found `{k}`"),
                None => format!("the root key must be the plugin name `{plugin}`"),
            })
            .at(file, doc.root.line)
            .kind(Kind::MissingConfig)
            .hint("this is the plugin's schema: ask its author, or fix the root key"),
        );
        return None;
    };
    if !matches!(root.value, Value::Map(_)) {
        problems.push(
            Problem::error(format!(
                "the schema of `{plugin}` must be a map with `properties`, found {}",
                root.describe()
            ))
            .at(file, root.line)
            .key(plugin.to_string()),
        );
        return None;
    }
    let before = problems.len();
    let properties = parse_properties(root, &[], file, problems);
    (problems.len() == before).then(|| Schema {
        plugin: plugin.to_string(),
        file: file.clone(),
        properties,
    })
}

fn parse_properties(
    node: &Node,
    path: &[String],
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<Property> {
    let entries: Vec<&(String, Node)> = match node.get("properties") {
        Some(props) => {
            if !matches!(props.value, Value::Map(_) | Value::Null) {
                problems.push(
                    Problem::error(format!(
                        "`properties` must be a map, found {}",
                        props.kind()
                    ))
                    .at(file, props.line),
                );
                return Vec::new();
            }
            props.entries().iter().collect()
        }
        None => short_form_children(node).collect(),
    };
    let mut out = Vec::new();
    for (name, def) in entries {
        let mut p = path.to_vec();
        p.push(name.clone());
        if let Some(prop) = parse_property(name, def, p, file, problems) {
            out.push(prop);
        }
    }
    out
}

/// The words of a property's definition; every other key whose value is a map is a child
/// property in the short form (no `type: object` / `properties:` levels), which BitOps
/// reads the same way: it drops `properties` from each path and takes any other key as a
/// property.
const ATTRIBUTES: &[&str] = &[
    "type",
    "properties",
    "parameter",
    "export_env",
    "default",
    "required",
    "description",
    "dash_type",
    "enabled",
    "enum",
    "forced_by",
];

/// The child properties of a definition written in the short form.
fn short_form_children(node: &Node) -> impl Iterator<Item = &(String, Node)> {
    node.entries()
        .iter()
        .filter(|(k, v)| !ATTRIBUTES.contains(&k.as_str()) && matches!(v.value, Value::Map(_)))
}

fn parse_property(
    name: &str,
    def: &Node,
    path: Vec<String>,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Property> {
    let key = path.join(".");
    if !matches!(def.value, Value::Map(_)) {
        problems.push(
            Problem::error(format!(
                "a schema property must be a map such as `{{type: string}}`, found {}",
                def.kind()
            ))
            .at(file, def.line)
            .key(key),
        );
        return None;
    }
    let text = |field: &str| def.get(field).and_then(Node::scalar_text);
    if def
        .get("enabled")
        .is_some_and(|e| e.value == Value::Bool(false))
    {
        return None;
    }
    let kind = match text("type") {
        Some(t) => match Type::parse(&t) {
            Some(kind) => kind,
            None => {
                problems.push(
                    Problem::error(format!("unknown schema type `{t}`"))
                        .at(file, def.get("type").map_or(def.line, |n| n.line))
                        .key(format!("{key}.type"))
                        .hint("use string, integer, boolean, list or object"),
                );
                return None;
            }
        },
        None if def.get("properties").is_some() || short_form_children(def).next().is_some() => {
            Type::Object
        }
        None => Type::String,
    };
    let export_env = text("export_env");
    if let Some(var) = &export_env
        && !names::is_env_name(var)
    {
        problems.push(
            Problem::error(format!("`{var}` is not a valid environment variable name"))
                .at(file, def.get("export_env").map_or(def.line, |n| n.line))
                .key(format!("{key}.export_env"))
                .hint("use letters, digits and `_`, not starting with a digit"),
        );
    }
    let children = if kind == Type::Object {
        parse_properties(def, &path, file, problems)
    } else {
        Vec::new()
    };
    let default = def.get("default").filter(|d| !d.is_null()).cloned();
    let prop = Property {
        name: name.to_string(),
        path,
        kind,
        parameter: text("parameter").filter(|p| !p.is_empty()),
        dash: text("dash_type").unwrap_or_else(|| "--".into()),
        export_env,
        default: None,
        required: def
            .get("required")
            .is_some_and(|r| matches!(r.value, Value::Bool(true))),
        description: text("description"),
        choices: def.get("enum").and_then(|e| match &e.value {
            Value::Seq(items) => Some(items.iter().filter_map(Node::scalar_text).collect()),
            _ => None,
        }),
        forced_by: Vec::new(),
        children,
    };
    if let Some(e) = def.get("enum")
        && !matches!(&e.value, Value::Seq(items) if items.iter().all(|i| i.scalar_text().is_some()))
    {
        problems.push(
            Problem::error(format!(
                "`enum` must be a list of values, found {}",
                e.kind()
            ))
            .at(file, e.line)
            .key(format!("{key}.enum")),
        );
    }
    let forced_by = def
        .get("forced_by")
        .map(|node| parse_forced_by(&prop, node, &key, file, problems))
        .unwrap_or_default();
    // A default of the wrong type is the plugin's bug: report it against the schema.
    if let Some(d) = &default
        && let Err(why) = typed(&prop, d)
    {
        problems.push(
            Problem::error(format!("default {why}"))
                .at(file, d.line)
                .key(format!("{key}.default")),
        );
    }
    Some(Property {
        default,
        forced_by,
        ..prop
    })
}

/// `forced_by: [{env: NAME, value: VALUE, unless: [VALUE, ...]}, ...]`; each value must be
/// one the property takes.
fn parse_forced_by(
    prop: &Property,
    node: &Node,
    key: &str,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<Force> {
    let shape = "`forced_by` must be a list of `{env: VARIABLE, value: VALUE}` (optionally `unless: [VALUE]`)";
    let Value::Seq(items) = &node.value else {
        problems.push(
            Problem::error(format!("{shape}, found {}", node.kind()))
                .at(file, node.line)
                .key(format!("{key}.forced_by")),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let text = |field: &str| item.get(field).and_then(Node::scalar_text);
        let unless: Option<Vec<String>> = match item.get("unless").map(|u| &u.value) {
            None => Some(Vec::new()),
            Some(Value::Seq(values)) => values.iter().map(Node::scalar_text).collect(),
            Some(_) => None,
        };
        let (Some(env), Some(value), Some(unless)) = (text("env"), text("value"), unless) else {
            problems.push(
                Problem::error(format!("{shape}, found {}", item.describe()))
                    .at(file, item.line)
                    .key(format!("{key}.forced_by")),
            );
            continue;
        };
        if !names::is_env_name(&env) {
            problems.push(
                Problem::error(format!("`{env}` is not a valid environment variable name"))
                    .at(file, item.line)
                    .key(format!("{key}.forced_by.env")),
            );
            continue;
        }
        if let Some(why) = std::iter::once(&value)
            .chain(&unless)
            .find_map(|v| typed_env(prop, v).err())
        {
            problems.push(
                Problem::error(format!("`forced_by`: {why}"))
                    .at(file, item.line)
                    .key(format!("{key}.forced_by.value")),
            );
            continue;
        }
        out.push(Force { env, value, unless });
    }
    out
}

/// A resolved value, typed by its property.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<String>),
}

impl Val {
    /// As exported in an environment variable.
    pub fn env_text(&self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Str(s) => s.clone(),
            Val::List(items) => items.join(" "),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    Env { var: String },
    Config { file: PathBuf, line: usize },
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Env { var } => write!(f, "variable {var}"),
            Origin::Config { file, line } => write!(f, "{}:{line}", file.display()),
            Origin::Default => write!(f, "the schema default"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub key: String,
    pub value: Val,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Resolution {
    pub values: Vec<Resolved>,
    pub cli_words: Vec<String>,
    pub exports: Vec<(String, String)>,
    pub stack_action: Option<String>,
}

impl Resolution {
    /// `BITOPS_<PLUGIN>_CLI` (the words joined by spaces, as BitOps) and
    /// `BITOPS_<PLUGIN>_CLI_QUOTED` (shell-quoted, so values with spaces survive `eval`).
    /// For a plugin name with `-`, also `BITOPS_<PLUGIN-NAME>_CLI` with the `-` kept, as
    /// BitOps exports it (plugins read it with `printenv`).
    pub fn cli_vars(&self, plugin: &str) -> Vec<(String, String)> {
        let name = format!("BITOPS_{}_CLI", shout(plugin));
        let mut vars = vec![
            (name.clone(), self.cli_words.join(" ")),
            (format!("{name}_QUOTED"), shell_join(&self.cli_words)),
        ];
        if plugin.contains('-') {
            vars.push((
                format!("BITOPS_{}_CLI", plugin.to_ascii_uppercase()),
                self.cli_words.join(" "),
            ));
        }
        vars
    }
}

/// A value that is exported as a secret is not quoted in its error message.
fn hide_value(problem: &mut Problem, from_env: Option<&str>, from_config: Option<(&Node, &Path)>) {
    let mut texts: Vec<String> = from_env.map(String::from).into_iter().collect();
    if let Some((node, _)) = from_config {
        texts.extend(node.scalar_text());
        if let Value::Seq(items) = &node.value {
            texts.extend(items.iter().filter_map(Node::scalar_text));
        }
    }
    for text in texts.iter().filter(|t| !t.is_empty()) {
        problem.message = problem
            .message
            .replace(text.as_str(), crate::config::settings::SECRET_MASK);
    }
}

/// Words as one shell-quoted string (plain words stay as they are).
pub fn shell_join(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

fn typed(prop: &Property, node: &Node) -> Result<Val, String> {
    typed_any(prop, node).and_then(|v| allowed(prop, v))
}

/// Checks a value against the property's `enum`.
fn allowed(prop: &Property, value: Val) -> Result<Val, String> {
    let Some(choices) = &prop.choices else {
        return Ok(value);
    };
    let items = match &value {
        Val::List(items) => items.clone(),
        other => vec![other.env_text()],
    };
    for item in &items {
        if !choices.contains(item) {
            let guess = names::suggest(item, choices.iter().map(String::as_str))
                .map_or(String::new(), |g| format!(" (did you mean `{g}`?)"));
            return Err(format!(
                "`{item}` is not one of {}{guess}",
                choices.join(", ")
            ));
        }
    }
    Ok(value)
}

fn typed_any(prop: &Property, node: &Node) -> Result<Val, String> {
    let found = node.describe();
    match prop.kind {
        Type::String => node
            .scalar_text()
            .map(Val::Str)
            .ok_or_else(|| format!("must be a single value, found {found}")),
        Type::Integer => match &node.value {
            Value::Int(i) => Ok(Val::Int(*i)),
            Value::Str(s) if s.trim().parse::<i64>().is_ok() => {
                Ok(Val::Int(s.trim().parse().unwrap_or_default()))
            }
            _ => Err(format!("must be an integer, found {found}")),
        },
        Type::Boolean => match &node.value {
            Value::Bool(b) => Ok(Val::Bool(*b)),
            Value::Str(s) if parse_bool(s).is_some() => Ok(Val::Bool(parse_bool(s) == Some(true))),
            _ => Err(format!("must be true or false, found {found}")),
        },
        Type::List => match &node.value {
            Value::Seq(items) => items
                .iter()
                .map(|item| {
                    item.scalar_text().ok_or_else(|| {
                        format!("list items must be single values, found {}", item.kind())
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Val::List),
            _ => node
                .scalar_text()
                .map(|s| Val::List(vec![s]))
                .ok_or_else(|| format!("must be a list, found {found}")),
        },
        Type::Object => Err(format!("must be a map of settings, found {found}")),
    }
}

fn typed_env(prop: &Property, text: &str) -> Result<Val, String> {
    typed_env_any(prop, text).and_then(|v| allowed(prop, v))
}

fn typed_env_any(prop: &Property, text: &str) -> Result<Val, String> {
    match prop.kind {
        Type::String | Type::Object => Ok(Val::Str(text.to_string())),
        Type::Integer => text
            .trim()
            .parse()
            .map(Val::Int)
            .map_err(|_| format!("must be an integer, found `{text}`")),
        Type::Boolean => parse_bool(text)
            .map(Val::Bool)
            .ok_or_else(|| format!("must be true or false, found `{text}`")),
        Type::List => Ok(Val::List(
            text.split_whitespace().map(String::from).collect(),
        )),
    }
}

/// The tool config: its layers (the environment's file, then the default folder's) and
/// the root keys accepted (the plugin name, then the deployment alias).
pub struct ToolConfig<'a> {
    pub layers: &'a [Doc],
    pub roots: Vec<String>,
    /// `logging.secret_env`: a value exported under one of these names (or a secret-
    /// looking name) is never quoted in an error message.
    pub secret_env: &'a [String],
}

impl ToolConfig<'_> {
    fn root<'d>(&self, doc: &'d Doc) -> Option<&'d Node> {
        self.roots.iter().find_map(|r| doc.root.get(r))
    }

    fn lookup(&self, path: &[String]) -> Option<(&Node, &Path)> {
        self.layers
            .iter()
            .find_map(|doc| Some((self.root(doc)?.get_path(path)?, doc.path.as_path())))
    }
}

/// The line of a top-level `key:` in the file (a node's line is where its value starts).
fn top_level_key_line(doc: &Doc, key: &str) -> Option<usize> {
    let bytes = crate::files::read_limited(&doc.path, crate::config::yaml::MAX_FILE_BYTES).ok()?;
    String::from_utf8_lossy(&bytes)
        .lines()
        .position(|l| l.starts_with(&format!("{key}:")))
        .map(|i| i + 1)
}

/// A tool config keyed by the deployment alias instead of the plugin name: bitops reads
/// it, BitOps v2 did not. Said where it matters (plan, validate), not an error.
fn note_alias_root(config: &ToolConfig, doc: &Doc, problems: &mut Vec<Problem>) {
    let [plugin, alias, ..] = config.roots.as_slice() else {
        return;
    };
    if plugin == alias || doc.root.get(plugin).is_some() {
        return;
    }
    if let Some(node) = doc.root.get(alias) {
        // The key's own line (a value's line is where its content starts).
        let line = top_level_key_line(doc, alias).unwrap_or(node.line);
        problems.push(
            Problem::warning(format!(
                "the root key is the deployment alias `{alias}`, not the plugin name `{plugin}`: bitops reads these values; BitOps v2 ignored them"
            ))
            .at(&doc.path, line)
            .hint(format!(
                "rename the key to `{plugin}:` to keep the file working the same under BitOps v2"
            )),
        );
    }
}

/// The line where a missing value belongs: the key of its deepest section that the file
/// has (`cli:` for `cli.namespace`), else the file's root key.
fn where_missing(config: &ToolConfig, doc: &Doc, prop: &Property) -> Option<usize> {
    let root = config.root(doc)?;
    let parents = &prop.path[..prop.path.len().saturating_sub(1)];
    (1..=parents.len())
        .rev()
        .find_map(|n| root.get_path(&parents[..n]).map(Node::key_line))
        .or_else(|| config.roots.iter().find_map(|r| top_level_key_line(doc, r)))
}

/// Resolves every leaf: env var `BITOPS_<PLUGIN>_<LEAF>`, then the tool config, then the default.
pub fn resolve(
    schema: &Schema,
    config: &ToolConfig,
    env: &EnvVars,
    problems: &mut Vec<Problem>,
) -> Resolution {
    let mut res = Resolution::default();
    for doc in config.layers {
        check_config_shape(schema, config, doc, problems);
        note_alias_root(config, doc, problems);
    }
    for prop in schema.leaves() {
        let var = env_name(&schema.plugin, &prop.name);
        // A variable set to nothing is an empty value, not "unset" (as BitOps): a blank
        // CI variable never silently falls back to the config.
        let found = if let Some(text) = env.get_set(&var) {
            if text.is_empty() && prop.required {
                problems.push(
                    Problem::error(format!(
                        "${var} is set but empty, and `{}` needs a value",
                        prop.dotted()
                    ))
                    .key(format!("{}.{}", schema.plugin, prop.dotted()))
                    .hint(format!(
                        "give ${var} a value, or unset it to use the tool's bitops.config.yaml"
                    )),
                );
                continue;
            }
            typed_env(prop, text)
                .map(|v| (v, Origin::Env { var: var.clone() }))
                .map_err(|why| {
                    Problem::error(format!("${var} {why}")).key(format!(
                        "{}.{}",
                        schema.plugin,
                        prop.dotted()
                    ))
                })
                .map(Some)
        } else if let Some((node, file)) = config.lookup(&prop.path) {
            typed(prop, node)
                .map(|v| {
                    Some((
                        v,
                        Origin::Config {
                            file: file.to_path_buf(),
                            line: node.line,
                        },
                    ))
                })
                .map_err(|why| {
                    Problem::error(why).at(file, node.line).key(format!(
                        "{}.{}",
                        schema.plugin,
                        prop.dotted()
                    ))
                })
        } else if let Some(d) = &prop.default {
            Ok(typed(prop, d).ok().map(|v| (v, Origin::Default)))
        } else {
            Ok(None)
        };
        let found = found.map(|found| force(schema, prop, config, env, found, problems));
        let value = match found {
            Ok(Some((value, origin))) => {
                res.values.push(Resolved {
                    key: prop.dotted(),
                    value: value.clone(),
                    origin,
                });
                value
            }
            Ok(None) => {
                if prop.required {
                    let file = config.layers.first().map(|d| d.path.clone());
                    let mut p =
                        Problem::error(format!("required value `{}` is not set", prop.dotted()))
                            .key(format!("{}.{}", schema.plugin, prop.dotted()))
                            .hint(format!(
                                "set it in the tool's bitops.config.yaml or with ${var}"
                            ));
                    p.file = file;
                    p.line = config
                        .layers
                        .first()
                        .and_then(|doc| where_missing(config, doc, prop));
                    problems.push(p);
                }
                continue;
            }
            Err(mut problem) => {
                let secret = prop.export_env.as_deref().is_some_and(|name| {
                    crate::config::settings::is_secret_name(name, config.secret_env)
                });
                if secret {
                    hide_value(&mut problem, env.get(&var), config.lookup(&prop.path));
                }
                problems.push(problem);
                continue;
            }
        };
        if prop.is_cli() {
            compose_cli(prop, &value, &mut res.cli_words);
            if prop.name == "stack-action" {
                res.stack_action = Some(value.env_text()).filter(|s| !s.is_empty());
            }
        }
        if let Some(name) = &prop.export_env {
            let text = value.env_text();
            if !name.starts_with("BITOPS_") {
                res.exports.push((format!("BITOPS_{name}"), text.clone()));
            }
            res.exports.push((name.clone(), text));
        }
    }
    res
}

/// The property's `forced_by`: the first variable set to true whose `unless` does not
/// keep the value replaces it, and says so (a warning at the value's line: plan, validate
/// and deploy show it before step 1).
fn force(
    schema: &Schema,
    prop: &Property,
    config: &ToolConfig,
    env: &EnvVars,
    found: Option<(Val, Origin)>,
    problems: &mut Vec<Problem>,
) -> Option<(Val, Origin)> {
    let current = found.as_ref().map(|(v, _)| v.env_text());
    let key = format!("{}.{}", schema.plugin, prop.dotted());
    for f in &prop.forced_by {
        let Some(set) = env.get(&f.env).filter(|v| parse_bool(v) == Some(true)) else {
            continue;
        };
        let (file, line) = match found.as_ref().map(|(_, o)| o) {
            Some(Origin::Config { file, line }) => (Some(file.clone()), Some(*line)),
            _ => (config.layers.first().map(|d| d.path.clone()), None),
        };
        let said = match (&found, current.as_deref()) {
            (Some((_, Origin::Config { .. })), Some(v)) => format!("`{v}` as set here"),
            (Some((_, Origin::Env { var })), Some(v)) => format!("`{v}` from ${var}"),
            (Some(_), Some(v)) => format!("`{v}`, the default"),
            _ => "unset".to_string(),
        };
        let kept = current
            .as_deref()
            .is_some_and(|v| f.unless.iter().any(|u| u == v));
        if !kept && current.as_deref() == Some(f.value.as_str()) {
            return found;
        }
        let mut problem = if kept {
            Problem::warning(format!("{}={set} is ignored: it stays {said}", f.env))
                .hint(format!("unset {} to silence this", f.env))
        } else {
            Problem::warning(format!(
                "{}={set} in the environment makes it `{}`, not {said}",
                f.env, f.value
            ))
            .hint(format!(
                "unset {} to run as the config says, or set `{}: {}` to say it there",
                f.env, prop.name, f.value
            ))
        };
        problem = problem.key(key.clone());
        problem.file = file;
        problem.line = line;
        problems.push(problem);
        if kept {
            return found;
        }
        let value = typed_env(prop, &f.value).ok()?;
        return Some((value, Origin::Env { var: f.env.clone() }));
    }
    found
}

fn compose_cli(prop: &Property, value: &Val, words: &mut Vec<String>) {
    let flag = prop.flag();
    match (value, flag) {
        (Val::Bool(true), Some(flag)) => words.push(flag),
        (Val::Bool(_), _) => {}
        (Val::List(items), Some(flag)) => {
            words.extend(items.iter().map(|item| format!("{flag}={item}")));
        }
        (Val::List(items), None) => words.extend(items.iter().cloned()),
        (other, flag) => {
            let text = other.env_text();
            if text.is_empty() {
                return;
            }
            words.push(match flag {
                Some(flag) => format!("{flag}={text}"),
                None => text,
            });
        }
    }
}

/// Keys the schema does not know are reported (warnings); a scalar where the schema
/// has a section is an error.
fn check_config_shape(
    schema: &Schema,
    config: &ToolConfig,
    doc: &Doc,
    problems: &mut Vec<Problem>,
) {
    let Some(root) = config.root(doc) else {
        if !doc.root.is_null() {
            // Every value of this file would be ignored: that is an error, never a no-op.
            let keys: Vec<&str> = doc.root.entries().iter().map(|(k, _)| k.as_str()).collect();
            let guess = keys.iter().find_map(|k| {
                names::suggest(k, config.roots.iter().map(String::as_str)).map(|g| (k, g))
            });
            let line = keys
                .first()
                .and_then(|first| top_level_key_line(doc, first))
                .unwrap_or(doc.root.line);
            let found = if keys.is_empty() {
                doc.root.kind().to_string()
            } else {
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let hint = match guess {
                Some((k, g)) => format!("did you mean `{g}:` instead of `{k}:`?"),
                None => format!("put the settings under `{}:`", schema.plugin),
            };
            problems.push(
                Problem::error(format!(
                    "no `{}` root key (found {found}), so none of this file's values would be used",
                    schema.plugin
                ))
                .at(&doc.path, line)
                .hint(hint),
            );
        }
        return;
    };
    walk_config(
        root,
        &schema.properties,
        &schema.plugin,
        &doc.path,
        problems,
    );
}

fn walk_config(
    node: &Node,
    props: &[Property],
    prefix: &str,
    file: &Path,
    problems: &mut Vec<Problem>,
) {
    match &node.value {
        Value::Null => {}
        Value::Map(entries) => {
            for (key, child) in entries {
                let dotted = format!("{prefix}.{key}");
                match props.iter().find(|p| p.name == *key) {
                    Some(p) if p.kind == Type::Object => {
                        walk_config(child, &p.children, &dotted, file, problems)
                    }
                    Some(_) => {}
                    None => problems.push(
                        names::unknown_key(
                            "unknown key: the plugin's schema does not define it".into(),
                            key,
                            props.iter().map(|p| p.name.as_str()),
                        )
                        .at(file, child.line)
                        .key(dotted),
                    ),
                }
            }
        }
        _ => problems.push(
            Problem::error(format!(
                "must be a map of settings, found {}",
                node.describe()
            ))
            .at(file, node.line)
            .key(prefix.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "\
terraform:
  type: object
  properties:
    cli:
      type: object
      properties:
        name: {type: string, parameter: name}
        verbose: {type: boolean, parameter: verbose, default: true}
        var-file: {type: string, parameter: var-file, dash_type: '-', export_env: TF_VAR_FILE}
        targets: {type: list, parameter: target, export_env: TF_TARGETS}
        forks: {type: integer, parameter: forks}
        stack-action: {type: string, export_env: TERRAFORM_COMMAND, required: true, default: plan}
    options:
      type: object
      properties:
        skip-deploy: {type: boolean, export_env: TERRAFORM_SKIP_DEPLOY, default: true}
        k8s:
          type: object
          properties:
            kubeconfig: {type: string, export_env: KUBE_CONFIG_PATH}
        token: {type: string, required: true}
";

    fn doc(path: &str, text: &str) -> Doc {
        Doc {
            path: PathBuf::from(path),
            root: crate::config::yaml::parse(text).unwrap(),
        }
    }

    fn run(config: &[Doc], env: &[(&str, &str)]) -> (Resolution, Vec<Problem>) {
        let mut problems = Vec::new();
        let schema = parse_schema(&doc("schema.yaml", SCHEMA), "terraform", &mut problems).unwrap();
        let env = EnvVars(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            Vec::new(),
        );
        let tc = ToolConfig {
            layers: config,
            roots: vec!["terraform".into()],
            secret_env: &[],
        };
        let res = resolve(&schema, &tc, &env, &mut problems);
        (res, problems)
    }

    fn export<'a>(res: &'a Resolution, name: &str) -> Option<&'a str> {
        res.exports
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn composes_cli_in_schema_order() {
        let cfg = doc(
            "c.yaml",
            "terraform:\n  cli: {stack-action: apply, targets: [a.b, c], name: X, var-file: v.tfvars}\n  options: {skip-deploy: false, k8s: {kubeconfig: ./kc}, token: t}\n",
        );
        let (res, problems) = run(&[cfg], &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            res.cli_words,
            [
                "--name=X",
                "--verbose",
                "-var-file=v.tfvars",
                "--target=a.b",
                "--target=c",
                "apply"
            ]
        );
        assert_eq!(res.stack_action.as_deref(), Some("apply"));
        assert_eq!(export(&res, "TF_VAR_FILE"), Some("v.tfvars"));
        assert_eq!(export(&res, "BITOPS_TF_VAR_FILE"), Some("v.tfvars"));
        assert_eq!(export(&res, "TF_TARGETS"), Some("a.b c"));
        // false in the config overrides a true default
        assert_eq!(export(&res, "TERRAFORM_SKIP_DEPLOY"), Some("false"));
        assert_eq!(export(&res, "KUBE_CONFIG_PATH"), Some("./kc"));
    }

    #[test]
    fn env_beats_config_beats_default() {
        let cfg = doc(
            "c.yaml",
            "terraform:\n  cli: {name: fromfile, verbose: true}\n  options: {token: t}\n",
        );
        let (res, problems) = run(
            &[cfg],
            &[
                ("BITOPS_TERRAFORM_NAME", "fromenv"),
                ("BITOPS_TERRAFORM_VERBOSE", "false"),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(res.cli_words, ["--name=fromenv", "plan"]);
        assert_eq!(export(&res, "TERRAFORM_COMMAND"), Some("plan"));
    }

    #[test]
    fn layers_take_the_environment_first() {
        let env = doc("dev.yaml", "terraform:\n  cli: {name: dev}\n");
        let def = doc(
            "default.yaml",
            "terraform:\n  cli: {name: base, forks: 3}\n  options: {token: t}\n",
        );
        let (res, problems) = run(&[env, def], &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            res.cli_words,
            ["--name=dev", "--verbose", "--forks=3", "plan"]
        );
    }

    #[test]
    fn type_errors_and_missing_required_are_all_reported() {
        let cfg = doc(
            "c.yaml",
            "terraform:\n  cli:\n    forks: many\n    name: {a: 1}\n    bogus: 1\n",
        );
        let (_, problems) = run(&[cfg], &[]);
        let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[0].contains("c.yaml:5") && errors[0].contains("terraform.cli.bogus"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].contains("c.yaml:4") && errors[1].contains("single value"),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].contains("c.yaml:3") && errors[2].contains("must be an integer"),
            "{}",
            errors[2]
        );
        assert!(
            errors[3].contains("required value `options.token`"),
            "{}",
            errors[3]
        );
    }

    #[test]
    fn enum_limits_values() {
        let mut problems = Vec::new();
        let schema = doc(
            "s.yaml",
            "t:\n  properties:\n    cli:\n      properties:\n        stack-action: {type: string, enum: [plan, apply, destroy], default: plan}\n",
        );
        let schema = parse_schema(&schema, "t", &mut problems).unwrap();
        let cfg = doc("c.yaml", "t:\n  cli: {stack-action: aply}\n");
        let tc = ToolConfig {
            layers: std::slice::from_ref(&cfg),
            roots: vec!["t".into()],
            secret_env: &[],
        };
        resolve(&schema, &tc, &EnvVars::default(), &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2));
        assert!(
            problems[0]
                .message
                .contains("`aply` is not one of plan, apply, destroy (did you mean `apply`?)"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn bad_schemas_are_reported() {
        let mut problems = Vec::new();
        let bad = doc(
            "s.yaml",
            "x:\n  properties:\n    cli:\n      properties:\n        a: {type: strnig}\n        b: {export_env: 1BAD}\n",
        );
        assert!(parse_schema(&bad, "x", &mut problems).is_none());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, Some(5));
        assert!(parse_schema(&bad, "y", &mut problems).is_none());
        assert!(problems[2].message.contains("root key"));
    }

    #[test]
    fn bad_forced_by_entries_are_reported_at_their_lines() {
        let mut problems = Vec::new();
        let bad = doc(
            "s.yaml",
            "x:\n  cli:\n    stack-action:\n      enum: [plan, apply]\n      forced_by:\n        - {env: X_APPLY, value: aply}\n        - {env: 1BAD, value: apply}\n        - {value: apply}\n        - {env: X_APPLY, value: apply, unless: plan}\n",
        );
        assert!(parse_schema(&bad, "x", &mut problems).is_none());
        let found: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(found.len(), 4, "{found:?}");
        assert_eq!(found[0].0, Some(6));
        assert!(found[0].1.contains("`aply`"), "{found:?}");
        assert_eq!(found[1].0, Some(7));
        assert!(found[1].1.contains("`1BAD`"), "{found:?}");
        assert_eq!(found[2].0, Some(8));
        assert_eq!(found[3].0, Some(9));
        assert!(
            found[3].1.starts_with("`forced_by` must be a list"),
            "{found:?}"
        );
    }
}
