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
//! Only the workspace is made in the marked folder itself: placing a folder in a group
//! of its own costs a look at every group, so the folders of a handful of files (the
//! steps' outputs, the built-in plugins) are made in `few/`, an unmarked folder inside.
//!
//! When a run is done with a folder, its files (and links) are removed at once; its
//! empty folders are kept as a *spare* (`spare-PREFIXMODE`, one per kind of folder) that
//! the next run of that kind takes instead of making its folders again: it removes the
//! ones it does not stage first, and uses the others as they are. A folder whose modes a
//! hook changed, that held many files, or whose kind already has a spare goes to
//! `trash/` instead, which the next run that makes a temporary folder empties on a
//! thread of its own while it works (and waits for before it exits). Making and removing
//! a folder can wait on the device (on a file system mounted `discard` without a
//! journal, each `rmdir` sends the discard of the folder's block and waits for it:
//! 0.1–0.3 ms each), and a run that removes folders in the background still slows the
//! one in front; the user should not wait for it at all. Nothing of a file's content
//! outlives the run that wrote it: only the folders' names do, until the next run.
//!
//! A folder at that path that is not safe (a link, another user's, open to others) is
//! not used: the temporary folders then go straight into `$TMPDIR`, as they did before,
//! and are removed whole when done with.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// The trash, in the private folder.
const TRASH: &str = "trash";
/// The folder of the temporary folders of few entries (`Size::Few`), in the private folder.
const FEW: &str = "few";
/// The name of a spare (`spare-PREFIXMODE`), beside the folders of its kind.
const SPARE: &str = "spare-";
/// The most files a folder may have held to be kept as a spare. The next run creates
/// its files in the spare's folders, so in the block groups where these were just
/// removed; on ext4 without a journal each new inode steps over every inode of its
/// group freed in the last minute (see above), so a large workspace made there again
/// would cost more than making its folders anew elsewhere.
const SPARE_MAX_FILES: usize = 256;

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
    tmp.join(format!(
        "bitops-runs-{}",
        rustix::process::getuid().as_raw()
    ))
}

/// A run's temporary folder: removed when dropped (its files at once, its folders kept
/// as a spare or put in the trash), unless kept.
pub struct Folder {
    path: PathBuf,
    /// Removed when dropped (not kept).
    armed: bool,
    /// Where its empty folders wait for the next run of the same kind, if reusable.
    spare: Option<PathBuf>,
}

impl Folder {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the folder after the run; returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.armed = false;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let info = parent_info();
        if !info.private {
            let _ = std::fs::remove_dir_all(&self.path);
            return;
        }
        if let Err(e) = discard(&self.path, self.spare.as_deref(), &info.dir.join(TRASH)) {
            tracing::debug!("{} removed at once: {e}", self.path.display());
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                // Never silent: the run's copy of the repo (and whatever the steps wrote)
                // is still on disk.
                tracing::warn!(
                    "could not remove the temporary folder {}: {e}; remove it by hand",
                    self.path.display()
                );
            }
        }
    }
}

/// How many entries a temporary folder will hold, which decides where it is made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Size {
    /// A workspace: made in the marked folder, so in a block group of its own. Finding
    /// that group costs the file system a look at every group (0.16 ms here against
    /// 0.02 ms for a folder made next to its parent).
    Many,
    /// A handful of files (the steps' outputs, the built-in plugins): made in `few/`, an
    /// unmarked folder inside the marked one, next to its parent.
    Few,
}

/// Which folders of a spare (by their path inside it) the run makes anyway: the others
/// are removed when the spare is taken.
pub type Keep<'a> = &'a dyn Fn(&Path) -> bool;

/// A new private (0700) temporary folder named `PREFIX…`, removed when dropped. The
/// first one of a process starts emptying the trash that earlier runs left.
pub fn tempdir(prefix: &str, size: Size) -> Result<Folder> {
    make(prefix, size, None)
}

/// As `tempdir`, but the folders a run of the same kind left (its spare) are taken
/// when there are some: those `keep` does not want are removed, the others are used
/// as they are (empty, and with the mode a new folder gets).
pub fn reusable_tempdir(prefix: &str, size: Size, keep: Keep) -> Result<Folder> {
    make(prefix, size, Some(keep))
}

