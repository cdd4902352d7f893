//! The ops repo as a run sees it: its inputs, the environment view with the default
//! folder merged in, hooks and links. Reads only.

pub mod changes;
pub mod hooks;
pub mod inputs;
pub mod links;
pub mod merge;
pub mod view;

/// A tool folder's (and an environment's) config file.
pub const TOOL_CONFIG: &str = "bitops.config.yaml";
