//! The environment folder as a run will see it: `<env>/` with `<default>/` merged in.
//!
//! Plan building reads through this view without writing anything; staging
//! materialises the same view, so the preview and the run agree by construction.
//! After staging, the same type with no default folder reads the staged copy.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::repo::merge::{Clash, clash_kind, renamed_tf};

#[derive(Debug, Clone)]
pub struct EnvView {
    pub env_name: String,
    pub env_dir: PathBuf,
    pub default_dir: Option<PathBuf>,
    pub listings: Listings,
}

/// Folder listings remembered while one plan is built: the hooks, the link check and
/// the lints read the same tool folders (BENCHMARKS.md, P8a). Only folders at most two
/// levels below the environment or default folder (tool folders and their hook
/// folders), so a large tree costs no memory. `Listings::default()` remembers nothing:
/// a run's workspace, which its steps change, is read again each time.
#[derive(Debug, Clone, Default)]
pub struct Listings(Option<Arc<Mutex<Remembered>>>);

/// Each folder's listing, by its path's bytes (hashing a `Path` walks its components,
/// which cost more than the listing itself).
type Remembered = HashMap<OsString, Arc<Vec<Entry>>>;

/// What a path is, links followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    Dir,
    File,
    /// A FIFO, a socket or a device.
    Other,
}

