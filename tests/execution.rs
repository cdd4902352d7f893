//! Running a plan: fail-fast, hooks, the step environment, the workspace, output
//! streaming and masking, timeouts, skipped steps and plugin manifests.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::test::{PROBE_SCHEMA, Test, alive, unindent};

/// `PROBE_SCHEMA` with `name` also exported as PROBE_NAME.
fn schema() -> String {
    unindent(PROBE_SCHEMA).replace(
        "parameter: name}",
        "parameter: name, export_env: PROBE_NAME}",
    )
}

/// Environment `dev` with one probe deployment per alias, in that order, each with a
/// tool folder holding `probe: {}`.
fn steps(aliases: &[&str]) -> Test {
    Test::new()
        .probe_plugin("probe", &schema(), &[])
        .deployments(aliases)
}

/// A deploy script that logs `<alias> deploy` and fails with exit 3 for alias `b`.
const FAILS_FOR_B: &str = r#"
    echo "$BITOPS_DEPLOYMENT_ALIAS deploy" >> "$PROBE_LOG"
    if [ "$BITOPS_DEPLOYMENT_ALIAS" = b ]; then exit 3; fi
"#;

/// `bitops deploy` for `t`, as `Test::run` starts it, for tests that need the raw
/// bytes or the live output.
fn deploy_command(t: &Test) -> Command {
    t.deploy_dev(&["--color", "never"])
}

fn read_pid(path: &Path) -> String {
    let pid = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string();
    assert!(pid.parse::<u32>().is_ok(), "not a pid: {pid:?}");
    pid
}

// 1. fail_fast: a failing hook

#[test]
fn a_failing_hook_stops_the_run_with_its_exit_code() {
    let run = steps(&["a", "b", "c"])
        .hook("repo/dev/a/bitops.before-deploy.d/1.sh")
        .write(
            "repo/dev/a/bitops.before-deploy.d/2.sh",
            "echo \"$BITOPS_DEPLOYMENT_ALIAS hook 2.sh fails\" >> \"$PROBE_LOG\"\nexit 7\n",
        )
        .hook("repo/dev/a/bitops.before-deploy.d/3.sh")
        .hook("repo/dev/a/bitops.after-deploy.d/after.sh")
        .hook("repo/dev/b/bitops.before-deploy.d/1.sh")
        .hook("repo/dev/c/bitops.after-deploy.d/after.sh")
        .cmd("deploy", "dev")
        .run();
    run.code(7);
    run.log_is(
        "
        a hook 1.sh
        a hook 2.sh fails
        ",
    );
    run.stdout_is("");
    run.stderr_is(
        "
        [1/3] a (plugin probe)
          before hook 1.sh: bash <ws>/dev/a/bitops.before-deploy.d/1.sh
          before hook 2.sh: bash <ws>/dev/a/bitops.before-deploy.d/2.sh
        [1/3] a failed (before hook 2.sh, exit 7) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> failed (before hook 2.sh, exit 7)
          2   b           probe   -         not run
          3   c           probe   -         not run
          1 failed, 2 not run in <t>
        error: before hook 2.sh of `a` failed with exit code 7; the run stopped there (fail_fast)
        ",
    );
}

// 2. fail_fast: a failing deploy script

#[test]
fn a_failing_deploy_script_stops_the_run_and_skips_its_after_hooks() {
    let run = steps(&["a", "b", "c"])
        .write("plugins/probe/deploy.sh", FAILS_FOR_B)
        .hook("repo/dev/a/bitops.after-deploy.d/after.sh")
        .hook("repo/dev/b/bitops.after-deploy.d/after.sh")
        .hook("repo/dev/c/bitops.before-deploy.d/before.sh")
        .cmd("deploy", "dev")
        .run();
    run.code(3);
    run.log_is(
        "
        a deploy
        a hook after.sh
        b deploy
        ",
    );
    run.stderr_has("[2/3] b failed (deploy script, exit 3) after <t>\n");
    run.stderr_has("  3   c           probe   -         not run\n");
    run.stderr_has(
        "error: deploy script of `b` failed with exit code 3; the run stopped there (fail_fast)\n",
    );
    run.stderr_lacks("after hook after.sh: bash <ws>/dev/b");
}

