//! Where a run's temporary folders go (the workspace, the built-in plugins, the steps'
//! outputs): `$TMPDIR/bitops-runs-UID`, a private folder of the user's (0700), checked
//! on every run and marked as the top of a hierarchy for ext2/3/4's Orlov allocator
//! (`chattr +T`, best effort: other file systems refuse the flag and nothing changes).
//!
//! Why the mark: each folder made in it is placed in a block group of its own, away
//! from the inodes the previous run just freed. On ext4 without a journal, creating an
//! inode steps over every inode of its group freed in the last minute
//! (`recently_deleted`, one inode-table lookup each), so a workspace created right after
//! the previous run removed its own got slower with every run (1,000 tool folders, 6,000
//! inodes: 0.4 s, then 1.6 s after ten runs; 0.11–0.15 s every time in a marked folder).
//!
//! When a run is done with a folder, its files (and links) are removed at once, and the
//! empty folders left are moved into `trash/`, which the next run that makes a temporary
//! folder empties on a thread of its own while it works (and waits for before it exits).
//! Removing a folder can wait on the device (on a file system mounted `discard`
//! without a journal, each `rmdir` sends the discard of the folder's block and waits for
//! it: 0.1–0.3 ms each); the user should not wait for it twice. Nothing of a file's
//! content outlives the run that wrote it: only the folders' names do, until the next run.
//!
//! A folder at that path that is not safe (a link, another user's, open to others) is
//! not used: the temporary folders then go straight into `$TMPDIR`, as they did before,
//! and are removed whole when done with.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use tempfile::TempDir;

use crate::error::{Error, Result};

/// The folder of `trash/`, in the private folder.
const TRASH: &str = "trash";

/// `FS_TOPDIR_FL` of `<linux/fs.h>` (`chattr +T`); not in the `libc` crate.
const TOPDIR: libc::c_int = 0x0002_0000;

/// Where the temporary folders go, and whether that is the private folder.
struct Parent {
    dir: PathBuf,
    private: bool,
}

fn parent_info() -> &'static Parent {
    static PARENT: OnceLock<Parent> = OnceLock::new();
    PARENT.get_or_init(|| {
        let tmp = std::env::temp_dir();
        let mine = folder_in(&tmp);
        match prepare(&mine) {
            Ok(()) => Parent {
                dir: mine,
                private: true,
            },
            Err(why) => {
                tracing::debug!("temporary folders go into {}: {why}", tmp.display());
                Parent {
                    dir: tmp,
                    private: false,
                }
            }
        }
    })
}

/// The folder a run's temporary folders are made in (worked out once per process).
pub fn parent() -> &'static Path {
    &parent_info().dir
}

/// The per-user folder's path inside `tmp`.
pub fn folder_in(tmp: &Path) -> PathBuf {
    // SAFETY: getuid cannot fail.
    tmp.join(format!("bitops-runs-{}", unsafe { libc::getuid() }))
}

/// A run's temporary folder: removed when dropped (its files at once, its folders
/// through the trash), unless kept.
pub struct Folder {
    dir: Option<TempDir>,
    path: PathBuf,
}

