//! Reports (`--report`, `--junit`), JSON log lines and CI-native output, as snapshots.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::test::{Test, unindent};

use crate::test::PROBE_SCHEMA as SCHEMA;

/// Three steps; the second's before-hook fails with exit 7 after printing a secret.
fn failing() -> Test {
    Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .deployments(&["a", "b", "c"])
        .write(
            "repo/dev/b/bitops.before-deploy.d/01.sh",
            "echo \"connecting with $API_TOKEN\"\necho 'cannot reach the cluster' >&2\nexit 7\n",
        )
        .env("API_TOKEN", "tok-12345-secret")
}

/// Durations and timestamps vary: replace them.
fn stable(text: &str) -> String {
    let secs = regex::Regex::new(r#""seconds": [0-9.e-]+"#).unwrap();
    let at = regex::Regex::new(r#""(started|finished)_at": "[^"]+""#).unwrap();
    let version = regex::Regex::new(r#""bitops_version": "[^"]+""#).unwrap();
    let t = secs.replace_all(text, r#""seconds": 0"#);
    let t = at.replace_all(&t, r#""${1}_at": "<time>""#);
    version
        .replace_all(&t, r#""bitops_version": "<version>""#)
        .into_owned()
}

#[test]
fn the_json_report_of_a_failed_run() {
    let run = failing()
        .cmd("deploy", "dev")
        .args(&["--report", "out/report.json"])
        .run();
    run.code(7);
    run.stdout_is(
        "
        deployed a
        connecting with *****
        cannot reach the cluster
        ",
    );
    run.stderr_is(
        "
        [1/3] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/3] a ok in <t>
        [2/3] b (plugin probe)
          before hook 01.sh: bash <ws>/dev/b/bitops.before-deploy.d/01.sh
        [2/3] b failed (before hook 01.sh, exit 7) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          2   b           probe   <t> failed (before hook 01.sh, exit 7)
          3   c           probe   -         not run
          1 ok, 1 failed, 1 not run in <t>
        error: before hook 01.sh of `b` failed with exit code 7; the run stopped there (fail_fast)
        ",
    );
    let text = std::fs::read_to_string(run.root.join("out/report.json")).unwrap();
    assert!(
        !text.contains("tok-12345-secret"),
        "the report holds a secret"
    );
    assert_eq!(
        stable(&run.normalize(&text)),
        unindent(
            r#"
            {
              "schema_version": 1,
              "bitops_version": "<version>",
              "environment": "dev",
              "ops_repo": "repo",
              "dry_run": false,
              "started_at": "<time>",
              "seconds": 0,
              "status": "failed",
              "exit_code": 7,
              "problems": [],
              "steps": [
                {
                  "index": 1,
                  "alias": "a",
                  "plugin": "probe",
                  "plugin_source": "<root>/plugins/probe",
                  "status": "ok",
                  "seconds": 0,
                  "started_at": "<time>",
                  "finished_at": "<time>",
                  "parts": [
                    {
                      "kind": "deploy",
                      "name": "deploy script",
                      "command": [
                        "bash",
                        "<root>/plugins/probe/deploy.sh",
                        "plan"
                      ],
                      "outcome": "ok",
                      "exit_code": 0,
                      "seconds": 0
                    }
                  ],
                  "output_tail": [
                    "deployed a"
                  ]
                },
                {
                  "index": 2,
                  "alias": "b",
                  "plugin": "probe",
                  "plugin_source": "<root>/plugins/probe",
                  "status": "failed",
                  "part": "before hook 01.sh",
                  "exit_code": 7,
                  "seconds": 0,
                  "started_at": "<time>",
                  "finished_at": "<time>",
                  "parts": [
                    {
                      "kind": "before_hook",
                      "name": "before hook 01.sh",
                      "command": [
                        "bash",
                        "<ws>/dev/b/bitops.before-deploy.d/01.sh"
                      ],
                      "outcome": "failed",
                      "exit_code": 7,
                      "seconds": 0,
                      "file": "repo/dev/b/bitops.before-deploy.d/01.sh"
                    }
                  ],
                  "output_tail": [
                    "connecting with *****",
                    "cannot reach the cluster"
                  ]
                },
                {
                  "index": 3,
                  "alias": "c",
                  "plugin": "probe",
                  "plugin_source": "",
                  "status": "not_run",
                  "seconds": 0,
                  "parts": [],
                  "output_tail": []
                }
              ]
            }
            "#
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(run.root.join("out/report.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn the_junit_file_has_one_case_per_step() {
    let run = failing()
        .cmd("deploy", "dev")
        .args(&["--junit", "junit.xml"])
        .run();
    run.code(7);
    run.stdout_is(
        "
        deployed a
        connecting with *****
        cannot reach the cluster
        ",
    );
    run.stderr_is(
        "
        [1/3] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/3] a ok in <t>
        [2/3] b (plugin probe)
          before hook 01.sh: bash <ws>/dev/b/bitops.before-deploy.d/01.sh
        [2/3] b failed (before hook 01.sh, exit 7) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          2   b           probe   <t> failed (before hook 01.sh, exit 7)
          3   c           probe   -         not run
          1 ok, 1 failed, 1 not run in <t>
        error: before hook 01.sh of `b` failed with exit code 7; the run stopped there (fail_fast)
        ",
    );
    let xml = std::fs::read_to_string(run.root.join("junit.xml")).unwrap();
    let time = regex::Regex::new(r#" time="[0-9.]+""#).unwrap();
    let xml = time.replace_all(&xml, r#" time="T""#).into_owned();
    let stamp = regex::Regex::new(r#" timestamp="[0-9]{4}-[0-9-]{5}T[0-9:.]{12}\+00:00""#).unwrap();
    let xml = stamp.replace_all(&xml, r#" timestamp="TS""#).into_owned();
    assert_eq!(
        xml,
        unindent(
            r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="bitops" tests="3" skipped="1" failures="1" errors="0" time="T">
                <testsuite name="bitops deploy dev" tests="3" skipped="1" errors="0" failures="1" time="T">
                    <testcase name="a (probe)" classname="bitops.dev" timestamp="TS" time="T">
                        <system-out>deployed a</system-out>
                    </testcase>
                    <testcase name="b (probe)" classname="bitops.dev" timestamp="TS" time="T">
                        <failure message="failed (before hook 01.sh, exit 7)" type="failed"/>
                        <system-out>connecting with *****
            cannot reach the cluster</system-out>
                    </testcase>
                    <testcase name="c (probe)" classname="bitops.dev" time="T">
                        <skipped message="not run: an earlier step failed"/>
                    </testcase>
                </testsuite>
            </testsuites>
            "#
        )
    );
}

#[test]
fn an_invalid_config_still_writes_both_reports() {
    let run = failing()
        .write(
            "repo/dev/c/bitops.config.yaml",
            "probe:\n  cli:\n    name: [x]\n",
        )
        .cmd("deploy", "dev")
        .args(&["--report", "r.json", "--junit", "j.xml"])
        .run();
    run.code(1);
    run.stderr_is(
        "error: repo/dev/c/bitops.config.yaml:3: `probe.cli.name`: must be a single value, found a list\n",
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.root.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "invalid");
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["steps"], serde_json::json!([]));
    assert_eq!(report["problems"][0]["line"], 3);
    assert_eq!(report["problems"][0]["key"], "probe.cli.name");
    let xml = std::fs::read_to_string(run.root.join("j.xml")).unwrap();
    assert!(
        xml.contains(r#"<testcase name="configuration: repo/dev/c/bitops.config.yaml:3" classname="bitops.dev">"#),
        "{xml}"
    );
    assert!(
        xml.contains("must be a single value, found a list"),
        "{xml}"
    );
    assert_eq!(run.log(), "");
}

#[test]
fn an_interrupted_run_writes_its_report_and_exits_130() {
    let t = Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .deployments(&["a", "b"])
        .write("plugins/probe/deploy.sh", "touch \"$STARTED\"\nsleep 30\n");
    let root = t.root().to_path_buf();
    let mut child = t
        .deploy_dev(&["--report", "r.json"])
        .env("STARTED", root.join("started"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !root.join("started").exists() {
        assert!(Instant::now() < deadline, "the deploy script never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["exit_code"], 130);
    assert_eq!(report["steps"][0]["status"], "interrupted");
    assert_eq!(report["steps"][0]["signal"], "SIGINT");
    assert_eq!(report["steps"][1]["status"], "not_run");
    let left = crate::test::leftovers(&root);
    assert!(left.is_empty(), "the workspace was left behind: {left:?}");
    drop(t);
}

#[test]
fn github_actions_get_groups_annotations_and_a_summary() {
    let run = failing()
        .cmd("deploy", "dev")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", "summary.md")
        .run();
    run.code(7);
    assert_eq!(
        run.stderr(),
        "error: before hook 01.sh of `b` failed with exit code 7; the run stopped there (fail_fast)\n"
    );
    run.stdout_is(
        "
        ::group::[1/3] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        deployed a
        [1/3] a ok in <t>
        ::endgroup::
        ::group::[2/3] b (plugin probe)
          before hook 01.sh: bash <ws>/dev/b/bitops.before-deploy.d/01.sh
        connecting with *****
        cannot reach the cluster
        [2/3] b failed (before hook 01.sh, exit 7) after <t>
        ::error file=repo/dev/b/bitops.before-deploy.d/01.sh,title=bitops%3A b failed::b failed (before hook 01.sh, exit 7)
        ::endgroup::
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          2   b           probe   <t> failed (before hook 01.sh, exit 7)
          3   c           probe   -         not run
          1 ok, 1 failed, 1 not run in <t>
        ",
    );
    let summary = std::fs::read_to_string(run.root.join("summary.md")).unwrap();
    let time = regex::Regex::new(r"\| \d+(ms|\.\ds) \|").unwrap();
    assert_eq!(
        time.replace_all(&summary, "| T |"),
        unindent(
            "
            ### bitops deploy `dev`

            | # | deployment | plugin | result | time |
            |---|---|---|---|---|
            | 1 | a | probe | ✅ ok | T |
            | 2 | b | probe | ❌ failed (before hook 01.sh, exit 7) | T |
            | 3 | c | probe | ⏭️ not run | – |

            "
        )
    );
}

#[test]
fn github_annotations_point_at_config_errors() {
    let run = failing()
        .write(
            "repo/dev/c/bitops.config.yaml",
            "probe:\n  cli:\n    name: [x]\n",
        )
        .cmd("deploy", "dev")
        .args(&["--ci", "github"])
        .run();
    run.code(1).stdout_is(
        "::error file=repo/dev/c/bitops.config.yaml,line=3,title=bitops%3A probe.cli.name::must be a single value, found a list\n",
    );
    run.stderr_is(
        "error: repo/dev/c/bitops.config.yaml:3: `probe.cli.name`: must be a single value, found a list\n",
    );
}

#[test]
fn gitlab_gets_collapsible_sections() {
    let run = failing()
        .cmd("deploy", "dev")
        .env("GITLAB_CI", "true")
        .args(&["--only", "a"])
        .run();
    run.code(0);
    let markers = regex::Regex::new(r"\x1b\[0Ksection_(start|end):\d+:").unwrap();
    let stdout = markers
        .replace_all(&run.stdout(), "<section_$1>")
        .replace('\r', "<CR>")
        .replace("\x1b[0K", "<CLEAR>");
    assert_eq!(
        stdout,
        unindent(
            "
            <section_start>bitops_step_1[collapsed=true]<CR><CLEAR>[1/1] a (plugin probe)
              deploy script: bash <root>/plugins/probe/deploy.sh plan
            deployed a
            [1/1] a ok in <t>
            <section_end>bitops_step_1<CR><CLEAR>
            Summary for environment `dev`:
              #   deployment  plugin  time      result
              1   a           probe   <t> ok
              1 ok in <t>
            "
        )
    );
}

#[test]
fn json_log_lines_for_log_shippers() {
    let run = failing()
        .cmd("deploy", "dev")
        .args(&["--log-format", "json", "--only", "b"])
        .run();
    run.code(7);
    let lines: Vec<serde_json::Value> = run
        .stdout_text()
        .lines()
        .chain(run.stderr_text().lines().filter(|l| l.starts_with('{')))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let output: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["stream"] == "output").collect();
    assert_eq!(output[0]["message"], "connecting with *****");
    assert_eq!(output[0]["step"], "b");
    assert_eq!(output[1]["message"], "cannot reach the cluster");
    let failure = lines.iter().find(|l| l["level"] == "error").unwrap();
    assert_eq!(failure["stream"], "bitops");
    assert_eq!(
        failure["message"],
        "[1/1] b failed (before hook 01.sh, exit 7) after ".to_string()
            + failure["message"]
                .as_str()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
    );
    assert!(
        lines
            .iter()
            .all(|l| l["time"].as_str().unwrap().ends_with('Z'))
    );
}

/// Every line of a stream as JSON.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn with_json_logs_every_line_is_json_with_structured_fields() {
    let run = failing()
        .cmd("deploy", "dev")
        .args(&["--log-format", "json"])
        .run();
    run.code(7);
    let err = json_lines(run.stderr_text());
    let out = json_lines(run.stdout_text());
    let finished: Vec<&serde_json::Value> = err
        .iter()
        .chain(&out)
        .filter(|l| l["event"] == "step_finished")
        .collect();
    assert_eq!(finished[0]["step"], "a");
    assert_eq!(finished[0]["status"], "ok");
    assert_eq!(finished[1]["status"], "failed");
    assert_eq!(finished[1]["exit_code"], 7);
    assert!(finished[1]["duration_ms"].is_u64());
    let last = err.last().unwrap();
    assert_eq!(last["event"], "error");
    assert_eq!(last["exit_code"], 7);
    // a configuration error, before anything runs, with its file and line
    let run = failing()
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe:\n  cli: {name: [x]}\n",
        )
        .cmd("deploy", "dev")
        .args(&["--log-format", "json"])
        .run();
    run.code(1).stdout_is("");
    let err = json_lines(run.stderr_text());
    let problem = err.iter().find(|l| l["event"] == "error").unwrap();
    assert_eq!(problem["file"], "repo/dev/a/bitops.config.yaml");
    assert_eq!(problem["line"], 2);
}
