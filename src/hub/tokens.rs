//! Tokens: the admin and join tokens read from a file (owner-only) or the environment,
//! agent tokens made from 256 random bits and kept only as their SHA-256, and comparing
//! tokens in constant time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// A token read from `file` (refused when group or others may read it) or else from
/// the environment variable `var` (its value). `what` names it in errors.
pub fn load(file: Option<&Path>, var: &str, what: &str) -> Result<String, String> {
    let token = match file {
        Some(path) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?;
            if !meta.is_file() {
                return Err(format!(
                    "the {what} file {} is not a regular file",
                    path.display()
                ));
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the {what} file {} is readable by others (mode {mode:o}): make it owner-only (chmod 600 {})",
                    path.display(),
                    path.display()
                ));
            }
            if meta.len() > 4096 {
                return Err(format!(
                    "the {what} file {} is too large for a token",
                    path.display()
                ));
            }
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?
        }
        None => std::env::var(var).map_err(|_| {
            format!(
                "no {what}: give --{}-file FILE or set {var}",
                what.replace(' ', "-")
            )
        })?,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if token.len() < 16 {
        return Err(format!(
            "the {what} is too short (at least 16 characters; `openssl rand -hex 32` makes a good one)"
        ));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("the {what} holds whitespace"));
    }
    Ok(token)
}

/// A new agent token: 256 random bits, hex.
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(hex(&bytes))
}

/// The SHA-256 of a token, hex: what the hub stores.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `given` is `expected`, in time independent of where they differ.
pub fn matches(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = generate().unwrap();
        assert_eq!(t.len(), 64);
        assert_ne!(t, generate().unwrap());
        assert_eq!(hash(&t).len(), 64);
        assert!(matches(&t, &t));
        assert!(!matches(&t, &hash(&t)));
    }

    #[test]
    fn token_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(Some(&file), "X_UNSET_VAR", "admin token").unwrap_err();
        assert!(err.contains("readable by others"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            load(Some(&file), "X_UNSET_VAR", "admin token").unwrap(),
            "0123456789abcdef0123"
        );
    }
}
