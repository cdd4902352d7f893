//! bitops as a library: the binary in main.rs and the fuzz targets use it.

pub mod app;
pub mod builtin;
pub mod cli;
pub mod discover;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod install;
pub mod load;
pub mod lock;
pub mod mask;
pub mod merge;
pub mod names;
pub mod output;
pub mod plan;
pub mod plugin;
pub mod process;
pub mod render;
pub mod report;
pub mod schema;
pub mod settings;
pub mod validate;
pub mod view;
pub mod workspace;
pub mod yaml;
