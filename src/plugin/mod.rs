//! Plugin folders and their manifest, `plugin.config.yaml` (optional: missing = defaults).

pub mod alpine;
pub mod builtin;
pub mod fetch;
pub mod schema;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::yaml::{Node, Value, YamlError};
use crate::error::Problem;

pub const MANIFEST: &str = "plugin.config.yaml";
pub const SCHEMA: &str = "bitops.schema.yaml";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Install {
    pub language: String,
    pub install_script: String,
    pub dependencies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Deploy {
    pub language: String,
    pub deployment_script: String,
    pub core_schema_parsing: bool,
    pub before_hook_scripts: bool,
    pub after_hook_scripts: bool,
    /// Each sub-folder of the tool folder (a Helm chart, say) has its own
    /// `bitops.config.yaml`, layered over the tool folder's (which is then optional).
    /// `plan`/`validate` check them all; the plugin resolves each with `bitops resolve`.
    pub subfolder_configs: bool,
    /// With `subfolder_configs`: the file that makes a sub-folder one the plugin deploys
    /// (`Chart.yaml`); empty when any sub-folder with a config counts. A marked sub-folder
    /// without a config of its own is checked against the tool folder's config alone.
    pub subfolder_marker: String,
}

/// A program a plugin needs on `PATH` (`plugin.tools` in plugin.config.yaml; absent =
/// not checked): checked before step 1 of a deploy, listed by `bitops doctor`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolNeed {
    pub name: String,
    /// How `doctor` asks for its version (default `--version`).
    pub version_args: Vec<String>,
    /// Where to get it, for the message when it is missing.
    pub get: Option<String>,
    /// The oldest version that works (`doctor` checks it against what the program says).
    pub min_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Manifest {
    pub install: Install,
    pub deployment: Deploy,
    pub tools: Vec<ToolNeed>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            install: Install {
                language: "bash".into(),
                install_script: "install.sh".into(),
                dependencies: Vec::new(),
            },
            deployment: Deploy {
                language: "bash".into(),
                deployment_script: "deploy.sh".into(),
                core_schema_parsing: true,
                before_hook_scripts: true,
                after_hook_scripts: true,
                subfolder_configs: false,
                subfolder_marker: String::new(),
            },
            tools: Vec::new(),
        }
    }
}

/// A plugin found for a deployment: an installed folder, or a built-in one. A built-in
/// plugin is read from memory until a run writes it to disk (`dir` is then real).
#[derive(Debug, Clone)]
pub struct Located {
    pub name: String,
    pub dir: PathBuf,
    pub builtin: bool,
    on_disk: bool,
}

/// Shown as the folder of a built-in plugin in a plan, before a run writes it out.
pub const BUILTIN_PLACEHOLDER: &str = "<built-in>";

/// `<plugins_dir>/<name>` when that folder exists, else the built-in plugin of that name;
/// `builtin_dir` is where a run wrote the built-in plugins.
pub fn locate(
    plugins_dir: Option<&Path>,
    builtin_dir: Option<&Path>,
    name: &str,
) -> Option<Located> {
    if let Some(dir) = plugins_dir.map(|d| d.join(name)).filter(|d| d.is_dir()) {
        return Some(Located {
            name: name.into(),
            dir,
            builtin: false,
            on_disk: true,
        });
    }
    builtin::exists(name).then(|| match builtin_dir {
        Some(b) => Located {
            name: name.into(),
            dir: b.join(name),
            builtin: true,
            on_disk: true,
        },
        None => Located {
            name: name.into(),
            dir: Path::new(BUILTIN_PLACEHOLDER).join(name),
            builtin: true,
            on_disk: false,
        },
    })
}

impl Located {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn has_file(&self, rel: &str) -> bool {
        if self.on_disk {
            self.path(rel).is_file()
        } else {
            builtin::file(&self.name, rel).is_some()
        }
    }

    /// Whether the plugin has an entry of that name, whatever it is (a FIFO where a
    /// YAML file should be is then refused when read, not taken as missing).
    pub fn has_entry(&self, rel: &str) -> bool {
        if self.on_disk {
            std::fs::symlink_metadata(self.path(rel)).is_ok()
        } else {
            builtin::file(&self.name, rel).is_some()
        }
    }

    /// Parses one of the plugin's YAML files; `None` when it has no such file.
    pub fn load_yaml(&self, rel: &str) -> Option<Result<Node, YamlError>> {
        if self.on_disk {
            let path = self.path(rel);
            path.exists().then(|| crate::config::yaml::load_file(&path))
        } else {
            builtin::file(&self.name, rel)
                .map(|bytes| crate::config::yaml::parse_bytes(bytes.to_vec()))
        }
    }
}

/// Installed and built-in plugin names, sorted, for "available plugins" hints.
pub fn available(plugins_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = plugins_dir
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .chain(builtin::names().into_iter().map(String::from))
        .collect();
    names.sort();
    names.dedup();
    names
}