impl Kind {
    /// There, and not a folder.
    pub fn is_file_like(self) -> bool {
        matches!(self, Kind::File | Kind::Other)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Dir,
    /// Copy this file (or symlink) as is.
    File(PathBuf),
    /// Deep-merge the environment's YAML over the default's.
    Yaml {
        env: PathBuf,
        default: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: OsString,
    pub source: Source,
    /// A regular file (as the folder listing says, links not followed): known without
    /// a `stat` of its own.
    pub regular: bool,
    /// A symbolic link (not followed).
    pub link: bool,
}

impl EnvView {
    /// This view, remembering the listings it reads (see `Listings`).
    pub fn remembering_listings(mut self) -> Self {
        self.listings = Listings(Some(Arc::default()));
        self
    }

    /// `dir`'s entries as `list` reads them, remembered when this view remembers.
    pub fn listing(&self, dir: &Path) -> std::io::Result<Arc<Vec<Entry>>> {
        // At most two levels below `top`: compared as bytes, as the paths are made by
        // joining names onto `top` (another spelling is only read again).
        let near_top = |top: &PathBuf| {
            let (dir, top) = (dir.as_os_str().as_bytes(), top.as_os_str().as_bytes());
            dir.strip_prefix(top).is_some_and(|rest| {
                rest.is_empty()
                    || (rest[0] == b'/' && rest[1..].iter().filter(|&&b| b == b'/').count() <= 1)
            })
        };
        let Some(cache) =
            self.listings.0.as_ref().filter(|_| {
                near_top(&self.env_dir) || self.default_dir.as_ref().is_some_and(near_top)
            })
        else {
            return list(dir).map(Arc::new);
        };
        if let Some(found) = cache
            .lock()
            .ok()
            .and_then(|c| c.get(dir.as_os_str()).cloned())
        {
            return Ok(found);
        }
        let read = Arc::new(list(dir)?);
        if let Ok(mut c) = cache.lock() {
            c.insert(dir.as_os_str().to_owned(), read.clone());
        }
        Ok(read)
    }

    /// `name` in `dir`'s listing, when this view remembers listings (`None`: it does
    /// not, and the caller must look for itself); `Some(None)`: not there.
    fn remembered_entry(&self, dir: &Path, name: &str) -> Option<Option<Entry>> {
        self.listings.0.as_ref()?;
        let entries = self.listing(dir).ok()?;
        let at = entries.binary_search_by(|e| e.name.as_bytes().cmp(name.as_bytes()));
        Some(at.ok().map(|i| entries[i].clone()))
    }

    /// What `path` is, links followed: from its folder's remembered listing when that
    /// says (the path is not a link), else from one `stat` (an error counts as missing).
    pub fn kind(&self, path: &Path) -> Kind {
        let listed = || {
            let (dir, name) = (path.parent()?, path.file_name()?.to_str()?);
            match self.remembered_entry(dir, name)? {
                None => Some(Kind::Missing),
                Some(e) if e.link => None,
                Some(e) if e.source == Source::Dir => Some(Kind::Dir),
                Some(e) if e.regular => Some(Kind::File),
                Some(_) => Some(Kind::Other),
            }
        };
        listed().unwrap_or_else(|| match fs::metadata(path) {
            Err(_) => Kind::Missing,
            Ok(m) if m.is_dir() => Kind::Dir,
            Ok(m) if m.is_file() => Kind::File,
            Ok(_) => Kind::Other,
        })
    }

    fn sides(&self, rel: &Path) -> (PathBuf, Option<PathBuf>) {
        (
            self.env_dir.join(rel),
            self.default_dir.as_ref().map(|d| d.join(rel)),
        )
    }

    pub fn is_dir(&self, rel: &Path) -> bool {
        let (env, default) = self.sides(rel);
        let is_dir = |p: &Path| self.kind(p) == Kind::Dir;
        is_dir(&env) || default.is_some_and(|d| is_dir(&d))
    }

    /// The real files behind `rel`, environment first (two when YAML is merged).
    pub fn file_layers(&self, rel: &Path) -> Vec<PathBuf> {
        let (env, default) = self.sides(rel);
        // Anything but a folder: a FIFO or a device is refused when it is read.
        let file_like = |p: &Path| self.kind(p).is_file_like();
        let env_file = file_like(&env).then_some(env);
        let default_file = default.filter(|d| file_like(d));
        match (env_file, default_file) {
            (Some(e), Some(d)) if clash_kind(&rel.to_string_lossy()) == Clash::Yaml => vec![e, d],
            (Some(e), _) => vec![e],
            (None, Some(d)) => vec![d],
            (None, None) => vec![],
        }
    }

    /// The merged listing of one folder, sorted by byte order of the names.
    pub fn entries(&self, rel: &Path) -> std::io::Result<Vec<Entry>> {
        let (env, default) = self.sides(rel);
        let mut out = Arc::unwrap_or_clone(self.listing(&env)?);
        let default_entries = match default {
            Some(d) => Arc::unwrap_or_clone(self.listing(&d)?),
            None => Vec::new(),
        };
        // Where each of the environment's names is: one lookup per default entry, not
        // a scan (a folder of thousands of hooks on both sides is not quadratic).
        let at: std::collections::HashMap<OsString, usize> = if default_entries.is_empty() {
            Default::default()
        } else {
            out.iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect()
        };
        for theirs in default_entries {
            let Some(&i) = at.get(&theirs.name) else {
                out.push(theirs);
                continue;
            };
            // A folder on either side: folders merge, a file never replaces one.
            let (Source::File(env_path), Source::File(default_path)) =
                (&out[i].source, &theirs.source)
            else {
                continue;
            };
            let text = theirs.name.to_string_lossy().into_owned();
            match clash_kind(&text) {
                Clash::Terraform => {
                    out[i].name = OsString::from(renamed_tf(&text, &self.env_name));
                    out.push(theirs);
                }
                Clash::Yaml => {
                    out[i].source = Source::Yaml {
                        env: env_path.clone(),
                        default: default_path.clone(),
                    }
                }
                Clash::Shell | Clash::Other => {}
            }
        }
        out.sort_by(|a, b| a.name.as_encoded_bytes().cmp(b.name.as_encoded_bytes()));
        Ok(out)
    }
}

/// A file of the default folder that the environment hides: its content is not used.
#[derive(Debug, Clone, PartialEq)]
pub struct Hidden {
    pub env: PathBuf,
    pub default: PathBuf,
    pub why: &'static str,
}

impl EnvView {
    /// Every default-folder file whose content a run will not use (`.sh` and other
    /// clashes, and YAML clashes that cannot be merged), for `validate`.
    pub fn hidden_defaults(&self) -> Vec<Hidden> {
        let mut out = Vec::new();
        if let Some(default) = &self.default_dir {
            hidden_in(&self.env_dir, default, &mut out);
        }
        out
    }
}

fn hidden_in(env: &Path, default: &Path, out: &mut Vec<Hidden>) {
    let (Ok(mut ours), Ok(theirs)) = (list(env), list(default)) else {
        return;
    };
    ours.sort_by(|a, b| a.name.cmp(&b.name));
    for theirs in theirs {
        let Some(mine) = ours.iter().find(|e| e.name == theirs.name) else {
            continue;
        };
        match (&mine.source, &theirs.source) {
            (Source::Dir, Source::Dir) => {
                hidden_in(&env.join(&mine.name), &default.join(&theirs.name), out)
            }
            (Source::File(e), Source::File(d)) => {
                let why = match clash_kind(&theirs.name.to_string_lossy()) {
                    Clash::Shell => Some("a .sh clash: the environment's script is used"),
                    Clash::Other => Some("a clash: the environment's file is used"),
                    Clash::Yaml => {
                        crate::repo::merge::merge_files(e, d)
                            .err()
                            .map(|_| "a YAML clash that cannot be merged (invalid YAML): the environment's file is used")
                    }
                    Clash::Terraform => None,
                };
                if let Some(why) = why {
                    out.push(Hidden {
                        env: e.clone(),
                        default: d.clone(),
                        why,
                    });
                }
            }
            _ => out.push(Hidden {
                env: env.join(&mine.name),
                default: default.join(&theirs.name),
                why: "a file and a folder of the same name: the environment's is used",
            }),
        }
    }
}

/// A folder's entries; a missing folder is empty. Symlinks are not followed, so a
/// link to a folder is copied as a link and a link loop cannot recurse.
fn list(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry?;
        let kind = entry.file_type()?;
        let source = if kind.is_dir() {
            Source::Dir
        } else {
            Source::File(entry.path())
        };
        out.push(Entry {
            name: entry.file_name(),
            source,
            regular: kind.is_file(),
            link: kind.is_symlink(),
        });
    }
    // In byte order of the names: a name is found by a binary search.
    out.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_listings_read_as_fresh_ones_and_only_near_the_top() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("dev/tf/a/b");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir_all(tmp.path().join("_default/tf/bitops.before-deploy.d")).unwrap();
        fs::write(tmp.path().join("dev/tf/main.tf"), "x").unwrap();
        fs::write(deep.join("f"), "x").unwrap();
        std::os::unix::fs::symlink("main.tf", tmp.path().join("dev/tf/link")).unwrap();
        let fresh = crate::repo::inputs::env_view(tmp.path(), "dev", "_default");
        let kept = fresh.clone().remembering_listings();
        for rel in ["tf", "tf/a", "tf/bitops.before-deploy.d"] {
            assert_eq!(
                kept.entries(Path::new(rel)).unwrap(),
                fresh.entries(Path::new(rel)).unwrap(),
                "{rel}"
            );
        }
        let link = kept
            .remembered_entry(&kept.env_dir.join("tf"), "link")
            .unwrap()
            .unwrap();
        assert!(link.link && !link.regular);
        assert_eq!(
            kept.remembered_entry(&kept.env_dir.join("tf"), "none"),
            Some(None)
        );
        assert_eq!(
            fresh.remembered_entry(&fresh.env_dir.join("tf"), "link"),
            None
        );
        // A folder three levels down is read, not remembered: a change to it shows.
        assert_eq!(kept.listing(&deep).unwrap().len(), 1);
        fs::write(deep.join("g"), "x").unwrap();
        assert_eq!(kept.listing(&deep).unwrap().len(), 2);
        // Two levels down is remembered for the plan's lifetime.
        fs::write(tmp.path().join("dev/tf/a/h"), "x").unwrap();
        let before = kept.listing(&tmp.path().join("dev/tf/a")).unwrap().len();
        fs::write(tmp.path().join("dev/tf/a/i"), "x").unwrap();
        assert_eq!(
            kept.listing(&tmp.path().join("dev/tf/a")).unwrap().len(),
            before
        );
    }

