//! File helpers shared by staging a workspace and fetching plugins.

use std::fs;
use std::path::Path;

use walkdir::WalkDir;

use crate::error::{Error, Result};

/// Decides the target of a copied symlink: `(link, its copy) → target`.
pub type Relink<'a> = &'a dyn Fn(&Path, &Path) -> Result<std::path::PathBuf>;

/// A link copied as it is.
pub fn same_link(from: &Path, _: &Path) -> Result<std::path::PathBuf> {
    fs::read_link(from).map_err(|e| Error::io("read", from, e))
}

/// Copies a tree: files with their permissions, links as `relink` decides.
pub fn copy_tree(from: &Path, to: &Path, relink: Relink) -> Result<()> {
    for entry in WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(from).to_path_buf();
            Error::io("read", &path, e.into())
        })?;
        crate::stop::check()?;
        let rel = entry.path().strip_prefix(from).unwrap_or(Path::new(""));
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&dest).map_err(|e| Error::io("create", &dest, e))?;
        } else {
            copy_entry(entry.path(), &dest, relink)?;
        }
    }
    Ok(())
}

/// Copies a file with its permissions, or re-creates a symlink as `relink` decides.
pub fn copy_entry(from: &Path, to: &Path, relink: Relink) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io("read", from, e))?;
    if meta.file_type().is_symlink() {
        let link = relink(from, to)?;
        std::os::unix::fs::symlink(&link, to).map_err(|e| Error::io("create", to, e))?;
    } else if meta.is_file() {
        fs::copy(from, to).map_err(|e| Error::io("copy", from, e))?;
    }
    Ok(())
}

/// Opens `path` for writing, owner-only (0600, an existing file too), creating its
/// folder; `append` keeps what is there, else it is truncated. A symlink at `path` is
/// refused (`O_NOFOLLOW`), so a planted link cannot redirect the write.
pub fn open_private(path: &Path, append: bool) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Writes `bytes` to a private file (see `open_private`), replacing what it held.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::io::Write::write_all(&mut open_private(path, false)?, bytes)
}

/// Reads a file of at most `max` bytes. Only a regular file is read: a FIFO, device or
/// socket is refused without blocking (opened non-blocking, checked on the open file),
/// and the size is checked while reading, not only from its metadata.
pub fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = {
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            if t.is_fifo() {
                "a FIFO"
            } else if t.is_socket() {
                "a socket"
            } else if t.is_block_device() || t.is_char_device() {
                "a device"
            } else if t.is_dir() {
                "a folder"
            } else {
                "not a regular file"
            }
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is {what}, not a regular file"),
        ));
    }
    let too_big = |size: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is {size} bytes; config files over {max} bytes are refused"),
        )
    };
    if meta.len() > max {
        return Err(too_big(meta.len().to_string()));
    }
    // Room for the whole file at once (and one byte to see that it ended): `take` hides
    // the size from `read_to_end`, which would otherwise start at 32 bytes and double.
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize + 1);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_big(format!("over {max}")));
    }
    Ok(bytes)
}