// 3. fail_fast off

fn failing_b_without_fail_fast() -> Test {
    steps(&["a", "b", "c"])
        .write("plugins/probe/deploy.sh", FAILS_FOR_B)
        .hook("repo/dev/b/bitops.after-deploy.d/after.sh")
        .hook("repo/dev/c/bitops.after-deploy.d/after.sh")
}

const ALL_STEPS_RAN: &str = "
    a deploy
    b deploy
    b hook after.sh
    c deploy
    c hook after.sh
";

#[test]
fn without_fail_fast_the_run_continues_and_exits_1() {
    let run = failing_b_without_fail_fast()
        .write(
            "repo/dev/bitops.config.yaml",
            "
            bitops:
              fail_fast: false
              deployments:
                a: {plugin: probe}
                b: {plugin: probe}
                c: {plugin: probe}
            ",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.log_is(ALL_STEPS_RAN);
    run.stderr_has("  2   b           probe   <t> failed (deploy script, exit 3)\n");
    run.stderr_has("  3   c           probe   <t> ok\n");
    run.stderr_has("error: 1 of 3 deployments failed\n");
}

#[test]
fn bitops_fast_fail_false_0_no_off_turn_fail_fast_off() {
    for value in ["false", "0", "no", "off"] {
        let run = failing_b_without_fail_fast()
            .env("BITOPS_FAST_FAIL", value)
            .cmd("deploy", "dev")
            .run();
        assert_eq!(
            run.exit_code(),
            1,
            "BITOPS_FAST_FAIL={value}\n{}",
            run.stderr_text()
        );
        assert_eq!(
            run.log(),
            unindent(ALL_STEPS_RAN),
            "BITOPS_FAST_FAIL={value}"
        );
        run.stderr_has("error: 1 of 3 deployments failed\n");
    }
}

// 4. hooks

#[test]
fn hooks_run_in_byte_order_in_the_tool_folder_by_kind() {
    let run = steps(&["a"])
        .hook("repo/dev/a/bitops.before-deploy.d/b.sh")
        .hook("repo/dev/a/bitops.before-deploy.d/2.sh")
        .hook("repo/dev/a/bitops.before-deploy.d/10.sh")
        .hook("repo/dev/a/bitops.before-deploy.d/01.sh")
        // a .sh file without the executable bit runs with bash
        .write(
            "repo/dev/a/bitops.before-deploy.d/A.sh",
            r#"
            if [[ -n "$BASH_VERSION" ]]; then shell=bash; fi
            echo "$BITOPS_DEPLOYMENT_ALIAS hook A.sh shell=$shell pwd=$(pwd)" >> "$PROBE_LOG"
            "#,
        )
        // an executable file with a shebang runs directly
        .executable(
            "repo/dev/a/bitops.before-deploy.d/run-me",
            r#"
            #!/bin/sh
            echo "$BITOPS_DEPLOYMENT_ALIAS hook run-me pwd=$(pwd)" >> "$PROBE_LOG"
            "#,
        )
        // anything else is skipped
        .write(
            "repo/dev/a/bitops.before-deploy.d/notes.txt",
            "echo \"$BITOPS_DEPLOYMENT_ALIAS hook notes.txt\" >> \"$PROBE_LOG\"\n",
        )
        .write(
            "repo/dev/a/bitops.after-deploy.d/after.sh",
            "echo \"$BITOPS_DEPLOYMENT_ALIAS hook after.sh pwd=$(pwd)\" >> \"$PROBE_LOG\"\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.log_is(
        "
        a hook 01.sh
        a hook 10.sh
        a hook 2.sh
        a hook A.sh shell=bash pwd=<ws>/dev/a
        a hook b.sh
        a hook run-me pwd=<ws>/dev/a
        a deploy args=plan pwd=<ws>/dev/a
        a hook after.sh pwd=<ws>/dev/a
        ",
    );
    run.stderr_has("  before hook A.sh: bash <ws>/dev/a/bitops.before-deploy.d/A.sh\n");
    run.stderr_has(
        "  skipping before hook notes.txt: not a .sh file and not executable\n  before hook run-me: <ws>/dev/a/bitops.before-deploy.d/run-me\n",
    );
}

// 5. environment isolation

#[test]
fn each_step_sees_the_callers_environment_but_not_earlier_steps_exports() {
    let run = steps(&["a", "b"])
        .probe_plugin(
            "probe",
            &schema(),
            &["PROBE_NAME", "BITOPS_PROBE_NAME", "CALLER_VAR"],
        )
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe: {cli: {name: alpha}}\n",
        )
        .write(
            "repo/dev/b/bitops.before-deploy.d/look.sh",
            r#"echo "$BITOPS_DEPLOYMENT_ALIAS hook CALLER_VAR=$CALLER_VAR PROBE_NAME=${PROBE_NAME-<unset>}" >> "$PROBE_LOG""#,
        )
        .env("CALLER_VAR", "x")
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is(
        "
        deployed a
        deployed b
        ",
    );
    run.stderr_is(
        "
        [1/2] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/2] a ok in <t>
        [2/2] b (plugin probe)
          before hook look.sh: bash <ws>/dev/b/bitops.before-deploy.d/look.sh
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [2/2] b ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          2   b           probe   <t> ok
          2 ok in <t>
        ",
    );
    run.log_is(
        "
        a deploy args=plan pwd=<ws>/dev/a
        a PROBE_NAME=alpha
        a BITOPS_PROBE_NAME=alpha
        a CALLER_VAR=x
        b hook CALLER_VAR=x PROBE_NAME=<unset>
        b deploy args=plan pwd=<ws>/dev/b
        b PROBE_NAME=<unset>
        b BITOPS_PROBE_NAME=<unset>
        b CALLER_VAR=x
        ",
    );
}

