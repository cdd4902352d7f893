//! The exact commit of a job, checked out from its git URL into a cache under the
//! agent's state folder (one repository per URL, reused): `git init`, `git fetch
//! --depth 1 URL SHA` (a full fetch when the server refuses a commit id), a detached
//! checkout, and `git rev-parse HEAD` must be the commit asked for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plugin::fetch::redact;

/// The checkout of `revision` of `url` under `cache`; the error is for people (the URL's
/// credentials redacted).
pub fn checkout(cache: &Path, url: &str, revision: &str) -> Result<PathBuf, String> {
    let revision = revision.to_ascii_lowercase();
    if !(revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(format!(
            "the revision `{revision}` is not a full commit id (40 hex digits)"
        ));
    }
    // A local path works from the cache's folder too.
    let local;
    let url = if !url.contains("://") && Path::new(url).exists() {
        local =
            std::path::absolute(url).map_or(url.to_string(), |p| p.to_string_lossy().into_owned());
        local.as_str()
    } else {
        url
    };
    let dir = cache.join(folder_name(url));
    let d = dir.to_string_lossy().into_owned();
    if !dir.join(".git").is_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        git(&["init", "--quiet", &d])?;
    }
    let shallow = git(&[
        "-C",
        &d,
        "fetch",
        "--quiet",
        "--no-tags",
        "--depth",
        "1",
        "--",
        url,
        &revision,
    ]);
    if let Err(why) = shallow {
        if crate::stop::requested().is_some() {
            return Err(why);
        }
        super::debug(&format!(
            "a shallow fetch of {revision} failed ({why}); fetching everything"
        ));
        git(&[
            "-C",
            &d,
            "fetch",
            "--quiet",
            "--tags",
            "--force",
            "--",
            url,
            "+refs/heads/*:refs/remotes/origin/*",
        ])?;
    }
    git(&[
        "-C", &d, "checkout", "--quiet", "--force", "--detach", &revision,
    ])
    .map_err(|why| format!("the commit {revision} is not in {}: {why}", redact(url)))?;
    git(&["-C", &d, "clean", "--quiet", "-ffdx"])?;
    let head = git(&["-C", &d, "rev-parse", "HEAD"])?;
    if head != revision {
        return Err(format!(
            "checked out {head}, not the commit asked for ({revision})"
        ));
    }
    Ok(dir)
}

/// One folder per URL: its host and path as letters and digits, and a hash (credentials
/// never in a folder name).
fn folder_name(url: &str) -> String {
    use std::hash::{Hash, Hasher};
    let clean = redact(url);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut h);
    let tail: String = clean
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("repo")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("{tail}-{:016x}", h.finish())
}

/// Runs git; stdout trimmed, or why it failed (redacted). A stop signal ends it.
pub fn git(args: &[&str]) -> Result<String, String> {
    let handle = duct::cmd("git", args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let out = loop {
        if let Some(out) = handle
            .try_wait()
            .map_err(|e| format!("cannot run git: {e}"))?
        {
            break out;
        }
        if let Some(signal) = crate::stop::requested() {
            let _ = handle.kill();
            return Err(format!("interrupted by {}", signal.name()));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let sub = if args.first() == Some(&"-C") {
            args.get(2)
        } else {
            args.first()
        };
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "git {} failed: {}",
            sub.unwrap_or(&""),
            redact_all(err.trim())
        ))
    }
}

/// Every URL with credentials in `text` redacted (`https://user:pass@host` →
/// `https://***@host`).
pub fn redact_all(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") && word.contains('@') {
                let start = word.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0);
                format!("{}{}", &word[..start], redact(&word[start..]))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_shown() {
        assert_eq!(
            redact_all("fatal: could not read from 'https://bob:pw1234@git.example/x.git'"),
            "fatal: could not read from 'https://***@git.example/x.git'"
        );
        let name = folder_name("https://bob:pw1234@git.example/ops.git");
        assert!(
            name.starts_with("ops-git-") && !name.contains("pw1234"),
            "{name}"
        );
    }
}
