//! The workspace: a private temporary copy of what a run can use — the chosen
//! environment (with the default folder merged in), every `_`-prefixed top-level
//! folder and the root files. Hooks may edit it freely; the ops repo is only read.
//! It is removed when dropped unless kept.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use walkdir::WalkDir;

use crate::error::{Error, Result};
use crate::view::{EnvView, Source};

pub struct Workspace {
    dir: Option<TempDir>,
    root: PathBuf,
    /// The built-in plugins, written out for the run (outside the ops copy).
    plugins: Option<TempDir>,
    /// Where the built-in plugins were written; `None` when the run uses none.
    plugins_root: Option<PathBuf>,
    /// Notices from staging (e.g. a YAML clash that could not be merged).
    pub notices: Vec<String>,
}

impl Workspace {
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn builtin_plugins(&self) -> Option<&Path> {
        self.plugins_root.as_deref()
    }

    /// Keeps the folder (and the built-in plugins' folder) after the run; returns its path.
    pub fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        if let Some(dir) = self.plugins.take() {
            let _ = dir.keep();
        }
        self.root.clone()
    }

    /// The staged environment, read with the merge already applied.
    pub fn view(&self, env_name: &str) -> EnvView {
        EnvView {
            env_name: env_name.to_string(),
            env_dir: self.root.join(env_name),
            default_dir: None,
        }
    }
}

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

/// Stages the workspace; writes the built-in plugins out too when `builtins` (a run
/// that uses none does not pay for them).
pub fn stage(repo: &Path, view: &EnvView, builtins: bool) -> Result<Workspace> {
    use std::os::unix::fs::PermissionsExt;
    let private = fs::Permissions::from_mode(0o700);
    let dir = tempfile::Builder::new()
        .prefix("bitops-")
        .permissions(private.clone())
        .tempdir()
        .map_err(|e| Error::io("create the workspace in", &std::env::temp_dir(), e))?;
    let root = dir.path().to_path_buf();
    let plugins = if builtins {
        let plugins = tempfile::Builder::new()
            .prefix("bitops-plugins-")
            .permissions(private)
            .tempdir()
            .map_err(|e| Error::io("create a folder in", &std::env::temp_dir(), e))?;
        for name in crate::builtin::names() {
            crate::builtin::write(name, &plugins.path().join(name))
                .map_err(|e| Error::io("write the built-in plugins to", plugins.path(), e))?;
        }
        Some(plugins)
    } else {
        None
    };
    let mut ws = Workspace {
        dir: Some(dir),
        root,
        plugins_root: plugins.as_ref().map(|p| p.path().to_path_buf()),
        plugins,
        notices: Vec::new(),
    };
    let entries = fs::read_dir(repo).map_err(|e| Error::io("read the ops repo", repo, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read the ops repo", repo, e))?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let path = entry.path();
        let target = ws.root.join(&name);
        let kind = entry.file_type().map_err(|e| Error::io("read", &path, e))?;
        if kind.is_dir() {
            if text.starts_with('_') {
                copy_tree(&path, &target)?;
            }
            // Other folders are environments (or .git): only the chosen one is staged, below.
        } else {
            copy_entry(&path, &target)?;
        }
    }
    let env_target = ws.root.join(&view.env_name);
    let mut notices = Vec::new();
    stage_merged(view, Path::new(""), &env_target, &mut notices)?;
    ws.notices = notices;
    Ok(ws)
}

fn stage_merged(
    view: &EnvView,
    rel: &Path,
    target: &Path,
    notices: &mut Vec<String>,
) -> Result<()> {
    fs::create_dir_all(target).map_err(|e| Error::io("create", target, e))?;
    let entries = view
        .entries(rel)
        .map_err(|e| Error::io("read", &view.env_dir.join(rel), e))?;
    for entry in entries {
        let dest = target.join(&entry.name);
        match entry.source {
            Source::Dir => stage_merged(view, &rel.join(&entry.name), &dest, notices)?,
            Source::File(path) => copy_entry(&path, &dest)?,
            Source::Yaml { env, default } => {
                let read = |p: &Path| fs::read_to_string(p).map_err(|e| Error::io("read", p, e));
                match crate::merge::merge_yaml_text(&read(&env)?, &read(&default)?) {
                    Ok(text) => fs::write(&dest, text).map_err(|e| Error::io("write", &dest, e))?,
                    Err(why) => {
                        notices.push(format!(
                            "{} was not merged with {} ({why}); the environment's file is used",
                            env.display(),
                            default.display()
                        ));
                        copy_entry(&env, &dest)?;
                    }
                }
            }
        }
    }
    Ok(())
}

pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(from).to_path_buf();
            Error::io("read", &path, e.into())
        })?;
        let rel = entry.path().strip_prefix(from).unwrap_or(Path::new(""));
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&dest).map_err(|e| Error::io("create", &dest, e))?;
        } else {
            copy_entry(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Copies a file with its permissions, or re-creates a symlink as a symlink.
fn copy_entry(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io("read", from, e))?;
    if meta.file_type().is_symlink() {
        let link = fs::read_link(from).map_err(|e| Error::io("read", from, e))?;
        std::os::unix::fs::symlink(&link, to).map_err(|e| Error::io("create", to, e))?;
    } else if meta.is_file() {
        fs::copy(from, to).map_err(|e| Error::io("copy", from, e))?;
    }
    Ok(())
}