#[test]
fn a_non_utf8_variable_of_the_caller_reaches_hooks_and_plugins() {
    let t = steps(&["a"])
        .write(
            "repo/dev/a/bitops.before-deploy.d/show.sh",
            r#"printf 'hook [%s]\n' "${RAW_VAR-unset}""#,
        )
        .write(
            "plugins/probe/deploy.sh",
            r#"printf 'deploy [%s]\n' "${RAW_VAR-unset}""#,
        );
    let output = deploy_command(&t)
        .env("RAW_VAR", OsStr::from_bytes(b"caf\xe9"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hook [caf\u{fffd}]\ndeploy [caf\u{fffd}]\n"
    );
    assert_eq!(output.stdout, b"hook [caf\xe9]\ndeploy [caf\xe9]\n");
}

// 6. standard step variables

#[test]
fn every_step_gets_the_standard_bitops_variables() {
    let run = steps(&["tool"])
        .probe_plugin(
            "probe",
            &schema(),
            &[
                "BITOPS_ENVIRONMENT",
                "BITOPS_TEMPDIR",
                "BITOPS_ENVROOT",
                "BITOPS_OPSREPO_ENVIRONMENT_DIR",
                "BITOPS_OPSREPO_ENV_FILE",
                "BITOPS_PLUGIN_NAME",
                "BITOPS_INSTALLED_PLUGIN_DIR",
                "BITOPS_PLUGINS_DIR",
                "BITOPS_FAIL_FAST",
                "BITOPS_KUBE_CONFIG_FILE",
                "BITOPS_DEFAULT_ROOT_DIR",
                "BITOPS_PROBE_CLI",
                "BITOPS_PROBE_CLI_QUOTED",
            ],
        )
        .write(
            "repo/dev/tool/bitops.config.yaml",
            "probe: {cli: {name: two words}}\n",
        )
        .write(
            "repo/dev/tool/bitops.after-deploy.d/words.sh",
            r#"
            set -- $BITOPS_PROBE_CLI
            echo "$BITOPS_DEPLOYMENT_ALIAS hook unquoted words=$#" >> "$PROBE_LOG"
            eval "set -- $BITOPS_PROBE_CLI_QUOTED"
            echo "$BITOPS_DEPLOYMENT_ALIAS hook quoted words=$# 1=[$1] 2=[$2]" >> "$PROBE_LOG"
            "#,
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed tool\n");
    run.stderr_is(&crate::test::one_ok_step(
        "tool",
        "probe",
        &[
            "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
            "  after hook words.sh: bash <ws>/dev/tool/bitops.after-deploy.d/words.sh",
        ],
    ));
    run.log_is(
        "
        tool deploy args=plan pwd=<ws>/dev/tool
        tool BITOPS_ENVIRONMENT=dev
        tool BITOPS_TEMPDIR=<ws>
        tool BITOPS_ENVROOT=<ws>/dev
        tool BITOPS_OPSREPO_ENVIRONMENT_DIR=<ws>/dev/tool
        tool BITOPS_OPSREPO_ENV_FILE=<ws>/dev/tool/ENV_FILE
        tool BITOPS_PLUGIN_NAME=probe
        tool BITOPS_INSTALLED_PLUGIN_DIR=<root>/plugins/probe
        tool BITOPS_PLUGINS_DIR=<root>/plugins/
        tool BITOPS_FAIL_FAST=True
        tool BITOPS_KUBE_CONFIG_FILE=<ws>/.kube/config
        tool BITOPS_DEFAULT_ROOT_DIR=_default
        tool BITOPS_PROBE_CLI=--name=two words plan
        tool BITOPS_PROBE_CLI_QUOTED='--name=two words' plan
        tool hook unquoted words=3
        tool hook quoted words=2 1=[--name=two words] 2=[plan]
        ",
    );
}

#[test]
fn bitops_fail_fast_is_false_when_fail_fast_is_off() {
    let run = steps(&["a"])
        .probe_plugin("probe", &schema(), &["BITOPS_FAIL_FAST"])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  fail_fast: false\n  deployments:\n    a: {plugin: probe}\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
    ));
    run.log_is(
        "
        a deploy args=plan pwd=<ws>/dev/a
        a BITOPS_FAIL_FAST=False
        ",
    );
}

