//! Names that become path components and suggestions for misspelt ones.

use crate::error::Problem;

/// Aliases and plugin names become folder names: keep them to one safe component.
pub fn check(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid name: use letters, digits, `_`, `.` and `-` only (no `/`, not `..`)"
        ))
    }
}

/// A deployment alias: a relative path inside the environment (`terraform/aws`, as
/// BitOps joins it to the environment folder), each component a name `check` accepts.
pub fn check_alias(alias: &str) -> Result<(), String> {
    let why = if alias.is_empty() {
        Some("an empty name")
    } else if alias.starts_with('/') {
        Some("an absolute path")
    } else if alias.split('/').any(|c| c == "..") {
        Some("a path with `..`")
    } else if alias.split('/').any(str::is_empty) {
        Some("a path with an empty component (`//` or a trailing `/`)")
    } else if alias.split('/').any(|c| check(c).is_err()) {
        Some("a path with a component that is not a plain name")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(format!(
            "`{alias}` is not a valid deployment name ({why}): use a folder of the environment, such as `terraform` or `terraform/aws`: letters, digits, `_`, `.` and `-` in each part, parts joined by `/`, no `..`"
        )),
    }
}

/// A deployment alias as one word, for a file name: each `/` as `_` (`terraform/aws` →
/// `terraform_aws`).
pub fn alias_word(alias: &str) -> String {
    alias.replace('/', "_")
}

/// A valid shell variable name.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The closest candidate within a small edit distance, for "did you mean".
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A key nobody reads (`unknown`, e.g. "unknown core setting `fail_fsat`"): a warning,
/// ignored as BitOps ignores it (`validate --strict`: an error) — unless it is a close
/// miss of a key that is read (`stack_action` for `stack-action`). Then the user meant
/// that key, and ignoring it would run something other than the config says: an error
/// in every command.
pub fn unknown_key<'a>(
    unknown: String,
    key: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Problem {
    match suggest(key, known) {
        Some(best) => Problem::error(format!(
            "{unknown}: did you mean `{best}`? A misspelt key would be ignored, and the run would not do what the config says"
        ))
        .hint(format!("rename it to `{best}`")),
        None => Problem::warning(format!("{unknown}; it is ignored")).strict(),
    }
}

/// The hint for a name that is not one of `candidates`: `did you mean `x`? LABEL: a, b`,
/// or only the list when nothing is close.
pub fn choices_hint(word: &str, candidates: &[String], label: &str) -> String {
    let list = candidates.join(", ");
    match suggest(word, candidates.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{best}`? {label}: {list}"),
        None => format!("{label}: {list}"),
    }
}

/// Edit distance where swapping two neighbours counts as one edit (`nmae` → `name`):
/// the optimal string alignment distance.
fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check("terraform-net_2.x").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(check_alias("terraform/aws").is_ok());
        assert!(check_alias("ansible/clone_repo").is_ok());
        assert!(check_alias("a.b/c-d/e_f").is_ok());
        for bad in [
            "", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a/.", "a b/c",
        ] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
        assert!(is_env_name("TF_VAR_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("var_file", ["var-file", "targets"]),
            Some("var-file")
        );
        assert_eq!(suggest("zzz", ["var-file", "targets"]), None);
        assert_eq!(suggest("nmae", ["name", "forks"]), Some("name"));
    }
}