    #[test]
    fn merged_listing_applies_each_rule() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("dev/tf");
        let def = tmp.path().join("_default/tf");
        fs::create_dir_all(&env).unwrap();
        fs::create_dir_all(def.join("sub")).unwrap();
        for f in ["main.tf", "a.sh", "v.yaml", "n.txt", "env-only"] {
            fs::write(env.join(f), "env").unwrap();
        }
        for f in ["main.tf", "a.sh", "v.yaml", "n.txt", "def-only"] {
            fs::write(def.join(f), "def").unwrap();
        }
        let view = EnvView {
            env_name: "dev".into(),
            env_dir: tmp.path().join("dev"),
            default_dir: Some(tmp.path().join("_default")),
            listings: Listings::default(),
        };
        let entries = view.entries(Path::new("tf")).unwrap();
        let got: Vec<(String, Source)> = entries
            .into_iter()
            .map(|e| (e.name.to_string_lossy().into_owned(), e.source))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.sh".into(), Source::File(env.join("a.sh"))),
                ("def-only".into(), Source::File(def.join("def-only"))),
                ("env-only".into(), Source::File(env.join("env-only"))),
                ("main.tf".into(), Source::File(def.join("main.tf"))),
                ("main.tf.dev.tf".into(), Source::File(env.join("main.tf"))),
                ("n.txt".into(), Source::File(env.join("n.txt"))),
                ("sub".into(), Source::Dir),
                (
                    "v.yaml".into(),
                    Source::Yaml {
                        env: env.join("v.yaml"),
                        default: def.join("v.yaml")
                    }
                ),
            ]
        );
        assert_eq!(view.file_layers(Path::new("tf/v.yaml")).len(), 2);
        assert_eq!(
            view.file_layers(Path::new("tf/n.txt")),
            vec![env.join("n.txt")]
        );
        assert!(view.is_dir(Path::new("tf/sub")));
    }
}