// 7. the workspace

#[test]
fn the_workspace_is_removed_after_a_successful_run() {
    let run = steps(&["a"]).cmd("deploy", "dev").run();
    run.code(0);
    run.stdout_is("deployed a\n");
    assert_eq!(run.workspaces(), Vec::<std::path::PathBuf>::new());
    run.stderr_lacks("workspace kept");
}

#[test]
fn the_workspace_is_removed_after_a_failing_run() {
    let run = steps(&["a", "b"])
        .write("plugins/probe/deploy.sh", FAILS_FOR_B)
        .cmd("deploy", "dev")
        .run();
    run.code(3);
    assert_eq!(run.workspaces(), Vec::<std::path::PathBuf>::new());
    run.stderr_lacks("workspace kept");
}

#[test]
fn keep_workspace_keeps_it_and_prints_its_path() {
    for (deploy, code) in [("echo ok\n", 0), (FAILS_FOR_B, 3)] {
        let run = steps(&["a", "b"])
            .write("plugins/probe/deploy.sh", deploy)
            .cmd("deploy", "dev")
            .args(&["--keep-workspace"])
            .run();
        run.code(code);
        // the failing deploy script prints nothing
        run.stdout_is(if code == 0 { "ok\nok\n" } else { "" });
        run.stderr_has("workspace kept at <ws>\n");
        let kept = run.kept_workspace();
        assert_eq!(run.workspaces(), vec![kept.clone()]);
        assert_eq!(
            std::fs::read_to_string(kept.join("dev/b/bitops.config.yaml")).unwrap(),
            "probe: {}\n"
        );
    }
}

