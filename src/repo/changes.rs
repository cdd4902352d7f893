//! What changed in the ops repo since a git commit (`--changed-since REF`): the files
//! that differ between REF and the working tree, uncommitted and untracked ones
//! included (ignored files are not). Runs git; reads only.

use std::path::{Path, PathBuf};

use crate::error::{Kind, Problem};

/// The changed files, as absolute paths.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub reference: String,
    pub files: Vec<PathBuf>,
}

/// `git` in `dir`, its standard output; a problem naming the command when it fails.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = duct::cmd("git", args)
        .dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The files changed in the git work tree holding `ops_repo` since `reference`.
pub fn since(ops_repo: &Path, reference: &str) -> Result<Changes, Problem> {
    let flag = "--changed-since";
    let top = git(ops_repo, &["rev-parse", "--show-toplevel"]).map_err(|why| {
        let kind = if why.starts_with("cannot run git") {
            Kind::ToolMissing
        } else {
            Kind::Invalid
        };
        Problem::error(format!(
            "{flag} needs the ops repo in a git work tree: {why}"
        ))
        .file(ops_repo)
        .kind(kind)
        .hint("run bitops in a git clone of the ops repo (with git on PATH), or leave out --changed-since")
    })?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim());
    let commit = format!("{reference}^{{commit}}");
    if reference.starts_with('-')
        || git(&top, &["rev-parse", "--verify", "--quiet", &commit]).is_err()
    {
        return Err(Problem::error(format!(
            "{flag} {reference}: no such commit in {}",
            top.display()
        ))
        .hint("give a commit, branch or tag of the repository (a shallow CI clone may lack it: fetch more history, e.g. fetch-depth: 0)"));
    }
    let mut files = Vec::new();
    let diff = git(
        &top,
        &["diff", "--name-only", "-z", "--no-renames", &commit, "--"],
    )
    .map_err(|why| Problem::error(format!("{flag}: git diff failed: {why}")))?;
    let untracked = git(
        &top,
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--full-name",
        ],
    )
    .map_err(|why| Problem::error(format!("{flag}: git ls-files failed: {why}")))?;
    for name in diff.split(|&b| b == 0).chain(untracked.split(|&b| b == 0)) {
        if !name.is_empty() {
            use std::os::unix::ffi::OsStrExt;
            files.push(top.join(std::ffi::OsStr::from_bytes(name)));
        }
    }
    files.sort();
    files.dedup();
    Ok(Changes {
        reference: reference.to_string(),
        files,
    })
}
