//! The workspace: a private temporary copy of what a run can use — the chosen
//! environment (with the default folder merged in), every `_`-prefixed top-level
//! folder and the root files. Hooks may edit it freely; the ops repo is only read.
//! It is removed when dropped unless kept (see `scratch`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::repo::links;
use crate::repo::view::{EnvView, Source};
use crate::run::scratch::{Folder, Size};

pub struct Workspace {
    dir: Option<Folder>,
    root: PathBuf,
    /// The built-in plugins, written out for the run (outside the ops copy).
    plugins: Option<Folder>,
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
            listings: Default::default(),
        }
    }
}

/// Stages the workspace; writes the built-in plugins out too when `builtins` (a run
/// that uses none does not pay for them).
pub fn stage(repo: &Path, view: &EnvView, builtins: bool) -> Result<Workspace> {
    // A spare workspace keeps the folders this one stages: the environment's (merged
    // with the default folder's) and the `_`-prefixed ones'.
    // (The environment's entry wins over the default folder's of the same name.)
    let keep = |rel: &Path| -> bool {
        // Whether it is a folder (not a link to one), when it is there.
        let dir = |p: PathBuf| fs::symlink_metadata(p).map(|m| m.is_dir()).ok();
        let mut parts = rel.components();
        let Some(first) = parts.next() else {
            return true;
        };
        let rest = parts.as_path();
        if first.as_os_str() == view.env_name.as_str() {
            match dir(view.env_dir.join(rest)) {
                Some(is_dir) => is_dir,
                None => view
                    .default_dir
                    .as_ref()
                    .is_some_and(|d| dir(d.join(rest)) == Some(true)),
            }
        } else {
            first.as_os_str().to_string_lossy().starts_with('_')
                && dir(repo.join(rel)) == Some(true)
        }
    };
    let dir = crate::run::scratch::reusable_tempdir("bitops-", Size::Many, &keep)?;
    let root = dir.path().to_path_buf();
    let plugins = if builtins {
        let plugins = crate::run::scratch::tempdir("bitops-plugins-", Size::Few)?;
        for name in crate::plugin::builtin::names() {
            crate::plugin::builtin::write(name, &plugins.path().join(name))
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
    // Links reach only the workspace's copies (see repo::links).
    let repo_real = fs::canonicalize(repo).map_err(|e| Error::io("read the ops repo", repo, e))?;
    let ws_root = ws.root.clone();
    let env_name = view.env_name.clone();
    let relink = move |from: &Path, to: &Path| -> Result<PathBuf> {
        let rel = links::staged_target(&repo_real, &env_name, from)
            .map_err(|refused| Error::Invalid(vec![refused.problem(from)]))?;
        let at = to.strip_prefix(&ws_root).unwrap_or(to);
        let target = links::relative(at.parent().unwrap_or(Path::new("")), &rel);
        tracing::debug!("link {} -> {}", to.display(), target.display());
        Ok(target)
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
                crate::files::copy_tree(&path, &target, &relink)?;
            }
            // Other folders are environments (or .git): only the chosen one is staged, below.
        } else {
            crate::files::copy_entry(&path, &target, &relink)?;
        }
    }
    let env_target = ws.root.join(&view.env_name);
    let mut notices = Vec::new();
    stage_merged(view, Path::new(""), &env_target, &mut notices, &relink)?;
    ws.notices = notices;
    Ok(ws)
}

fn stage_merged(
    view: &EnvView,
    rel: &Path,
    target: &Path,
    notices: &mut Vec<String>,
    relink: crate::files::Relink,
) -> Result<()> {
    fs::create_dir_all(target).map_err(|e| Error::io("create", target, e))?;
    let entries = view
        .entries(rel)
        .map_err(|e| Error::io("read", &view.env_dir.join(rel), e))?;
    for entry in entries {
        crate::stop::check()?;
        let dest = target.join(&entry.name);
        match entry.source {
            Source::Dir => stage_merged(view, &rel.join(&entry.name), &dest, notices, relink)?,
            Source::File(path) => {
                tracing::debug!("stage {}", path.display());
                crate::files::copy_entry(&path, &dest, relink)?
            }
            Source::Yaml { env, default } => {
                tracing::debug!("merge {} over {}", env.display(), default.display());
                match crate::repo::merge::merge_files(&env, &default) {
                    Ok(text) => fs::write(&dest, text).map_err(|e| Error::io("write", &dest, e))?,
                    Err(why) => {
                        notices.push(format!(
                            "{} was not merged with {} ({why}); the environment's file is used",
                            env.display(),
                            default.display()
                        ));
                        crate::files::copy_entry(&env, &dest, relink)?;
                    }
                }
            }
        }
    }
    Ok(())
}
