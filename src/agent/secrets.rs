//! `--secrets PATH`: the variables only this agent holds, added to every step's
//! environment and masked in everything the agent prints or sends. An env file
//! (`KEY=VALUE` lines, `#` comments) or a folder (one file per variable, the file name
//! its name); owner-only, or refused.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::report::mask::Masker;

/// The agent's secrets, in the order they were read.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub vars: Vec<(String, String)>,
}

impl Secrets {
    pub fn names(&self) -> Vec<String> {
        self.vars.iter().map(|(k, _)| k.clone()).collect()
    }

    /// A masker holding every value (values shorter than 4 characters are not masked).
    pub fn masker(&self) -> Masker {
        let values: Vec<String> = self.vars.iter().map(|(_, v)| v.clone()).collect();
        Masker::with_values(&[], &Default::default(), &[], &values)
    }
}

/// Reads the secrets at `path`; the error says what is wrong and what to do.
pub fn load(path: &Path) -> Result<Secrets, String> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot read the secrets {}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "the secrets {} are a symbolic link: give the file or folder itself",
            path.display()
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    let owned = |meta: &std::fs::Metadata, what: &Path, allowed: &[u32]| -> Result<(), String> {
        let mode = meta.permissions().mode() & 0o777;
        if meta.uid() != me {
            return Err(format!(
                "the secrets {} belong to another user (uid {}): they must be the agent's own",
                what.display(),
                meta.uid()
            ));
        }
        if !allowed.contains(&mode) {
            let want = allowed
                .iter()
                .map(|m| format!("{m:04o}"))
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(format!(
                "the secrets {} have mode {mode:04o}, readable or writable by others: they must be owner-only ({want})\n  hint: chmod {:o} {}",
                what.display(),
                allowed[0],
                what.display()
            ));
        }
        Ok(())
    };
    if meta.is_dir() {
        owned(&meta, path, &[0o700, 0o500])?;
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read the secrets folder {}: {e}", path.display()))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        let mut vars = Vec::new();
        for entry in entries {
            let file = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let meta = std::fs::symlink_metadata(&file)
                .map_err(|e| format!("cannot read the secret {}: {e}", file.display()))?;
            if !meta.is_file() {
                return Err(format!(
                    "the secret {} is not a regular file: a secrets folder holds one file per variable",
                    file.display()
                ));
            }
            owned(&meta, &file, &[0o600, 0o400])?;
            check_name(&name).map_err(|why| format!("the secret {}: {why}", file.display()))?;
            let value = read_text(&file)?;
            // A file written by an editor or `echo` ends in a newline that is not the value's.
            let value = value
                .strip_suffix('\n')
                .map(|v| v.strip_suffix('\r').unwrap_or(v))
                .unwrap_or(&value);
            vars.push((name, value.to_string()));
        }
        Ok(Secrets { vars })
    } else if meta.is_file() {
        owned(&meta, path, &[0o600, 0o400])?;
        let text = read_text(path)?;
        let mut vars = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let trimmed = trimmed.strip_prefix("export ").unwrap_or(trimmed);
            let Some((name, value)) = trimmed.split_once('=') else {
                return Err(format!(
                    "{}:{}: expected KEY=VALUE\n  hint: one variable a line, `#` starts a comment",
                    path.display(),
                    n + 1
                ));
            };
            let name = name.trim();
            check_name(name).map_err(|why| format!("{}:{}: {why}", path.display(), n + 1))?;
            vars.push((name.to_string(), unquote(value)));
        }
        Ok(Secrets { vars })
    } else {
        Err(format!(
            "the secrets {} are neither a file nor a folder",
            path.display()
        ))
    }
}

fn read_text(file: &Path) -> Result<String, String> {
    let bytes = std::fs::read(file)
        .map_err(|e| format!("cannot read the secrets {}: {e}", file.display()))?;
    if bytes.len() > 1024 * 1024 {
        return Err(format!(
            "the secrets {} are larger than 1 MiB",
            file.display()
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| format!("the secrets {} are not UTF-8 text", file.display()))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a variable name (letters, digits and _, not starting with a digit)"
        ))
    }
}

/// `"a b"` and `'a b'` lose their quotes; anything else is taken as written.
fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn env_file_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "env",
            "# comment\nDB_PASS=hunter22\nexport API=\"a b c d\"\n\n",
            0o600,
        );
        let s = load(&file).unwrap();
        assert_eq!(
            s.vars,
            [
                ("DB_PASS".to_string(), "hunter22".to_string()),
                ("API".to_string(), "a b c d".to_string())
            ]
        );
        assert_eq!(s.masker().mask_str("x hunter22 y"), "x ***** y");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&file).unwrap_err();
        assert!(
            e.contains("have mode 0644") && e.contains("chmod 600"),
            "{e}"
        );

        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
        write(&folder, "TOKEN", "s3cr3t-value\n", 0o400);
        let s = load(&folder).unwrap();
        assert_eq!(s.vars, [("TOKEN".to_string(), "s3cr3t-value".to_string())]);
        write(&folder, "OTHER", "x", 0o640);
        assert!(load(&folder).unwrap_err().contains("OTHER have mode 0640"));
        let bad = write(dir.path(), "bad", "no equals sign\n", 0o600);
        assert!(load(&bad).unwrap_err().ends_with(
            "bad:1: expected KEY=VALUE\n  hint: one variable a line, `#` starts a comment"
        ));
    }
}