// 8. hooks may edit the workspace; later steps see the edits

#[test]
fn a_hook_edits_a_later_steps_files_and_that_step_runs_with_the_edits() {
    let run = steps(&["a", "b"])
        .probe_plugin("probe", &schema(), &["BITOPS_PROBE_CLI"])
        .write(
            "repo/dev/b/bitops.config.yaml",
            "probe: {cli: {name: original}}\n",
        )
        .write("repo/dev/b/data.txt", "data\n")
        .hook("repo/dev/b/bitops.before-deploy.d/gone.sh")
        .write(
            "repo/dev/b/bitops.before-deploy.d/check.sh",
            r#"
            if [ -e data.txt ]; then data=yes; else data=no; fi
            echo "$BITOPS_DEPLOYMENT_ALIAS hook check.sh data=$data new=$(cat "$BITOPS_TEMPDIR/new.txt")" >> "$PROBE_LOG"
            "#,
        )
        .write(
            "repo/dev/a/bitops.before-deploy.d/edit.sh",
            r#"
            b="$BITOPS_ENVROOT/b"
            printf 'probe:\n  cli: {name: edited}\n' > "$b/bitops.config.yaml"
            rm "$b/data.txt" "$b/bitops.before-deploy.d/gone.sh"
            printf 'echo "$BITOPS_DEPLOYMENT_ALIAS hook made.sh" >> "$PROBE_LOG"\n' > "$b/bitops.before-deploy.d/made.sh"
            echo new > "$BITOPS_TEMPDIR/new.txt"
            echo "$BITOPS_DEPLOYMENT_ALIAS hook edit.sh" >> "$PROBE_LOG"
            "#,
        )
        .cmd("deploy", "dev")
        .run();
    // (the harness also checks that the ops repo is byte-identical after the run)
    run.code(0);
    run.stdout_is(
        "
        deployed a
        deployed b
        ",
    );
    run.stderr_is(
        "
        [1/2] a (plugin probe)
          before hook edit.sh: bash <ws>/dev/a/bitops.before-deploy.d/edit.sh
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/2] a ok in <t>
        [2/2] b (plugin probe)
          before hook check.sh: bash <ws>/dev/b/bitops.before-deploy.d/check.sh
          before hook made.sh: bash <ws>/dev/b/bitops.before-deploy.d/made.sh
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [2/2] b ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          2   b           probe   <t> ok
          2 ok in <t>
        ",
    );
    run.log_is(
        "
        a hook edit.sh
        a deploy args=plan pwd=<ws>/dev/a
        a BITOPS_PROBE_CLI=plan
        b hook check.sh data=no new=new
        b hook made.sh
        b deploy args=plan pwd=<ws>/dev/b
        b BITOPS_PROBE_CLI=--name=edited plan
        ",
    );
}

