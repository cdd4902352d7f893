//! Tool preflight and `bitops doctor`: the programs the plugins need are checked before
//! step 1, and listed with where they were found.

use crate::test::{PROBE_SCHEMA, Test};

/// Two deployments whose plugins need `tool-one` and `tool-two`; `bin/` holds the
/// programs the test puts on PATH.
fn needy() -> Test {
    Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .probe_plugin("other", &PROBE_SCHEMA.replace("probe:", "other:"), &[])
        .write(
            "plugins/probe/plugin.config.yaml",
            "plugin:\n  tools:\n    - name: tool-one\n      get: https://example.org/tool-one\n",
        )
        .write(
            "plugins/other/plugin.config.yaml",
            "plugin:\n  tools: [tool-two]\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe}\n    b: {plugin: other}\n",
        )
        .write("repo/dev/a/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/b/bitops.config.yaml", "other: {}\n")
        .executable("bin/tool-two", "#!/bin/sh\necho 'tool-two 2.1.0'\n")
}

fn with_bin(t: Test) -> Test {
    let path = format!("{}:/usr/bin:/bin", t.root().join("bin").display());
    t.env("PATH", &path)
}

#[test]
fn deploy_stops_before_step_one_listing_every_missing_program() {
    let run = with_bin(needy()).cmd("deploy", "dev").run();
    run.code(127).stderr_is(
        "
        error: a program this needs is not on PATH; nothing was run:
            `tool-one` (needed by a; get it: https://example.org/tool-one)
          hint: install them or put them on PATH (`bitops doctor` shows what is found where); in the bitops image they are all there
        ",
    );
    run.log_is("");
}

#[test]
fn a_skipped_step_needs_nothing() {
    let t = needy().write(
        "plugins/probe/bitops.schema.yaml",
        "probe:\n  type: object\n  properties:\n    options:\n      type: object\n      properties:\n        skip-deploy: {type: boolean, export_env: PROBE_SKIP}\n",
    );
    let run = with_bin(t.write(
        "repo/dev/a/bitops.config.yaml",
        "probe:\n  options:\n    skip-deploy: true\n",
    ))
    .cmd("deploy", "dev")
    .run();
    // the probe plugin's deploy script runs anyway (it does not read PROBE_SKIP)
    run.code(0)
        .stdout_is("deployed a\ndeployed b\n")
        .stderr_has("[2/2] b ok in");
}

#[test]
fn plan_and_validate_warn_of_missing_programs() {
    let run = with_bin(needy()).cmd("plan", "dev").run();
    run.code(0).stdout_has("[1/2] a (plugin probe)").stderr_has(
        "warning: not on PATH: `tool-one` (needed by a; get it: https://example.org/tool-one)",
    );
    let run = with_bin(needy())
        .args(&[
            "validate",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(0).stdout_has("warning: not on PATH: `tool-one`");
}

#[test]
fn doctor_lists_each_tool_with_where_it_was_found() {
    let run = with_bin(needy())
        .args(&[
            "doctor",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    // the FOUND AT column is as wide as the test folder's path
    let rows: Vec<String> = run
        .stdout()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows,
        [
            "TOOL NEEDED BY FOUND AT VERSION STATUS",
            "tool-one a - - missing",
            "tool-two b <root>/bin/tool-two tool-two 2.1.0 OK"
        ]
    );
    run.code(127)
        .stderr_has("`tool-one` (needed by a; get it: https://example.org/tool-one)");
    let run = with_bin(needy().executable("bin/tool-one", "#!/bin/sh\necho v1\n"))
        .args(&[
            "doctor",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--format",
            "json",
        ])
        .run();
    run.code(0);
    let rows: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    assert_eq!(rows[0]["tool"], "tool-one");
    assert_eq!(rows[0]["version"], "v1");
    assert_eq!(rows[1]["ok"], true);
}

#[test]
fn every_built_in_plugin_declares_its_programs() {
    let run = Test::new()
        .args(&[
            "doctor",
            "--plugins-dir",
            "/nonexistent",
            "--format",
            "json",
        ])
        .env("PATH", "/nonexistent")
        .run();
    run.code(127)
        .stderr_has("error: programs this needs are not on PATH:");
    let rows: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    let tools: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["ansible-playbook", "aws", "helm", "terraform"]);
}

#[test]
fn doctor_says_when_a_program_is_too_old() {
    let t = needy()
        .write(
            "plugins/probe/plugin.config.yaml",
            "plugin:\n  tools:\n    - {name: tool-one, min_version: \"1.4\"}\n",
        )
        .executable("bin/tool-one", "#!/bin/sh\necho 'tool-one version 1.2.9'\n");
    let run = with_bin(t)
        .args(&[
            "doctor",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(127)
        .stdout_has("too old (needs 1.4 or newer)")
        .stderr_has("error: `tool-one` is tool-one version 1.2.9, older than 1.4 (needed by a)");
}
