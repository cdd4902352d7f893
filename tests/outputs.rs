//! Outputs between tools, as the tests of the built-in plugins see them: a step's
//! processes append what they publish to the file named by `BITOPS_OUTPUTS`.
//!
//! bitops hands each step its own `BITOPS_OUTPUTS` file: `with_outputs` adds an
//! after-hook to the tool folder that copies it, as the plugin left it, into the test
//! folder, and `published` reads that copy.

use std::collections::BTreeMap;

use crate::test::{Run, Test};

/// Where `with_outputs` puts the file, relative to the test folder (outside the ops repo).
const FILE: &str = "bitops-outputs";

/// One published output: its value as text (a string as it is, other JSON compact) and
/// whether it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub value: String,
    pub sensitive: bool,
}

/// A plain output.
pub fn plain(value: &str) -> Output {
    Output {
        value: value.to_string(),
        sensitive: false,
    }
}

/// A secret output.
pub fn secret(value: &str) -> Output {
    Output {
        value: value.to_string(),
        sensitive: true,
    }
}

/// `test` with an after-hook in the tool folder `repo/dev/<alias>` that copies the
/// step's `BITOPS_OUTPUTS` file to the test folder (hooks run in dry runs too, here).
pub fn with_outputs(test: Test, alias: &str) -> Test {
    let file = test.root().join(FILE);
    test.write_raw(FILE, b"")
        .write(
            &format!("repo/dev/{alias}/bitops.after-deploy.d/zz-copy-outputs.sh"),
            "if [ -e \"$BITOPS_OUTPUTS\" ]; then cp \"$BITOPS_OUTPUTS\" \"$OUTPUTS_COPY\"; fi\n",
        )
        .env("OUTPUTS_COPY", &file.to_string_lossy())
        .env("BITOPS_DRY_RUN_HOOKS", "true")
}

/// What the run's step published, one map per JSON object appended, in order; empty when
/// nothing was. The built-in plugins write JSON objects only, so anything else in the file
/// fails the test. An object `{"value": V, "sensitive": B}` (a `type` key allowed, the
/// shape of `terraform output -json`) is `V`, secret when `B` is true; any other value is
/// itself, not secret.
#[track_caller]
pub fn published(run: &Run) -> Vec<BTreeMap<String, Output>> {
    let path = run.root.join(FILE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} (BITOPS_OUTPUTS): {e}", path.display()));
    let text = text.trim_start();
    assert!(
        text.is_empty() || text.starts_with('{'),
        "BITOPS_OUTPUTS does not hold JSON objects:\n{text}"
    );
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map(|doc| {
            let doc = doc.unwrap_or_else(|e| panic!("BITOPS_OUTPUTS: {e}:\n{text}"));
            let object = doc
                .as_object()
                .unwrap_or_else(|| panic!("BITOPS_OUTPUTS holds a non-object: {doc}"));
            object
                .iter()
                .map(|(key, v)| {
                    let output = match v.as_object() {
                        Some(o)
                            if o.contains_key("value")
                                && o.get("sensitive").is_some_and(|s| s.is_boolean())
                                && o.keys().all(|k| {
                                    ["value", "sensitive", "type"].contains(&k.as_str())
                                }) =>
                        {
                            Output {
                                value: as_text(&o["value"]),
                                sensitive: o["sensitive"] == true,
                            }
                        }
                        _ => plain(&as_text(v)),
                    };
                    (key.clone(), output)
                })
                .collect()
        })
        .collect()
}

/// A map of outputs, for comparing with `published`.
pub fn outputs(pairs: &[(&str, Output)]) -> BTreeMap<String, Output> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// `stderr` of a step with the hook of `with_outputs` shown after its deploy script.
pub fn copying(stderr: &str, alias: &str) -> String {
    let hook = format!(
        "  after hook zz-copy-outputs.sh: bash <ws>/dev/{alias}/bitops.after-deploy.d/zz-copy-outputs.sh\n"
    );
    let mut out = String::new();
    for line in stderr.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with("  deploy script:") {
            out.push_str(&hook);
        }
    }
    out
}