#[test]
fn a_hook_that_breaks_a_later_steps_config_fails_that_step() {
    let run = steps(&["a", "b", "c"])
        .write(
            "repo/dev/a/bitops.after-deploy.d/break.sh",
            r#"printf 'probe:\n  cli: {name: [x, y]}\n' > "$BITOPS_ENVROOT/b/bitops.config.yaml""#,
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stdout_is("deployed a\n");
    run.log_is("a deploy args=plan pwd=<ws>/dev/a\n");
    run.stderr_is(
        "
        [1/3] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
          after hook break.sh: bash <ws>/dev/a/bitops.after-deploy.d/break.sh
        [1/3] a ok in <t>
        [2/3] b (plugin probe)
        error: repo/dev/b/bitops.config.yaml:2: `probe.cli.name`: must be a single value, found a list
          hint: the run's copy of this file differs from the ops repo's: a hook of an earlier step changed it
        [2/3] b failed (configuration, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          2   b           probe   <t> failed (configuration, exit 1)
          3   c           probe   -         not run
          1 ok, 1 failed, 1 not run in <t>
        error: configuration of `b` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
}

// 9. output is streamed as it is produced

#[test]
fn child_output_is_streamed_line_by_line_while_the_child_runs() {
    let t = steps(&["a"]).write(
        "plugins/probe/deploy.sh",
        r#"
        echo first
        echo to-stderr >&2
        i=0
        while [ ! -e "$GO_DIR/go" ]; do
          i=$((i + 1))
          if [ "$i" -gt 300 ]; then echo "gave up waiting for go"; exit 9; fi
          sleep 0.1
        done
        echo second
        "#,
    );
    let go_dir = t.root().join("go-dir");
    std::fs::create_dir_all(&go_dir).unwrap();
    let go = go_dir.join("go");
    let mut child = deploy_command(&t)
        .env("GO_DIR", &go_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !seen.iter().any(|l| l == "first") {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "`first` did not reach stdout while the script waited ({e:?}); seen: {seen:?}"
                );
            }
        }
    }
    // The script is blocked until `go` exists, so `first` was forwarded while it ran.
    assert!(!go.exists());
    std::fs::write(&go, "").unwrap();
    seen.extend(rx.iter());
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(0), "stdout: {seen:?}\nstderr: {stderr}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, ["first", "second", "to-stderr"], "{seen:?}");
    assert_eq!(seen.iter().position(|l| l == "first"), Some(0), "{seen:?}");
    assert!(!stderr.contains("to-stderr"), "{stderr}");
}

// 10. bytes pass through

#[test]
fn non_utf8_bytes_and_a_huge_unterminated_line_pass_through() {
    const SIZE: usize = 3_000_000;
    let t = steps(&["a"]).write(
        "plugins/probe/deploy.sh",
        &format!(
            r"
            printf 'before \xff\xfe ok\n'
            head -c {SIZE} /dev/zero | tr '\0' 'Z'
            "
        ),
    );
    let output = deploy_command(&t).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = output.stdout;
    assert!(
        stdout.starts_with(b"before \xff\xfe ok\n"),
        "{:?}",
        &stdout[..stdout.len().min(40)]
    );
    let rest: Vec<u8> = stdout[b"before \xff\xfe ok\n".len()..]
        .iter()
        .copied()
        .filter(|&b| b != b'\n')
        .collect();
    assert_eq!(rest.len(), SIZE);
    assert!(rest.iter().all(|&b| b == b'Z'));
    assert!(stdout.ends_with(b"Z\n"));
}

// 11. masks

#[test]
fn masks_and_secret_values_cover_all_child_output_and_the_log_file() {
    let t = Test::new();
    let logs = t.root().join("logs");
    let run = t
        .probe_plugin("probe", &schema(), &[])
        .write(
            "repo/dev/bitops.config.yaml",
            &format!(
                r#"
                bitops:
                  logging:
                    filename: run
                    path: {}
                    masks:
                      - search: "secret=(\\w+)"
                        replace: "secret=***"
                  deployments:
                    a: {{plugin: probe}}
                "#,
                logs.display()
            ),
        )
        .write("repo/dev/a/bitops.config.yaml", "probe: {}\n")
        .write(
            "plugins/probe/deploy.sh",
            r#"
            echo "deploy out secret=def456"
            echo "deploy err secret=def457" >&2
            "#,
        )
        .write(
            "repo/dev/a/bitops.before-deploy.d/talk.sh",
            r#"
            echo "hook out secret=abc123 password=$DB_PASSWORD"
            echo "hook err secret=abc124 password=$DB_PASSWORD" >&2
            "#,
        )
        .env("DB_PASSWORD", "hunter2hunter2")
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    let mut lines: Vec<&str> = run.stdout_text().lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "deploy err secret=***",
            "deploy out secret=***",
            "hook err secret=*** password=*****",
            "hook out secret=*** password=*****",
        ]
    );
    let log = std::fs::read_to_string(logs.join("run.log")).unwrap();
    for line in &lines {
        assert!(
            log.contains(&format!("{line}\n")),
            "log lacks {line:?}:\n{log}"
        );
    }
    for secret in ["abc123", "abc124", "def456", "def457", "hunter2hunter2"] {
        run.output_lacks(secret);
        assert!(!log.contains(secret), "{secret} in the log file");
    }
}

