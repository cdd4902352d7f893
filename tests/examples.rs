//! The shipped example repos run as the README says.

use std::path::Path;
use std::process::Command;

use crate::test::snapshot;

fn quickstart(args: &[&str]) -> (String, String, i32) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let before = snapshot(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_bitops"))
        .args(args)
        .args([
            "--ops-repo",
            "ops-repo",
            "-c",
            "bitops.config.yaml",
            "--plugins-dir",
            "plugins",
            "--color",
            "never",
        ])
        .current_dir(&dir)
        .env_remove("BITOPS_ENVIRONMENT")
        .output()
        .unwrap();
    assert!(before == snapshot(&dir), "the example was modified");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn quickstart_dev_deploys_both_tools_with_defaults_merged() {
    let (stdout, stderr, code) = quickstart(&["deploy", "-e", "dev"]);
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "arguments: --title=network --component=vpc --component=private subnets preview",
        "before: checking app for dev",
        "  repository: example/app\n  tag: dev-42\n",
        "arguments: --title=app --component=api --component=worker --verbose preview",
        "# app in dev (eu-west-1), team platform",
        "after: notes written to app/RELEASE-NOTES.txt",
    ] {
        assert!(
            stdout.contains(expected),
            "stdout lacks {expected:?}:\n{stdout}"
        );
    }
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(stderr.contains("Summary for environment `dev`"), "{stderr}");
}

#[test]
fn quickstart_prod_uses_its_own_deployments_and_masks_the_token() {
    let (stdout, stderr, code) = quickstart(&["deploy", "-e", "prod"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("published app notes (token=[masked])"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t-demo"), "{stdout}");
    assert!(
        !stderr.contains("network"),
        "prod deploys only app:\n{stderr}"
    );
}

#[test]
fn quickstart_plan_runs_nothing() {
    let (stdout, stderr, code) = quickstart(&["plan", "-e", "dev"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("[2/2] app (plugin release-notes)"),
        "{stdout}"
    );
    assert!(stdout.contains("01-check.sh (with bash)"), "{stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");
}

#[test]
fn quickstart_passes_validate_all_strict() {
    let (stdout, stderr, code) = quickstart(&["validate", "--all", "--strict"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("no problems found in 2 environments (dev, prod)"),
        "{stdout}"
    );
}

/// The README's reference table of each built-in plugin is what `plugins show` prints,
/// so a schema change without a README change fails here.
#[test]
fn the_readme_plugin_tables_match_the_schemas() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for plugin in [
        "terraform",
        "ansible",
        "helm",
        "cloudformation",
        "aws",
        "kubectl",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_bitops"))
            .args([
                "plugins",
                "show",
                plugin,
                "--format",
                "markdown",
                "--plugins-dir",
                "/nonexistent",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{plugin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let table = String::from_utf8(out.stdout).unwrap();
        assert!(
            readme.contains(&format!("### {plugin}\n")) && readme.contains(&table),
            "README.md's table for {plugin} is out of date; it should be:\n{table}"
        );
    }
}
