//! The code matches ARCHITECTURE.md: dependencies point one way between the phase
//! folders, and every source file is on the module map.

use std::path::{Path, PathBuf};

/// The phases, in dependency order: a module may use its own folder and lower ranks.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "error" | "files" | "stop" => 0,
        "config" => 1,
        "repo" | "plugin" => 2,
        "plan" => 3,
        "report" => 4,
        "run" => 5,
        "hub" => 6,
        "agent" => 7,
        "app" => 8,
        _ => return None,
    })
}

fn sources() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&src)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
}

/// `config` for src/config/yaml.rs, `error` for src/error.rs; `None` for lib.rs, main.rs.
fn module_of(path: &Path) -> Option<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = path.strip_prefix(&src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    rank(&name).map(|_| name)
}

#[test]
fn dependencies_point_one_way() {
    let uses = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut wrong = Vec::new();
    for path in sources() {
        let Some(me) = module_of(&path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for used in uses.captures_iter(line).map(|c| c[1].to_string()) {
                let (Some(mine), Some(theirs)) = (rank(&me), rank(&used)) else {
                    continue;
                };
                let allowed = used == me || theirs < mine || (mine == 0 && theirs == 0);
                if !allowed {
                    wrong.push(format!(
                        "{}:{}: `{me}` uses `{used}`: {}",
                        path.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_source_file_is_on_the_module_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let missing: Vec<String> = sources()
        .iter()
        .map(|p| p.strip_prefix(root.join("src")).unwrap().to_path_buf())
        .filter(|rel| !matches!(rel.to_str(), Some("lib.rs" | "main.rs")))
        .filter(|rel| {
            let name = rel.file_name().unwrap().to_string_lossy().into_owned();
            let folder = rel.parent().map(|p| p.to_string_lossy().into_owned());
            // Named in its folder's section, or with its whole path.
            let section = folder
                .filter(|f| !f.is_empty())
                .and_then(|f| map.split(&format!("### `{f}/`")).nth(1))
                .map(|s| s.split("\n### ").next().unwrap_or(s).to_string());
            let listed = match section {
                Some(s) => s.contains(&format!("`{name}`")),
                None => map.contains(&format!("`src/{}`", rel.display())),
            };
            !listed
        })
        .map(|rel| rel.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "not on ARCHITECTURE.md's module map: {missing:?}"
    );
    // and every path the map names exists
    let paths = regex::Regex::new(r"`(src/[a-z_/]+\.rs)`").unwrap();
    for c in paths.captures_iter(&map) {
        assert!(
            root.join(&c[1]).exists(),
            "ARCHITECTURE.md names {} which does not exist",
            &c[1]
        );
    }
}
