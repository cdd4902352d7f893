//! The built-in plugins, embedded from `plugins/` at build time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Names of the built-in plugins, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = FILES.iter().map(|(p, _, _)| *p).collect();
    names.dedup();
    names
}

pub fn exists(plugin: &str) -> bool {
    FILES.iter().any(|(p, _, _)| *p == plugin)
}

pub fn file(plugin: &str, rel: &str) -> Option<&'static [u8]> {
    FILES
        .iter()
        .find(|(p, f, _)| *p == plugin && *f == rel)
        .map(|(_, _, content)| *content)
}

/// Writes one built-in plugin into `dir` (scripts executable).
pub fn write(plugin: &str, dir: &Path) -> std::io::Result<()> {
    for (_, rel, content) in FILES.iter().filter(|(p, _, _)| *p == plugin) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
        if rel.ends_with(".sh") || content.starts_with(b"#!") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}