pub fn load_manifest(plugin: &Located, problems: &mut Vec<Problem>) -> Manifest {
    let path = plugin.path(MANIFEST);
    let mut manifest = Manifest::default();
    let root = match plugin.load_yaml(MANIFEST) {
        None => return manifest,
        Some(Ok(root)) => root,
        Some(Err(e)) => {
            problems.push(e.at(&path));
            return manifest;
        }
    };
    let Some(plugin) = root.get("plugin") else {
        if !root.is_null() {
            problems.push(
                Problem::error("the root key must be `plugin`")
                    .at(&path, root.line)
                    .hint("write `plugin: {deployment: {language: bash, deployment_script: deploy.sh}}`"),
            );
        }
        return manifest;
    };
    let mut read = Reader {
        path: &path,
        problems,
    };
    if let Some(install) = plugin.get("install") {
        let i = &mut manifest.install;
        read.text(install, "plugin.install.language", &mut i.language);
        read.text(
            install,
            "plugin.install.install_script",
            &mut i.install_script,
        );
        read.list(install, "plugin.install.dependencies", &mut i.dependencies);
    }
    if let Some(deploy) = plugin.get("deployment") {
        let d = &mut manifest.deployment;
        read.text(deploy, "plugin.deployment.language", &mut d.language);
        read.text(
            deploy,
            "plugin.deployment.deployment_script",
            &mut d.deployment_script,
        );
        read.flag(
            deploy,
            "plugin.deployment.core_schema_parsing",
            &mut d.core_schema_parsing,
        );
        read.flag(
            deploy,
            "plugin.deployment.before_hook_scripts",
            &mut d.before_hook_scripts,
        );
        read.flag(
            deploy,
            "plugin.deployment.after_hook_scripts",
            &mut d.after_hook_scripts,
        );
        read.flag(
            deploy,
            "plugin.deployment.subfolder_configs",
            &mut d.subfolder_configs,
        );
        read.text(
            deploy,
            "plugin.deployment.subfolder_marker",
            &mut d.subfolder_marker,
        );
    }
    if let Some(tools) = plugin.get("tools").filter(|n| !n.is_null()) {
        read.tools(tools, &mut manifest.tools);
    }
    manifest
}

struct Reader<'a> {
    path: &'a Path,
    problems: &'a mut Vec<Problem>,
}

impl Reader<'_> {
    fn field<'n>(&self, section: &'n Node, key: &str) -> Option<&'n Node> {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        section.get(leaf).filter(|n| !n.is_null())
    }

    fn bad(&mut self, node: &Node, key: &str, expected: &str) {
        self.problems.push(
            Problem::error(format!("expected {expected}, found {}", node.describe()))
                .at(self.path, node.line)
                .key(key),
        );
    }

    fn text(&mut self, section: &Node, key: &str, out: &mut String) {
        if let Some(node) = self.field(section, key) {
            match &node.value {
                Value::Str(s) if !s.is_empty() => *out = s.clone(),
                _ => self.bad(node, key, "a non-empty string"),
            }
        }
    }

    fn flag(&mut self, section: &Node, key: &str, out: &mut bool) {
        if let Some(node) = self.field(section, key) {
            match &node.value {
                Value::Bool(b) => *out = *b,
                _ => self.bad(node, key, "true or false"),
            }
        }
    }

    /// `tools: [terraform, {name: helm, version_args: [version, --short], get: URL}]`
    fn tools(&mut self, node: &Node, out: &mut Vec<ToolNeed>) {
        let Value::Seq(items) = &node.value else {
            return self.bad(node, "plugin.tools", "a list of programs");
        };
        for item in items {
            let need = match &item.value {
                Value::Str(name) => Some(ToolNeed {
                    name: name.clone(),
                    version_args: vec!["--version".into()],
                    get: None,
                    min_version: None,
                }),
                Value::Map(_) => {
                    item.get("name")
                        .and_then(Node::scalar_text)
                        .map(|name| ToolNeed {
                            name,
                            version_args: match item.get("version_args").map(|n| &n.value) {
                                Some(Value::Seq(args)) => {
                                    args.iter().filter_map(Node::scalar_text).collect()
                                }
                                _ => vec!["--version".into()],
                            },
                            get: item.get("get").and_then(Node::scalar_text),
                            min_version: item.get("min_version").and_then(Node::scalar_text),
                        })
                }
                _ => None,
            };
            match need {
                Some(n) if !n.name.is_empty() && !n.name.contains('/') => out.push(n),
                _ => self.bad(
                    item,
                    "plugin.tools",
                    "a program name, or {name, version_args, get}",
                ),
            }
        }
    }

    fn list(&mut self, section: &Node, key: &str, out: &mut Vec<String>) {
        if let Some(node) = self.field(section, key) {
            match &node.value {
                Value::Seq(items) if items.iter().all(|i| i.scalar_text().is_some()) => {
                    *out = items.iter().filter_map(Node::scalar_text).collect();
                }
                _ => self.bad(node, key, "a list of plugin names"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_defaults_and_overrides() {
        let tmp = tempfile::tempdir().unwrap();
        let mut problems = Vec::new();
        let plugin = Located {
            name: "p".into(),
            dir: tmp.path().into(),
            builtin: false,
            on_disk: true,
        };
        assert_eq!(load_manifest(&plugin, &mut problems), Manifest::default());
        std::fs::write(
            tmp.path().join(MANIFEST),
            "plugin:\n  deployment:\n    language: sh\n    core_schema_parsing: false\n    after_hook_scripts: nope\n",
        )
        .unwrap();
        let m = load_manifest(&plugin, &mut problems);
        assert_eq!(m.deployment.language, "sh");
        assert!(!m.deployment.core_schema_parsing);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(5));
    }
}
