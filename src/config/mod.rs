//! Configuration: YAML with line numbers, names, and the layered core settings.

pub mod names;
pub mod settings;
pub mod yaml;
