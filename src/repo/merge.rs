//! The default-folder merge rules (pure): what happens when a file exists both in
//! `<default>/<path>` and in `<env>/<path>`.

use std::path::Path;

use yaml_rust2::{Yaml as Value, YamlEmitter, YamlLoader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// Both kept: the environment's file is renamed `<name>.<env>.tf`, the default's takes the name.
    Terraform,
    /// The environment's file wins; the default's is not copied.
    Shell,
    /// The two documents are deep-merged, environment values winning.
    Yaml,
    /// The environment's file wins.
    Other,
}

pub fn clash_kind(file_name: &str) -> Clash {
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".tf") {
        Clash::Terraform
    } else if lower.ends_with(".sh") {
        Clash::Shell
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Clash::Yaml
    } else {
        Clash::Other
    }
}

/// The name the environment's `.tf` file takes when the default folder has the same file.
pub fn renamed_tf(file_name: &str, env: &str) -> String {
    format!("{file_name}.{env}.tf")
}

/// Deep merge: maps merge key by key (recursively), anything else takes the
/// environment's value. Key order: the default's keys first, then new keys of the environment.
pub fn deep_merge(env: Value, default: Value) -> Value {
    match (env, default) {
        (Value::Hash(env_map), Value::Hash(mut merged)) => {
            for (key, env_value) in env_map {
                match merged.get_mut(&key) {
                    Some(slot) => {
                        let default_value = std::mem::replace(slot, Value::Null);
                        *slot = deep_merge(env_value, default_value);
                    }
                    None => {
                        merged.insert(key, env_value);
                    }
                }
            }
            Value::Hash(merged)
        }
        (Value::Null, default) => default,
        (env, _) => env,
    }
}

/// Reads and merges a YAML file of the environment over the default folder's. Both are
/// read as config files are (a regular file, at most 8 MiB) and parsed with bitops' own
/// limits (depth, values and bytes after aliases) before the merge parses them again.
pub fn merge_files(env: &Path, default: &Path) -> Result<String, String> {
    let read = |p: &Path, side: &str| -> Result<String, String> {
        let bytes = crate::files::read_limited(p, crate::config::yaml::MAX_FILE_BYTES)
            .map_err(|e| format!("the {side} file: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("the {side} file is not UTF-8"))?;
        crate::config::yaml::parse(&text).map_err(|e| match e.line {
            Some(line) => format!("the {side} file, line {line}: {}", e.message),
            None => format!("the {side} file: {}", e.message),
        })?;
        Ok(text)
    };
    merge_yaml_text(
        &read(env, "environment's")?,
        &read(default, "default folder's")?,
    )
}

/// One YAML document (anchors expanded); an empty text is null.
fn load(text: &str) -> Result<Value, String> {
    let mut docs = YamlLoader::load_from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    Ok(if docs.is_empty() {
        Value::Null
    } else {
        docs.swap_remove(0)
    })
}

/// Merges two YAML texts; `Err` names which side is not valid YAML.
pub fn merge_yaml_text(env: &str, default: &str) -> Result<String, String> {
    let env = load(env).map_err(|e| format!("the environment's file: {e}"))?;
    let default = load(default).map_err(|e| format!("the default folder's file: {e}"))?;
    let merged = deep_merge(env, default);
    let mut text = String::new();
    YamlEmitter::new(&mut text)
        .dump(&merged)
        .map_err(|e| format!("the merged document cannot be written as YAML ({e})"))?;
    let mut text = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---"))
        .unwrap_or(&text)
        .to_string();
    text.push('\n');
    // Never stage a file that is not valid YAML, or that reads back as something else.
    match load(&text) {
        Ok(again) if again == merged => Ok(text),
        Ok(_) => {
            Err("the merged document cannot be written as YAML that reads back the same".into())
        }
        Err(e) => Err(format!(
            "the merged document cannot be written as valid YAML ({e})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(clash_kind("main.tf"), Clash::Terraform);
        assert_eq!(clash_kind("01.sh"), Clash::Shell);
        assert_eq!(clash_kind("values.yml"), Clash::Yaml);
        assert_eq!(clash_kind("bitops.config.yaml"), Clash::Yaml);
        assert_eq!(clash_kind("notes.txt"), Clash::Other);
        assert_eq!(renamed_tf("main.tf", "dev"), "main.tf.dev.tf");
    }

    #[test]
    fn deep_merge_env_wins_and_maps_merge() {
        let merged = merge_yaml_text(
            "a: {x: 1, list: [3]}\nc: env\n",
            "a: {x: 0, y: 2, list: [1, 2]}\nb: default\nc: default\n",
        )
        .unwrap();
        let v = load(&merged).unwrap();
        let expected = load("a: {x: 1, y: 2, list: [3]}\nb: default\nc: env\n").unwrap();
        assert_eq!(v, expected);
    }

    #[test]
    fn empty_env_document_takes_default() {
        let merged = merge_yaml_text("", "a: 1\n").unwrap();
        assert_eq!(merged.trim(), "a: 1");
    }

    /// Found by fuzzing (fuzz/fuzz_targets/default_merge.rs): a tag that the YAML library
    /// of the time read but wrote back as invalid YAML.
    #[test]
    fn a_merge_that_would_write_invalid_yaml_is_refused() {
        let text = String::from_utf8_lossy(include_bytes!("testdata/merge-tag-crash.yaml"));
        let (env, default) = text.split_once("\n%%\n").unwrap_or((&text, ""));
        match merge_yaml_text(env, default) {
            Ok(merged) => assert!(load(&merged).is_ok()),
            Err(why) => assert!(why.contains("YAML"), "{why}"),
        }
    }

    #[test]
    fn invalid_yaml_is_reported() {
        assert!(
            merge_yaml_text("a: [", "b: 1")
                .unwrap_err()
                .contains("environment")
        );
    }
}