fn make(prefix: &str, size: Size, keep: Option<Keep>) -> Result<Folder> {
    use std::os::unix::fs::PermissionsExt;
    let info = parent_info();
    let mut parent = info.dir.clone();
    let mut spare = None;
    if info.private {
        start_sweeping(&info.dir.join(TRASH));
        if size == Size::Few {
            let few = info.dir.join(FEW);
            match create_private_dir(&few) {
                Ok(()) => parent = few,
                Err(e) => tracing::debug!("{}: {e}", few.display()),
            }
        }
        // A spare is only taken by a run whose new folders get the same mode.
        if let (Some(keep), Some(mode)) = (keep, folder_mode()) {
            let slot = parent.join(format!("{SPARE}{prefix}{mode:o}"));
            if let Some(path) = claim(&slot, &parent, prefix) {
                match take(&path, keep) {
                    Ok(()) => {
                        return Ok(Folder {
                            path,
                            armed: true,
                            spare: Some(slot),
                        });
                    }
                    Err(e) => {
                        tracing::debug!("spare {} not used: {e}", path.display());
                        let _ = std::fs::remove_dir_all(&path);
                    }
                }
            }
            spare = Some(slot);
        }
    }
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(&parent)
        .map_err(|e| Error::io("create a temporary folder in", &parent, e))?;
    Ok(Folder {
        path: dir.keep(),
        armed: true,
        spare,
    })
}

/// The mode a folder made now gets (`0777` less the umask), read from
/// `/proc/self/status` once; `None` where that cannot be read (no spare is used then).
fn folder_mode() -> Option<u32> {
    static MODE: OnceLock<Option<u32>> = OnceLock::new();
    *MODE.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let umask = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        let umask = u32::from_str_radix(umask.trim(), 8).ok()?;
        Some(0o777 & !umask)
    })
}

/// Takes the spare at `slot` under a new name in `parent` (named as `tempfile` names
/// its folders, another name if that one is taken); `None` when there is none (or
/// another run took it first).
fn claim(slot: &Path, parent: &Path, prefix: &str) -> Option<PathBuf> {
    let taken = tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(true)
        .make_in(parent, |path| rename_new(slot, path))
        .ok()?;
    Some(taken.path().to_path_buf())
}

/// Checks a taken spare is a folder (not a link to one), then prunes it.
fn take(dir: &Path, keep: Keep) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other("it is not a folder"));
    }
    prune(dir, keep)
}

/// Removes the folders of a taken spare that `keep` does not want (deepest first).
fn prune(dir: &Path, keep: Keep) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .contents_first(true)
        .follow_links(false)
    {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        if !entry.file_type().is_dir() {
            // A spare holds folders only; anything else was put there by someone else.
            return Err(std::io::Error::other(format!(
                "{} is not a folder",
                rel.display()
            )));
        }
        if !keep(rel) {
            std::fs::remove_dir(entry.path())?;
        }
    }
    Ok(())
}

/// Removes every file and link under `dir` (links are not followed), then moves what
/// is left, empty folders, to `spare` when given and free, every folder has the mode a
/// new one gets (a hook may have changed some) and it held at most `SPARE_MAX_FILES`
/// files; else into `trash`.
fn discard(dir: &Path, spare: Option<&Path>, trash: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = folder_mode();
    let me = rustix::process::getuid().as_raw();
    // Checked only for a folder that may become a spare.
    let mut as_new = spare.is_some() && mode.is_some();
    let mut files = 0;
    // The folder itself is private whatever a hook made of it (`chmod` of the workspace).
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_dir() && entry.depth() > 0 {
            // A folder a tool made read-only (a module cache) is made ours again, so its
            // files can go: read before it is listed, written before its files are removed.
            let meta = entry.metadata().map_err(std::io::Error::other)?;
            if meta.uid() == me && meta.mode() & 0o700 != 0o700 {
                std::fs::set_permissions(
                    entry.path(),
                    std::fs::Permissions::from_mode(meta.mode() & 0o7777 | 0o700),
                )?;
                as_new = false;
            }
        }
        if !entry.file_type().is_dir() {
            std::fs::remove_file(entry.path())?;
            files += 1;
        } else if as_new && entry.depth() > 0 {
            let meta = entry.metadata().map_err(std::io::Error::other)?;
            as_new = Some(meta.mode() & 0o7777) == mode && meta.uid() == me;
        }
    }
    if let Some(spare) = spare.filter(|_| as_new && files <= SPARE_MAX_FILES)
        && rename_new(dir, spare).is_ok()
    {
        return Ok(());
    }
    create_private_dir(trash)?;
    let name = dir.file_name().unwrap_or_default();
    std::fs::rename(dir, trash.join(name))
}

