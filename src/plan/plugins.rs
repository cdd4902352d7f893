//! What a plan reads of each plugin (where it is, its manifest, whether its deploy
//! script and schema exist, its schema file parsed), looked up once per plugin while
//! one plan is built instead of once per step: a thousand steps on one plugin made a
//! thousand times the same ten system calls (BENCHMARKS.md, P8a).
//!
//! Each fact is read the first time a step needs it, so what is read, and when, is what
//! the first step on that plugin would read; the problems a read found are kept and
//! given to every step that needs the fact, as if each had read it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::yaml::{Node, YamlError};
use crate::error::Problem;
use crate::plugin::{self, Located, Manifest};

/// One plan's plugins, by name (`None`: no plugin of that name). A run re-resolves each
/// step with a fresh one: a plugin installed during the run is then read as it is by then.
#[derive(Default)]
pub struct Plugins {
    by_name: Mutex<HashMap<String, Option<Arc<Facts>>>>,
}

/// One found plugin's facts, each read when first asked for.
pub struct Facts {
    pub located: Located,
    manifest: OnceLock<(Manifest, Vec<Problem>)>,
    script: OnceLock<bool>,
    schema_entry: OnceLock<bool>,
    schema: OnceLock<Option<Result<Node, YamlError>>>,
}

impl Plugins {
    /// The plugin `name`, located the first time it is asked for.
    pub fn get(
        &self,
        plugins_dir: Option<&Path>,
        builtins: Option<&Path>,
        name: &str,
    ) -> Option<Arc<Facts>> {
        let mut by_name = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        by_name
            .entry(name.to_string())
            .or_insert_with(|| {
                plugin::locate(plugins_dir, builtins, name).map(|located| {
                    Arc::new(Facts {
                        located,
                        manifest: OnceLock::new(),
                        script: OnceLock::new(),
                        schema_entry: OnceLock::new(),
                        schema: OnceLock::new(),
                    })
                })
            })
            .clone()
    }
}

impl Facts {
    /// The manifest; its problems, if any, join `problems`.
    pub fn manifest(&self, problems: &mut Vec<Problem>) -> &Manifest {
        let (manifest, found) = self.manifest.get_or_init(|| {
            let mut found = Vec::new();
            let manifest = plugin::load_manifest(&self.located, &mut found);
            (manifest, found)
        });
        problems.extend(found.iter().cloned());
        manifest
    }

    /// Whether the deploy script exists (the manifest names it: one per plugin).
    pub fn has_script(&self, script: &str) -> bool {
        *self.script.get_or_init(|| self.located.has_file(script))
    }

    pub fn has_schema(&self) -> bool {
        *self
            .schema_entry
            .get_or_init(|| self.located.has_entry(plugin::SCHEMA))
    }

    /// The schema file parsed (`None`: there is none).
    pub fn schema(&self) -> Option<Result<Node, YamlError>> {
        self.schema
            .get_or_init(|| self.located.load_yaml(plugin::SCHEMA))
            .clone()
    }
}
