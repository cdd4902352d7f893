//! Starting a child process with `posix_spawn` from an environment prepared once per
//! step. `std::process::Command` (and tokio's, built on it) copies every variable into a
//! map, then into a fresh array of C strings, on every spawn; a step's processes share
//! one environment, so here its C strings are made once and each spawn only points at
//! them.

use std::ffi::{CString, OsStr, OsString, c_char};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

/// The complete environment of a child: the `KEY=value` strings and the `envp` array
/// pointing at them.
pub struct Env {
    /// Never changed after `new`: `envp` points into it.
    strings: Vec<CString>,
    envp: Vec<*const c_char>,
    /// A variable holding a NUL byte: it cannot be passed, and a spawn fails (as
    /// `std::process::Command`'s does).
    nul: bool,
}

// SAFETY: `envp` only points into `strings`, which is never changed or moved after
// `new` (the CStrings' heap buffers stay where they are), and is only read.
unsafe impl Send for Env {}
unsafe impl Sync for Env {}

impl Env {
    /// The caller's variables (`parent`), then `vars` on top: a variable of `vars`
    /// replaces the caller's of that name, and of two in `vars` the later one counts.
    pub fn new(parent: &[(OsString, OsString)], vars: &[(String, String)]) -> Self {
        let mut nul = false;
        let mut strings = Vec::with_capacity(parent.len() + vars.len());
        let mut add = |k: &[u8], v: &[u8]| {
            let mut text = Vec::with_capacity(k.len() + v.len() + 2);
            text.extend_from_slice(k);
            text.push(b'=');
            text.extend_from_slice(v);
            match CString::new(text) {
                Ok(c) => strings.push(c),
                Err(_) => nul = true,
            }
        };
        for (k, v) in parent {
            if !vars.iter().any(|(name, _)| name.as_bytes() == k.as_bytes()) {
                add(k.as_bytes(), v.as_bytes());
            }
        }
        for (i, (k, v)) in vars.iter().enumerate() {
            if !vars[i + 1..].iter().any(|(later, _)| later == k) {
                add(k.as_bytes(), v.as_bytes());
            }
        }
        let envp = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Env { strings, envp, nul }
    }

    /// A variable's value.
    pub fn get(&self, key: &str) -> Option<&OsStr> {
        self.strings.iter().find_map(|s| {
            let rest = s.as_bytes().strip_prefix(key.as_bytes())?;
            rest.strip_prefix(b"=").map(OsStr::from_bytes)
        })
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.strings.iter()).finish()
    }
}

/// A started child: its stdout and stderr pipes, and the process to wait for.
pub struct Spawned {
    pub child: Child,
    pub stdout: pipe::Receiver,
    pub stderr: pipe::Receiver,
}

/// A child process that is killed (SIGKILL) and reaped when dropped before it was waited
/// for, as tokio's `kill_on_drop`.
pub struct Child {
    pid: libc::pid_t,
    status: Option<ExitStatus>,
    /// Readable once the process exited; `None` where `pidfd_open` is not available
    /// (Linux before 5.3, or a seccomp filter refusing it): then its status is polled.
    pidfd: Option<AsyncFd<OwnedFd>>,
}

/// What `std::process::Command` says of a NUL byte in a word or a variable.
fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    )
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| nul_error())
}

/// Returns `Err(errno)` when `ret` is not 0 (the posix_spawn family returns its error).
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

/// A pipe whose ends are close-on-exec and never one of fds 0–2 (so that the child's
/// `dup2` onto 1 or 2 always makes a new, inheritable descriptor).
fn pipe_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A larger pipe: a child printing fast hands over up to PIPE_BYTES per wake-up
    // instead of 64 KiB (P3). The kernel takes the pages only as output waits in it;
    // refused (a user over the pipe-memory limit), the pipe keeps its size.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        libc::fcntl(r.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES);
    }
    Ok((above_stdio(r)?, above_stdio(w)?))
}

/// The size asked for a child's output pipes (the most an unprivileged process may
/// ask by default, `/proc/sys/fs/pipe-max-size`).
const PIPE_BYTES: i32 = 1024 * 1024;

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (>= 3) of the same pipe end.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

