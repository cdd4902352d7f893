//! File helpers shared by staging a workspace and fetching plugins.

use std::fs;
use std::path::Path;

use walkdir::WalkDir;

use crate::error::{Error, Result};

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
pub fn copy_entry(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io("read", from, e))?;
    if meta.file_type().is_symlink() {
        let link = fs::read_link(from).map_err(|e| Error::io("read", from, e))?;
        std::os::unix::fs::symlink(&link, to).map_err(|e| Error::io("create", to, e))?;
    } else if meta.is_file() {
        fs::copy(from, to).map_err(|e| Error::io("copy", from, e))?;
    }
    Ok(())
}
