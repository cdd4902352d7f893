//! Effects: the executor, the workspace, the deploy lock, child processes, signals and
//! the plugin install transaction.

pub mod execute;
pub mod install;
pub mod lock;
pub mod process;
pub mod reaper;
pub mod scratch;
pub mod signals;
pub mod spawn;
pub mod workspace;

/// The single-threaded runtime that drives child processes.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
