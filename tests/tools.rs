//! Real external tools for the plugin tests, installed by `bash .ci/tools.sh` into
//! `.tools/bin`. Missing tools fail the test under CI (where .ci/run installs them)
//! and skip it, loudly, elsewhere.

use std::path::{Path, PathBuf};

pub fn tools_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin")
}

/// `PATH` with `.tools/bin` first, when every tool named is there; `None` (skip) otherwise.
pub fn path_with(tools: &[&str]) -> Option<String> {
    let bin = tools_bin();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !bin.join(t).exists())
        .collect();
    if !missing.is_empty() {
        let msg = format!(
            "real tools missing from {}: {} (install them with `bash .ci/tools.sh`)",
            bin.display(),
            missing.join(", ")
        );
        if std::env::var_os("CI").is_some() || std::env::var_os("BITOPS_REQUIRE_TOOLS").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    Some(format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    ))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
