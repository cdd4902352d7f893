//! Links in the ops repo: none may loop or point outside the repo.

use std::fs;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::repo::view::EnvView;

/// What a run would copy: the environment, the default folder, every `_`-prefixed
/// folder and the root files. Links in it may not loop or point outside the ops repo:
/// hooks would follow them out of the workspace.
pub fn check_links(repo: &Path, view: &EnvView) -> Vec<crate::error::Problem> {
    use crate::error::Problem;
    let Ok(repo_real) = fs::canonicalize(repo) else {
        return Vec::new();
    };
    let mut roots: Vec<PathBuf> = vec![view.env_dir.clone()];
    roots.extend(view.default_dir.clone());
    for entry in fs::read_dir(repo).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || name.to_string_lossy().starts_with('_') {
            roots.push(entry.path());
        }
    }
    roots.sort();
    roots.dedup();
    let mut problems = Vec::new();
    for root in roots {
        for entry in WalkDir::new(&root)
            .follow_links(false)
            .into_iter()
            .flatten()
        {
            if !entry.path_is_symlink() {
                continue;
            }
            let path = entry.path();
            let target = fs::read_link(path).unwrap_or_default();
            match fs::canonicalize(path) {
                Ok(real) if !real.starts_with(&repo_real) => problems.push(
                    Problem::error(format!(
                        "this link points outside the ops repo, to {}",
                        real.display()
                    ))
                    .file(path)
                    .hint("hooks could reach that file through the workspace: copy what you need into the repo, or remove the link"),
                ),
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => problems.push(
                    Problem::error(format!("this link is part of a loop (it points to {})", target.display()))
                        .file(path)
                        .hint("remove the link or point it at a real file"),
                ),
                _ => {}
            }
        }
    }
    problems
}
