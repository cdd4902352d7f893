//! Outputs between steps: what a step publishes (the file named by `$BITOPS_OUTPUTS`),
//! what the steps that depend on it receive (`BITOPS_OUT_<ALIAS>_<KEY>` and the JSON file
//! `$BITOPS_INPUTS`), and `${{ outputs.<alias>.<key> }}` references in tool configs.
//! Pure: parsing and substitution; the files are read and written by `run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::config::yaml::{Node, Value};
use crate::error::Problem;

/// One published value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    pub value: String,
    /// Masked everywhere (a sensitive Terraform output, or a secret-looking name).
    pub secret: bool,
}

impl Output {
    /// The texts to mask when the output is secret: its value, and for a structured value
    /// (a sensitive Terraform object or list) every leaf, which a dependent step may print
    /// alone (`jq -r .password`). Nothing when it is not secret.
    pub fn secrets(&self) -> Vec<String> {
        if !self.secret {
            return Vec::new();
        }
        let mut out = vec![self.value.clone()];
        if self.value.starts_with(['{', '['])
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&self.value)
        {
            leaves(&json, &mut out);
        }
        out
    }
}

/// Every string and number of a JSON value, as text.
fn leaves(json: &serde_json::Value, out: &mut Vec<String>) {
    match json {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Number(n) => out.push(n.to_string()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

/// What one step published, by key.
pub type Published = BTreeMap<String, Output>;

/// What the steps published, by alias.
pub type Outputs = BTreeMap<String, Published>;

/// The files and values of one step's run: where it publishes, and what it receives.
#[derive(Debug, Clone, Default)]
pub struct StepIo {
    pub outputs_file: PathBuf,
    pub inputs_file: PathBuf,
    /// The outputs of the steps this one depends on (directly or not).
    pub inputs: Outputs,
    /// The inputs too large for a variable, by variable name: each is in this file, and
    /// the step gets `<NAME>_FILE` instead of `<NAME>` (see `MAX_VAR_BYTES`).
    pub in_files: BTreeMap<String, PathBuf>,
}

/// The largest output passed as a `BITOPS_OUT_…` variable; a larger one (or one past
/// `MAX_VARS_BYTES` of such variables in all) comes as a file, `BITOPS_OUT_…_FILE`: Linux
/// refuses to start a program with a variable over 128 KiB, or with too many in all.
pub const MAX_VAR_BYTES: usize = 32 * 1024;

/// The most bytes of `BITOPS_OUT_…` variables one step gets.
pub const MAX_VARS_BYTES: usize = 256 * 1024;

/// Which inputs go to files: those over `MAX_VAR_BYTES`, and any past `MAX_VARS_BYTES`
/// in all, in the order of `inputs`. By variable name.
pub fn too_large_for_variables(inputs: &Outputs) -> Vec<(String, &Output)> {
    let mut total = 0;
    let mut out = Vec::new();
    for (alias, published) in inputs {
        for (key, output) in published {
            let var = env_name(alias, key);
            let size = var.len() + output.value.len() + 2;
            if output.value.len() > MAX_VAR_BYTES || total + size > MAX_VARS_BYTES {
                out.push((var, output));
            } else {
                total += size;
            }
        }
    }
    out
}

/// Largest outputs file read.
pub const MAX_OUTPUTS_BYTES: u64 = 16 * 1024 * 1024;

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses what a step wrote to `$BITOPS_OUTPUTS`: JSON objects and `KEY=VALUE` lines,
/// in any mix (`#` comments and blank lines ignored). In JSON, an object with
/// `value` and a boolean `sensitive` (`terraform output -json`'s shape) is that value,
/// secret when sensitive; other values are strings as they are, anything else compact
/// JSON. A key whose name looks secret (`is_secret_name`) is secret too.
pub fn parse(text: &str, secret_env: &[String]) -> Result<Published, String> {
    let secret_name = |k: &str| crate::config::settings::is_secret_name(k, secret_env);
    let mut out = Published::new();
    let mut put = |key: &str, value: String, secret: bool| -> Result<(), String> {
        if !valid_key(key) {
            return Err(format!(
                "`{key}` is not a valid output name (letters, digits, `_` and `-`)"
            ));
        }
        let secret = secret || secret_name(key);
        out.insert(key.to_string(), Output { value, secret });
        Ok(())
    };
    // JSON objects and KEY=VALUE lines, in any order: a hook's lines and a plugin's
    // JSON may share the file.
    let mut rest = text;
    let mut line_no = 1;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
        if trimmed.is_empty() {
            break;
        }
        if let Some(after) = trimmed.strip_prefix('\n') {
            line_no += 1;
            rest = after;
            continue;
        }
        if trimmed.starts_with('{') {
            let mut stream =
                serde_json::Deserializer::from_str(trimmed).into_iter::<serde_json::Value>();
            let item = match stream.next() {
                Some(Ok(item)) => item,
                Some(Err(e)) => return Err(format!("line {line_no}: invalid JSON: {e}")),
                None => break,
            };
            let used = &trimmed[..stream.byte_offset()];
            line_no += used.matches('\n').count();
            rest = &trimmed[stream.byte_offset()..];
            let serde_json::Value::Object(map) = item else {
                return Err(format!("line {line_no}: expected a JSON object"));
            };
            for (key, value) in map {
                let (value, sensitive) = unwrap_terraform(value);
                put(&key, json_text(value), sensitive)?;
            }
            continue;
        }
        let (line, after) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
        rest = after;
        let n = line_no;
        line_no += 1;
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {n}: expected KEY=VALUE or a JSON object"));
        };
        put(key.trim(), value.to_string(), false)?;
    }
    Ok(out)
}

/// `{"value": V, "sensitive": B, "type": T}` → (V, B); anything else as it is.
fn unwrap_terraform(value: serde_json::Value) -> (serde_json::Value, bool) {
    if let serde_json::Value::Object(map) = &value
        && let (Some(_), Some(serde_json::Value::Bool(sensitive))) =
            (map.get("value"), map.get("sensitive"))
        && map
            .keys()
            .all(|k| ["value", "sensitive", "type"].contains(&k.as_str()))
    {
        let sensitive = *sensitive;
        let mut map = map.clone();
        return (map.remove("value").unwrap_or_default(), sensitive);
    }
    (value, false)
}

fn json_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The variable a dependent step receives an output in: `BITOPS_OUT_<ALIAS>_<KEY>`,
/// upper case, anything but letters and digits as `_`.
pub fn env_name(alias: &str, key: &str) -> String {
    let part = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("BITOPS_OUT_{}_{}", part(alias), part(key))
}

/// The JSON of `$BITOPS_INPUTS`: `{alias: {key: value}}`.
pub fn inputs_json(inputs: &Outputs) -> String {
    let plain: BTreeMap<&str, BTreeMap<&str, &str>> = inputs
        .iter()
        .map(|(alias, published)| {
            (
                alias.as_str(),
                published
                    .iter()
                    .map(|(k, o)| (k.as_str(), o.value.as_str()))
                    .collect(),
            )
        })
        .collect();
    serde_json::to_string_pretty(&plain).unwrap_or_default() + "\n"
}

/// A `${{ outputs.<alias>.<key> }}` in a tool config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub alias: String,
    pub key: String,
    pub file: PathBuf,
    pub line: usize,
}