/// Renames `from` to `to` unless something is at `to` already.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c =
        |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two valid C strings; renameat2 does not keep them.
    match unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
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

/// Creates the folder (0700) unless it is there.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Creates the folder (0700) when missing, checks it is ours and private, and marks it.
fn prepare(dir: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
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
    let me = rustix::process::getuid().as_raw();
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
    fn a_folder_done_with_loses_its_files_and_goes_to_the_spare_when_free_else_the_trash() {
        let tmp = tempfile::tempdir().unwrap();
        let (spare, trash) = (tmp.path().join("spare-x"), tmp.path().join("trash"));
        let make = |name: &str| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(dir.join("a/b")).unwrap();
            std::fs::write(dir.join("a/b/secret"), "s").unwrap();
            std::os::unix::fs::symlink("/etc/passwd", dir.join("a/link")).unwrap();
            dir
        };
        let (one, two) = (make("one"), make("two"));
        discard(&one, Some(&spare), &trash).unwrap();
        discard(&two, Some(&spare), &trash).unwrap();
        assert!(!one.exists() && !two.exists());
        assert!(spare.join("a/b").is_dir());
        assert!(trash.join("two/a/b").is_dir());
        for dir in [&spare, &trash] {
            let files = walkdir::WalkDir::new(dir)
                .into_iter()
                .filter(|e| !e.as_ref().unwrap().file_type().is_dir())
                .count();
            assert_eq!(files, 0, "{}", dir.display());
        }
        // Taken once, under a new name; then there is none.
        let taken = claim(&spare, tmp.path(), "bitops-").unwrap();
        assert!(taken.join("a/b").is_dir());
        assert!(
            taken
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("bitops-")
        );
        assert_eq!(claim(&spare, tmp.path(), "bitops-"), None);
        // What the taker does not want goes; the rest stays.
        prune(&taken, &|rel: &Path| rel == Path::new("a")).unwrap();
        assert!(taken.join("a").is_dir() && !taken.join("a/b").exists());
    }

    #[test]
    fn a_folder_that_held_many_files_goes_to_the_trash() {
        let tmp = tempfile::tempdir().unwrap();
        let (spare, trash) = (tmp.path().join("spare-x"), tmp.path().join("trash"));
        for (name, files) in [("few", SPARE_MAX_FILES), ("many", SPARE_MAX_FILES + 1)] {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            for i in 0..files {
                std::fs::write(dir.join(format!("sub/{i}")), "").unwrap();
            }
            discard(&dir, Some(&spare), &trash).unwrap();
            let spared = spare.join("sub").is_dir();
            assert_eq!(spared, files == SPARE_MAX_FILES, "{files} files");
            assert_eq!(trash.join(name).exists(), !spared, "{files} files");
            let _ = std::fs::remove_dir_all(&spare);
        }
    }

    #[test]
    fn a_link_in_place_of_a_spare_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(elsewhere.join("kept")).unwrap();
        let slot = tmp.path().join("spare-x");
        std::os::unix::fs::symlink(&elsewhere, &slot).unwrap();
        let taken = claim(&slot, tmp.path(), "bitops-").unwrap();
        let why = take(&taken, &|_: &Path| false).unwrap_err();
        assert!(why.to_string().contains("not a folder"), "{why}");
        assert!(elsewhere.join("kept").is_dir());
    }

    #[test]
    fn a_spare_holding_a_file_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("a")).unwrap();
        std::fs::write(tmp.path().join("a/planted"), "x").unwrap();
        let why = prune(tmp.path(), &|_: &Path| true).unwrap_err();
        assert!(
            why.to_string().contains("a/planted is not a folder"),
            "{why}"
        );
    }

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
