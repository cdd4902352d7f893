//! bitops as a library: the binary in main.rs and the fuzz targets use it.
//!
//! The modules are grouped by phase; dependencies point one way (see ARCHITECTURE.md):
//! `app` → `agent` → `hub` → `run` → `report` → `plan` → `plugin` / `repo` → `config`,
//! and `error` is used by all of them.

pub mod agent;
pub mod app;
pub mod config;
pub mod error;
pub mod files;
pub mod hub;
pub mod plan;
pub mod plugin;
pub mod repo;
pub mod report;
pub mod run;
pub mod stop;
