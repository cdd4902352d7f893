//! Real external tools for the plugin tests, installed by `bash .ci/tools.sh` into
//! `.tools/bin`. Every test that needs them is marked
//! `#[ignore = "needs .tools/ (bash .ci/tools.sh)"]`: `cargo test` lists it as ignored,
//! and `cargo test -- --include-ignored` runs it, where a missing tool is a failure.

use std::path::{Path, PathBuf};

pub fn tools_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin")
}

/// `PATH` with `.tools/bin` first. Panics when a tool named is not there.
pub fn path_with(tools: &[&str]) -> String {
    let bin = tools_bin();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !bin.join(t).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "real tools missing from {}: {} (install them with `bash .ci/tools.sh`)",
        bin.display(),
        missing.join(", ")
    );
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Python of the tools' venv (`.tools/venv`), which has `jsonschema` and PyYAML.
/// Panics when it is not there.
pub fn venv_python() -> PathBuf {
    let python = tools_bin().join("../venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing (install it with `bash .ci/tools.sh`)",
        python.display()
    );
    python
}
