//! Hook folders: which files run, in what order, and how.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Problem;
use crate::repo::view::{EnvView, Source};

pub const BEFORE: &str = "bitops.before-deploy.d";
pub const AFTER: &str = "bitops.after-deploy.d";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hook {
    pub name: String,
    /// Where the hook's content comes from (the ops repo when planning, the workspace when running).
    pub path: PathBuf,
    /// What runs; `None` when skipped.
    pub argv: Option<Vec<String>>,
    pub skip_reason: Option<String>,
}

/// The hooks of `<tool>/<folder>`, sorted by byte order of their names.
/// `*.sh` runs with bash; other files only when executable; the rest are skipped.
pub fn list(view: &EnvView, tool: &Path, folder: &str) -> Result<Vec<Hook>, Problem> {
    let rel = tool.join(folder);
    let real = view.env_dir.join(&rel);
    if view.kind(&real).is_file_like() {
        return Err(Problem::error(format!(
            "`{folder}` must be a folder of hook scripts, but it is a file"
        ))
        .file(&real)
        .hint("move the script into a folder of that name"));
    }
    let entries = view
        .entries(&rel)
        .map_err(|e| Problem::error(format!("cannot read the hook folder: {e}")).file(&real))?;
    let mut hooks = Vec::new();
    for entry in entries {
        let Source::File(path) = entry.source else {
            continue;
        };
        let name = entry.name.to_string_lossy().into_owned();
        // A `.sh` file that the listing says is regular needs no `stat`: only a link
        // (followed here) or another kind of file, or the mode bits, need one.
        let shell = name.ends_with(".sh");
        let meta = (!(shell && entry.regular)).then(|| std::fs::metadata(&path));
        let is_file = match &meta {
            None => true,
            Some(m) => m.as_ref().is_ok_and(|m| m.is_file()),
        };
        if !is_file {
            hooks.push(skipped(name, path, "not a regular file"));
        } else if shell {
            let argv = vec!["bash".to_string(), path.to_string_lossy().into_owned()];
            hooks.push(Hook {
                name,
                path,
                argv: Some(argv),
                skip_reason: None,
            });
        } else if meta.is_some_and(|m| m.is_ok_and(|m| m.permissions().mode() & 0o111 != 0)) {
            let argv = vec![path.to_string_lossy().into_owned()];
            hooks.push(Hook {
                name,
                path,
                argv: Some(argv),
                skip_reason: None,
            });
        } else {
            hooks.push(skipped(name, path, "not a .sh file and not executable"));
        }
    }
    Ok(hooks)
}

fn skipped(name: String, path: PathBuf, why: &str) -> Hook {
    Hook {
        name,
        path,
        argv: None,
        skip_reason: Some(why.to_string()),
    }
}