#[test]
fn a_secret_across_the_cut_of_a_huge_line_is_still_masked() {
    // A line is forwarded in pieces once 1 MiB of it is pending. The script writes the
    // line so that the cut falls inside the secret: 1 MiB - 4 bytes, a pause so that
    // bitops has read them, `hunt` (the cut), a pause, then the rest of the line.
    const BEFORE: usize = 1024 * 1024 - 4;
    let t = steps(&["a"]).write(
        "plugins/probe/deploy.sh",
        &format!(
            r#"
            head -c {BEFORE} /dev/zero | tr '\0' 'Z'
            sleep 1
            printf '%s' "${{DB_PASSWORD%%er2hunter2}}"
            sleep 1
            printf 'er2hunter2 done\n'
            "#
        ),
    );
    let output = deploy_command(&t)
        .env("DB_PASSWORD", "hunter2hunter2")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let tail = String::from_utf8_lossy(&output.stdout[BEFORE..]).into_owned();
    assert!(
        !tail.contains("hunt") && !tail.contains("er2hunter2"),
        "the secret was printed: {tail:?}"
    );
}

// 12. timeouts

#[test]
fn a_step_past_its_timeout_is_stopped_with_its_background_children() {
    let t = steps(&["slow", "next"])
        .write(
            "repo/dev/bitops.config.yaml",
            "
            bitops:
              deployments:
                slow: {plugin: probe, timeout: 1s}
                next: {plugin: probe}
            ",
        )
        .write(
            "plugins/probe/deploy.sh",
            r#"
            sleep 300 &
            echo $! > "$(dirname "$PROBE_LOG")/grandchild.pid"
            echo "$BITOPS_DEPLOYMENT_ALIAS deploy started" >> "$PROBE_LOG"
            sleep 30
            echo "$BITOPS_DEPLOYMENT_ALIAS deploy finished" >> "$PROBE_LOG"
            "#,
        );
    let pid_file = t.root().join("grandchild.pid");
    let started = Instant::now();
    let run = t.cmd("deploy", "dev").run();
    let elapsed = started.elapsed();
    run.code(124);
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    run.log_is("slow deploy started\n");
    run.stderr_has("[1/2] slow timed out (deploy script) after <t>\n");
    run.stderr_has("  2   next        probe   -         not run\n");
    run.stderr_has("error: deploy script of `slow` ran past its timeout and was stopped\n");
    let pid = read_pid(&pid_file);
    assert!(
        !alive(&pid),
        "the background `sleep 300` (pid {pid}) survived"
    );
}

#[test]
fn a_background_process_left_by_a_hook_does_not_outlive_the_run() {
    let t = steps(&["a"]).write(
        "repo/dev/a/bitops.before-deploy.d/bg.sh",
        r#"
        sleep 300 &
        echo $! > "$(dirname "$PROBE_LOG")/background.pid"
        "#,
    );
    let pid_file = t.root().join("background.pid");
    let run = t.cmd("deploy", "dev").run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &[
            "  before hook bg.sh: bash <ws>/dev/a/bitops.before-deploy.d/bg.sh",
            "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
        ],
    ));
    run.log_is("a deploy args=plan pwd=<ws>/dev/a\n");
    let pid = read_pid(&pid_file);
    assert!(
        !alive(&pid),
        "the background `sleep 300` (pid {pid}) survived"
    );
}