impl Folder {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the folder after the run; returns its path.
    pub fn keep(mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        std::mem::take(&mut self.path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let info = parent_info();
        if !info.private {
            return; // TempDir's own drop removes it whole.
        }
        let path = dir.keep();
        if let Err(e) = discard(&path, &info.dir.join(TRASH)) {
            tracing::debug!("{} removed at once: {e}", path.display());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// A new private (0700) temporary folder named `PREFIX…`, removed when dropped. The
/// first one of a process starts emptying the trash that earlier runs left.
pub fn tempdir(prefix: &str) -> Result<Folder> {
    use std::os::unix::fs::PermissionsExt;
    let info = parent_info();
    if info.private {
        start_sweeping(&info.dir.join(TRASH));
    }
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(&info.dir)
        .map_err(|e| Error::io("create a temporary folder in", &info.dir, e))?;
    let path = dir.path().to_path_buf();
    Ok(Folder {
        dir: Some(dir),
        path,
    })
}

/// Removes every file and link under `dir` (links are not followed), then moves what
/// is left, empty folders, into `trash`.
fn discard(dir: &Path, trash: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_dir() {
            std::fs::remove_file(entry.path())?;
        }
    }
    match std::fs::DirBuilder::new().create(trash) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let name = dir.file_name().unwrap_or_default();
    std::fs::rename(dir, trash.join(name))
}

/// The thread emptying the trash, started once per process.
static SWEEPER: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

fn start_sweeping(trash: &Path) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let Ok(entries) = std::fs::read_dir(trash) else {
            return; // No trash yet.
        };
        let entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        if entries.is_empty() {
            return;
        }
        let sweeper = std::thread::Builder::new()
            .name("trash".into())
            .spawn(move || {
                for entry in entries {
                    // Another run may be emptying it too: what is gone is gone.
                    let _ = std::fs::remove_dir_all(entry);
                }
            });
        if let Ok(handle) = sweeper {
            *SWEEPER.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
    });
}

/// Waits until the trash this process started emptying is empty (before it exits).
pub fn finish() {
    let handle = SWEEPER.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(handle) = handle {
        let _ = handle.join();
    }
}

/// Creates the folder (0700) when missing, checks it is ours and private, and marks it.
fn prepare(dir: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    // Opened without following a link, then checked on the open folder: what is
    // checked is what is used.
    let folder = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| format!("cannot open {} as a folder: {e}", dir.display()))?;
    let meta = folder
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    if meta.uid() != me {
        return Err(format!("{} belongs to user {}", dir.display(), meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to others (mode {:o})",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    if let Err(e) = mark(&folder) {
        tracing::debug!("{} not marked as a top folder: {e}", dir.display());
    }
    Ok(())
}

/// The folder's inode flags (`lsattr`).
fn flags(folder: &std::fs::File) -> std::io::Result<libc::c_int> {
    use std::os::fd::AsRawFd;
    let mut flags: libc::c_int = 0;
    // SAFETY: the ioctl writes one int through a valid pointer, on an open fd.
    match unsafe { libc::ioctl(folder.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } {
        0 => Ok(flags),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Marks the folder as the top of a hierarchy (`chattr +T`) unless it is already.
fn mark(folder: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = flags(folder)?;
    if flags & TOPDIR != 0 {
        return Ok(());
    }
    let flags = flags | TOPDIR;
    // SAFETY: the ioctl reads one int through a valid pointer, on an open fd.
    match unsafe { libc::ioctl(folder.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    #[test]
    fn a_new_folder_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = folder_in(tmp.path());
        prepare(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A second run takes the same folder as it is.
        prepare(&dir).unwrap();
    }

    #[test]
    fn a_folder_open_to_others_or_a_link_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::DirBuilder::new()
            .mode(0o777)
            .create(&open)
            .unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = prepare(&open).unwrap_err();
        assert!(why.contains("open to others (mode 777)"), "{why}");

        let private = tmp.path().join("private");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&private)
            .unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&private, &link).unwrap();
        let why = prepare(&link).unwrap_err();
        assert!(why.contains("cannot open"), "{why}");
    }

    #[test]
    fn the_folder_is_marked_where_the_file_system_takes_the_mark() {
        let tmp = tempfile::tempdir().unwrap();
        // Whether this file system takes the mark at all (ext2/3/4 do, tmpfs does not).
        let probe = tmp.path().join("probe");
        std::fs::create_dir(&probe).unwrap();
        let takes = mark(&std::fs::File::open(&probe).unwrap()).is_ok();
        let dir = folder_in(tmp.path());
        prepare(&dir).unwrap();
        let marked = flags(&std::fs::File::open(&dir).unwrap()).is_ok_and(|f| f & TOPDIR != 0);
        assert_eq!(
            marked, takes,
            "marked {marked}, the file system takes the mark: {takes}"
        );
    }
}