impl Reference {
    pub fn text(&self) -> String {
        format!("${{{{ outputs.{}.{} }}}}", self.alias, self.key)
    }

    /// A problem located at the reference.
    pub fn problem(&self, message: String) -> Problem {
        Problem::error(message).at(&self.file, self.line)
    }
}

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\$\{\{\s*outputs\.([A-Za-z0-9_./-]+)\.([A-Za-z0-9_-]+)\s*\}\}")
            .expect("a valid pattern")
    })
}

/// Records every reference in `node`'s strings and, when `known` is given (a run, right
/// before the step), replaces each with the published value. A reference to an output
/// that was not published is a problem naming what was.
pub fn substitute(
    node: &mut Node,
    known: Option<&Outputs>,
    file: &Path,
    refs: &mut Vec<Reference>,
    problems: &mut Vec<Problem>,
) {
    match &mut node.value {
        Value::Str(text) if text.contains("${{") => {
            let line = node.line;
            let mut failed = false;
            let replaced = pattern().replace_all(text, |c: &regex::Captures| {
                let reference = Reference {
                    alias: c[1].to_string(),
                    key: c[2].to_string(),
                    file: file.to_path_buf(),
                    line,
                };
                let value = known.map(|k| {
                    k.get(&reference.alias)
                        .and_then(|p| p.get(&reference.key))
                        .map(|o| o.value.clone())
                        .ok_or_else(|| {
                            let published: Vec<&str> = k
                                .get(&reference.alias)
                                .map(|p| p.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            reference
                                .problem(format!(
                                    "{} has no value: `{}` published no output `{}`",
                                    reference.text(),
                                    reference.alias,
                                    reference.key
                                ))
                                .hint(if published.is_empty() {
                                    format!("`{}` published no outputs: it must write them to the file named by $BITOPS_OUTPUTS", reference.alias)
                                } else {
                                    format!("it published: {}", published.join(", "))
                                })
                        })
                });
                let out = match value {
                    Some(Ok(v)) => v,
                    Some(Err(p)) => {
                        failed = true;
                        problems.push(p);
                        String::new()
                    }
                    None => c[0].to_string(),
                };
                refs.push(reference);
                out
            });
            if !failed && known.is_some() {
                *text = replaced.into_owned();
            }
        }
        Value::Seq(items) => {
            for item in items {
                substitute(item, known, file, refs, problems);
            }
        }
        Value::Map(entries) => {
            for (_, value) in entries {
                substitute(value, known, file, refs, problems);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_json_and_lines() {
        let tf = r#"{"ip": {"sensitive": false, "type": "string", "value": "10.0.0.1"},
                     "pw": {"sensitive": true, "type": "string", "value": "hunter2"},
                     "ports": [80, 443]}
                    {"extra": "x"}"#;
        let p = parse(tf, &[]).unwrap();
        assert_eq!(
            p["ip"],
            Output {
                value: "10.0.0.1".into(),
                secret: false
            }
        );
        assert_eq!(
            p["pw"],
            Output {
                value: "hunter2".into(),
                secret: true
            }
        );
        assert_eq!(p["ports"].value, "[80,443]");
        assert_eq!(p["extra"].value, "x");
        let lines = parse("# c\nA=1\n\nDB_PASSWORD=s=3\n", &[]).unwrap();
        assert_eq!(lines["A"].value, "1");
        assert_eq!(
            lines["DB_PASSWORD"],
            Output {
                value: "s=3".into(),
                secret: true
            }
        );
        assert!(parse("oops\n", &[]).unwrap_err().contains("line 1"));
        assert!(parse("[1]", &[]).is_err());
        let mixed = parse(
            "a=1\n{\"b\": 2}\n# c\nc=3\n{\"d\":\n 4} {\"e\": 5}\nf=6",
            &[],
        )
        .unwrap();
        let keys: Vec<&str> = mixed.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(
            parse("a=1\n\n{oops}", &[]).unwrap_err().split(':').next(),
            Some("line 3")
        );
        assert!(
            parse("a b=1", &[])
                .unwrap_err()
                .contains("not a valid output name")
        );
    }

    #[test]
    fn references_are_substituted_or_reported() {
        let mut node = crate::config::yaml::parse(
            "ansible:\n  cli:\n    extra-vars: \"ip=${{ outputs.net.ip }} n=${{outputs.net.nope}}\"\n",
        )
        .unwrap();
        let (mut refs, mut problems) = (Vec::new(), Vec::new());
        substitute(
            &mut node,
            None,
            Path::new("c.yaml"),
            &mut refs,
            &mut problems,
        );
        assert_eq!(refs.len(), 2);
        assert_eq!(
            (refs[0].alias.as_str(), refs[0].key.as_str(), refs[0].line),
            ("net", "ip", 3)
        );
        let mut outputs = Outputs::new();
        outputs.insert(
            "net".into(),
            [(
                "ip".to_string(),
                Output {
                    value: "10.0.0.1".into(),
                    secret: false,
                },
            )]
            .into(),
        );
        let mut node2 = node.clone();
        substitute(
            &mut node2,
            Some(&outputs),
            Path::new("c.yaml"),
            &mut refs,
            &mut problems,
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .contains("published no output `nope`")
        );
        let mut ok = crate::config::yaml::parse("v: ${{ outputs.net.ip }}/24\n").unwrap();
        problems.clear();
        substitute(
            &mut ok,
            Some(&outputs),
            Path::new("c.yaml"),
            &mut refs,
            &mut problems,
        );
        assert!(problems.is_empty());
        assert_eq!(
            ok.get("v").and_then(Node::scalar_text).as_deref(),
            Some("10.0.0.1/24")
        );
        assert_eq!(env_name("my-net", "vpc.id"), "BITOPS_OUT_MY_NET_VPC_ID");
    }
}