// 13. a missing tool folder

#[test]
fn a_missing_tool_folder_of_the_image_sequence_is_skipped_with_a_warning() {
    let t = steps(&["a", "c"]).write(
        "core.yaml",
        "
        bitops:
          deployments:
            a: {plugin: probe}
            missing: {plugin: probe}
            c: {plugin: probe}
        ",
    );
    std::fs::remove_file(t.root().join("repo/dev/bitops.config.yaml")).unwrap();
    let run = t.cmd("deploy", "dev").args(&["-c", "core.yaml"]).run();
    run.code(0);
    run.stdout_is("deployed a\ndeployed c\n");
    run.log_is(
        "
        a deploy args=plan pwd=<ws>/dev/a
        c deploy args=plan pwd=<ws>/dev/c
        ",
    );
    run.stderr_has("warning: core.yaml:4: `bitops.deployments.missing`: tool folder dev/missing not found; skipping `missing`\n");
    run.stderr_has("[2/3] missing skipped\n");
    run.stderr_has("  2   missing     probe   <t> skipped (tool folder dev/missing not found)\n");
    run.stderr_has("  3   c           probe   <t> ok\n");
}

#[test]
fn a_missing_tool_folder_listed_by_the_environment_stops_the_run_before_step_one() {
    let run = steps(&["a", "c"])
        .write(
            "repo/dev/bitops.config.yaml",
            "
            bitops:
              deployments:
                a: {plugin: probe}
                missing: {plugin: probe}
                c: {plugin: probe}
            ",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1).stdout_is("").stderr_is(
        "
        error: repo/dev/bitops.config.yaml:4: `bitops.deployments.missing`: deployment `missing` is listed here but its tool folder dev/missing does not exist
          hint: create the folder dev/missing, or remove the deployment
        ",
    );
    run.log_is("");
}

// 14. plugin.config.yaml switches

#[test]
fn before_hook_scripts_false_skips_the_before_hooks() {
    let run = steps(&["a"])
        .write(
            "plugins/probe/plugin.config.yaml",
            "
            plugin:
              deployment:
                before_hook_scripts: false
            ",
        )
        .hook("repo/dev/a/bitops.before-deploy.d/before.sh")
        .hook("repo/dev/a/bitops.after-deploy.d/after.sh")
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &[
            "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
            "  after hook after.sh: bash <ws>/dev/a/bitops.after-deploy.d/after.sh",
        ],
    ));
    run.log_is(
        "
        a deploy args=plan pwd=<ws>/dev/a
        a hook after.sh
        ",
    );
}

#[test]
fn without_core_schema_parsing_a_tool_needs_no_config_and_gets_no_stack_action() {
    let plugin_without_schema_parsing = || {
        Test::new()
            .probe_plugin("probe", &schema(), &["BITOPS_PROBE_CLI"])
            .write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    a: {plugin: probe}\n",
            )
            .write("repo/dev/a/main.txt", "no bitops.config.yaml here\n")
    };
    // the same tool folder is an error when the schema is parsed
    plugin_without_schema_parsing()
        .cmd("deploy", "dev")
        .run()
        .code(2)
        .stderr_is(
            "
            error: repo/dev/a/bitops.config.yaml: the tool folder has no bitops.config.yaml
              hint: create it with a `probe:` root key (it may be `probe: {}`)
            ",
        );
    let run = plugin_without_schema_parsing()
        .write(
            "plugins/probe/plugin.config.yaml",
            "
            plugin:
              deployment:
                core_schema_parsing: false
            ",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh ''"],
    ));
    run.log_is(
        "
        a deploy args= pwd=<ws>/dev/a
        a BITOPS_PROBE_CLI=<unset>
        ",
    );
}