struct FileActions(libc::posix_spawn_file_actions_t);
impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `spawn` before this value exists.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}
struct Attr(libc::posix_spawnattr_t);
impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `spawn` before this value exists.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// Starts `program` (a path, already looked up on the child's `PATH`) with `args` in
/// `cwd`, in a process group of its own, stdin `/dev/null`, stdout and stderr piped, the
/// signal mask empty and SIGPIPE at its default (as `std::process::Command` does).
pub fn spawn(program: &Path, args: &[OsString], cwd: &Path, env: &Env) -> io::Result<Spawned> {
    if !program.as_os_str().as_bytes().contains(&b'/') {
        // Not found on the child's PATH: what exec would say.
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    if env.nul {
        return Err(nul_error());
    }
    let prog = cstring(program.as_os_str().as_bytes())?;
    let words = args
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<io::Result<Vec<_>>>()?;
    let argv: Vec<*const c_char> = std::iter::once(prog.as_ptr())
        .chain(words.iter().map(|w| w.as_ptr()))
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let dir = cstring(cwd.as_os_str().as_bytes())?;
    let (out_r, out_w) = pipe_pair()?;
    let (err_r, err_w) = pipe_pair()?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: the structures are initialised before use and destroyed by their guards;
    // every pointer handed to posix_spawn (program, argv, envp, paths) outlives the call.
    unsafe {
        let mut fa = std::mem::MaybeUninit::uninit();
        check(libc::posix_spawn_file_actions_init(fa.as_mut_ptr()))?;
        let mut fa = FileActions(fa.assume_init());
        check(libc::posix_spawn_file_actions_addopen(
            &mut fa.0,
            0,
            c"/dev/null".as_ptr(),
            libc::O_RDONLY,
            0,
        ))?;
        check(libc::posix_spawn_file_actions_adddup2(
            &mut fa.0,
            out_w.as_raw_fd(),
            1,
        ))?;
        check(libc::posix_spawn_file_actions_adddup2(
            &mut fa.0,
            err_w.as_raw_fd(),
            2,
        ))?;
        check(libc::posix_spawn_file_actions_addchdir_np(
            &mut fa.0,
            dir.as_ptr(),
        ))?;
        let mut attr = std::mem::MaybeUninit::uninit();
        check(libc::posix_spawnattr_init(attr.as_mut_ptr()))?;
        let mut attr = Attr(attr.assume_init());
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        check(libc::posix_spawnattr_setsigmask(&mut attr.0, set.as_ptr()))?;
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        check(libc::posix_spawnattr_setsigdefault(
            &mut attr.0,
            set.as_ptr(),
        ))?;
        check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
        let flags = libc::POSIX_SPAWN_SETPGROUP
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        check(libc::posix_spawnattr_setflags(&mut attr.0, flags as _))?;
        check(libc::posix_spawn(
            &mut pid,
            prog.as_ptr(),
            &fa.0,
            &attr.0,
            argv.as_ptr().cast(),
            env.envp.as_ptr().cast(),
        ))?;
    }
    drop((out_w, err_w));
    let child = Child {
        pid,
        status: None,
        pidfd: pidfd(pid),
    };
    Ok(Spawned {
        child,
        stdout: receiver(out_r)?,
        stderr: receiver(err_r)?,
    })
}

fn receiver(fd: OwnedFd) -> io::Result<pipe::Receiver> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    pipe::Receiver::from_owned_fd_unchecked(fd)
}

fn pidfd(pid: libc::pid_t) -> Option<AsyncFd<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: an OwnedFd is open and keeps its descriptor until the AsyncFd drops it.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
}

/// The child's status if it ended, without blocking (`WNOHANG`) or blocking.
fn reap(pid: libc::pid_t, block: bool) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let got = unsafe { libc::waitpid(pid, &mut status, if block { 0 } else { libc::WNOHANG }) };
        if got == pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if got == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Child {
    /// The process id, until the process was waited for.
    pub fn id(&self) -> Option<u32> {
        self.status.is_none().then_some(self.pid as u32)
    }

    /// Waits for the process to end and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.status {
                return Ok(status);
            }
            if let Some(status) = reap(self.pid, false)? {
                self.status = Some(status);
                continue;
            }
            match &self.pidfd {
                Some(fd) => fd.readable().await?.clear_ready(),
                None => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SAFETY: our child, not yet reaped, so the pid is still its own.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = reap(self.pid, true);
        }
    }
}
