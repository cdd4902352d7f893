//! Links in the ops repo. In the workspace, a link may only reach what the run staged:
//! a link to a place inside the repo that is staged (the environment, the default
//! folder, a `_` folder, a root file) is rewritten to point at the workspace's copy, so
//! nothing in the workspace reaches the real repo; a link out of the repo, into another
//! environment or `.git`, or in a loop is refused before anything runs.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::Problem;
use crate::repo::view::{EnvView, Source};

/// Why a link cannot be staged.
#[derive(Debug)]
pub enum Refused {
    Outside(PathBuf),
    NotStaged(PathBuf),
    Loop(PathBuf),
}

impl Refused {
    pub fn problem(&self, link: &Path) -> Problem {
        match self {
            Refused::Outside(to) => Problem::error(format!(
                "this link points outside the ops repo, to {}",
                to.display()
            ))
            .file(link)
            .hint("hooks could reach that file through the workspace: copy what you need into the repo, or remove the link"),
            Refused::NotStaged(to) => Problem::error(format!(
                "this link points to {}, which a run of this environment does not stage (another environment, or a hidden folder)",
                to.display()
            ))
            .file(link)
            .hint("move what both need into a `_` folder (staged for every environment) and link to it there"),
            Refused::Loop(to) => Problem::error(format!(
                "this link is part of a loop (it points to {})",
                to.display()
            ))
            .file(link)
            .hint("remove the link or point it at a real file"),
        }
    }
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Where `link` (a symlink inside the repo) points, relative to the repo root, when
/// that place is staged for `env_name`.
pub fn staged_target(repo_real: &Path, env_name: &str, link: &Path) -> Result<PathBuf, Refused> {
    let target = fs::read_link(link).unwrap_or_default();
    let real = match fs::canonicalize(link) {
        Ok(real) => real,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(Refused::Loop(target)),
        // Dangling: where it would point, were its target created (a write through it
        // would create the target).
        Err(_) => {
            let parent = link
                .parent()
                .and_then(|p| fs::canonicalize(p).ok())
                .unwrap_or_default();
            normalize(&parent.join(&target))
        }
    };
    let Ok(rel) = real.strip_prefix(repo_real) else {
        return Err(Refused::Outside(real));
    };
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let single = rel.components().count() == 1;
    let staged = first == env_name
        || first.starts_with('_')
        || (single && !first.starts_with('.') && !repo_real.join(&first).is_dir())
        || rel.as_os_str().is_empty();
    if staged {
        Ok(rel.to_path_buf())
    } else {
        Err(Refused::NotStaged(real))
    }
}

/// `to` as seen from the folder `from`, both relative to the same root.
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// What a run would copy: the environment, the default folder, every `_`-prefixed
/// folder and the root files. Each link in it must be stageable (see `staged_target`).
/// A root that is itself a link is checked, never walked into.
pub fn check_links(repo: &Path, view: &EnvView) -> Vec<Problem> {
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
    let mut check = |link: &Path| {
        if let Err(refused) = staged_target(&repo_real, &view.env_name, link) {
            problems.push(refused.problem(link));
        }
    };
    for root in roots {
        match fs::symlink_metadata(&root) {
            Ok(m) if m.file_type().is_symlink() => check(&root),
            Ok(m) if m.is_dir() => each_link(view, root, &mut check),
            _ => {}
        }
    }
    problems
}

/// Calls `found` with each link below the folder `root`, never following one. Reads
/// through the view's listings, which the plan's hooks and lints share; a folder that
/// cannot be read is passed over. Shallow links come first, in name order: the order
/// in which a plan builds its steps meanwhile (`plan/load.rs`), so this walk, which only
/// lists, runs ahead and reads the folders the steps then find remembered.
fn each_link(view: &EnvView, root: PathBuf, found: &mut impl FnMut(&Path)) {
    let mut folders = vec![root];
    while let Some(dir) = folders.pop() {
        let Ok(entries) = view.listing(&dir) else {
            continue;
        };
        let mut below = Vec::new();
        for entry in entries.iter() {
            let path = dir.join(&entry.name);
            if entry.link {
                found(&path);
            } else if entry.source == Source::Dir {
                below.push(path);
            }
        }
        folders.extend(below.into_iter().rev());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("dev/a"), Path::new("_shared/x")),
            Path::new("../../_shared/x")
        );
        assert_eq!(
            relative(Path::new("dev/a"), Path::new("dev/a/b")),
            Path::new("b")
        );
        assert_eq!(relative(Path::new(""), Path::new("x")), Path::new("x"));
        assert_eq!(relative(Path::new("dev"), Path::new("dev")), Path::new("."));
    }

    #[test]
    fn normalizes_without_the_file_system() {
        assert_eq!(
            normalize(Path::new("/r/dev/../_s/./x")),
            Path::new("/r/_s/x")
        );
    }
}
