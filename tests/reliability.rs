//! Reliability and security: the deploy lock, secrets, hostile input, immutability.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::{PROBE_SCHEMA as SCHEMA, Test, alive, probe_schema, unindent};

fn wait_for(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_deploy_per_environment_at_a_time() {
    let t = Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .deployments(&["a"])
        .write("repo/prod/bitops.config.yaml", "bitops:\n  deployments:\n    a: {plugin: probe}\n")
        .write("repo/prod/a/bitops.config.yaml", "probe: {}\n")
        // the first run holds the lock until the test creates `release`
        .write("plugins/probe/deploy.sh", "if [ \"$BITOPS_ENVIRONMENT\" = dev ] && [ -n \"${HOLD:-}\" ]; then touch \"$HOLD/started\"; for i in $(seq 600); do [ -e \"$HOLD/release\" ] && break; sleep 0.05; done; fi\necho \"deployed $BITOPS_ENVIRONMENT\"\n");
    let root = t.root().to_path_buf();
    let bitops = |args: &[&str]| {
        let mut c = t.command(args);
        c.args(["--ops-repo", "repo", "--plugins-dir", "plugins"]);
        c
    };
    let mut first = bitops(&["deploy", "-e", "dev"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&root.join("started"));
    // a second deploy of dev fails at once, naming the holder
    let started = Instant::now();
    let second = bitops(&["deploy", "-e", "dev"]).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains(&format!("is being deployed by pid {} on ", first.id())),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: wait for it to finish, or pass --wait-lock 10m to wait"),
        "{stderr}"
    );
    // other environments, plan and validate are not blocked
    assert!(
        bitops(&["deploy", "-e", "prod"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        bitops(&["plan", "-e", "dev"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        bitops(&["validate", "-e", "dev"])
            .output()
            .unwrap()
            .status
            .success()
    );
    // --wait-lock waits for the first run to finish
    let waiting = bitops(&["deploy", "-e", "dev", "--wait-lock", "30s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(root.join("release"), "").unwrap();
    assert!(first.wait().unwrap().success());
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "deployed dev\n");
    drop(t);
}

#[test]
fn the_lock_of_a_killed_run_is_held_by_its_orphaned_step_then_taken_over() {
    let t = Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe}\n",
        )
        .write("repo/dev/a/bitops.config.yaml", "probe: {}\n")
        .write(
            "plugins/probe/deploy.sh",
            "if [ -n \"${HOLD:-}\" ] && [ ! -e \"$HOLD/started\" ]; then echo $$ > \"$HOLD/pid\"; touch \"$HOLD/started\"; sleep 30; fi\necho deployed\n",
        );
    let root = t.root().to_path_buf();
    let mut first = t
        .deploy_dev(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&root.join("started"));
    first.kill().unwrap(); // SIGKILL: no clean-up at all
    first.wait().unwrap();
    // the orphaned deploy script still runs, and still holds the lock
    let pid = std::fs::read_to_string(root.join("pid"))
        .unwrap()
        .trim()
        .to_string();
    let second = t.deploy_dev(&[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "is being deployed by processes that pid {} started",
            first.id()
        )),
        "{stderr}"
    );
    // once it has ended, the lock is taken over
    assert!(
        Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while crate::test::alive(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = t.cmd("deploy", "dev").run();
    run.code(0).stdout_is("deployed\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
    ));
}

/// `PROBE_SCHEMA` with a secret in `options.password`.
fn secret_schema() -> String {
    probe_schema("", "password: {type: string, export_env: SERVICE_PASSWORD}")
}

/// Every kind of secret bitops knows, and a run that prints each of them every way.
fn planted() -> Test {
    Test::new()
        .probe_plugin("probe", &secret_schema(), &["SERVICE_PASSWORD", "BITOPS_PROBE_CLI"])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  logging:\n    filename: run\n    path: LOGS\n    secret_env: [DB_URL]\n    masks:\n      - {search: 'pin=\\d+', replace: 'pin=<hidden>'}\n  deployments:\n    a: {plugin: probe}\n",
        )
        .write("repo/dev/a/bitops.config.yaml", "probe:\n  options:\n    password: pw-from-config-77\n")
        .write(
            "repo/dev/a/bitops.before-deploy.d/01.sh",
            "echo \"aws $AWS_SECRET_ACCESS_KEY kube $KUBECONFIG_BASE64\"\necho \"token $API_TOKEN db $DB_URL pin=4242\" >&2\necho \"config $SERVICE_PASSWORD\"\nprintf 'split wJalr'; sleep 0.3; printf 'XUtnFEMI-K7MDENG\\n'\n",
        )
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-K7MDENG")
        .env("KUBECONFIG_BASE64", "a3ViZWNvbmZpZy1zZWNyZXQ=")
        .env("API_TOKEN", "ghp-token-0123456789")
        .env("DB_URL", "postgres://u:dbpass-42@db/x")
}

const SECRETS: &[&str] = &[
    "wJalrXUtnFEMI-K7MDENG",
    "a3ViZWNvbmZpZy1zZWNyZXQ=",
    "ghp-token-0123456789",
    "postgres://u:dbpass-42@db/x",
    "pw-from-config-77",
    "4242",
];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
    }
}

#[test]
fn secrets_never_reach_any_output() {
    let t = planted();
    let logs = t.root().join("logs");
    let core = t.root().join("repo/dev/bitops.config.yaml");
    let text = std::fs::read_to_string(&core)
        .unwrap()
        .replace("LOGS", &logs.to_string_lossy());
    std::fs::write(&core, text).unwrap();
    let run = t
        .cmd("deploy", "dev")
        .args(&["--report", "report.json", "--junit", "junit.xml"])
        .run();
    run.code(0);
    assert_clean("stdout", run.stdout_text());
    assert_clean("stderr", run.stderr_text());
    for file in ["logs/run.log", "report.json", "junit.xml"] {
        let text = std::fs::read_to_string(run.root.join(file)).unwrap();
        assert_clean(file, &text);
        assert!(text.contains("*****"), "{file} masks nothing:\n{text}");
    }
    // each one was printed, masked
    run.stdout_has("aws ***** kube *****\n")
        .stdout_has("token ***** db ***** pin=<hidden>\n")
        .stdout_has("config *****\n")
        // a secret written in two pieces, across two reads of the pipe
        .stdout_has("split *****\n");
}

#[test]
fn secrets_never_reach_plan_output() {
    for format in ["text", "json"] {
        let run = planted()
            .cmd("plan", "dev")
            .args(&["--format", format])
            .env("BITOPS_PROBE_NAME", "ghp-token-0123456789")
            .run();
        run.code(0);
        assert_clean("plan stdout", run.stdout_text());
        assert_clean("plan stderr", run.stderr_text());
        assert!(run.stdout_text().contains("*****"), "{}", run.stdout_text());
    }
}

/// A deploy script that ignores SIGTERM and leaves a background grandchild.
fn stubborn() -> Test {
    Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "plugins/probe/deploy.sh",
            "trap '' TERM\n(trap '' TERM; sleep 120) &\necho $! > \"$HOLD/grandchild\"\ntouch \"$HOLD/started\"\n# bounded, should a failing test leave it behind\nfor i in $(seq 600); do sleep 0.1; done\n",
        )
}

fn spawn_stubborn(t: &Test, grace: &str) -> std::process::Child {
    let args = [
        "deploy",
        "-e",
        "dev",
        "--ops-repo",
        "repo",
        "--plugins-dir",
        "plugins",
        "--grace-period",
        grace,
    ];
    t.command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sigterm_stops_the_group_after_the_grace_period_and_nothing_survives() {
    let t = stubborn();
    let child = spawn_stubborn(&t, "1s");
    wait_for(&t.root().join("started"));
    let grandchild = std::fs::read_to_string(t.root().join("grandchild"))
        .unwrap()
        .trim()
        .to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // TERM was ignored: bitops waited the 1 s grace period, then killed the group
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: interrupted by SIGTERM"), "{stderr}");
    // The summary counts the step as interrupted, not as failed.
    assert!(
        stderr.contains("\n  1 interrupted in ") && !stderr.contains(" failed"),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !alive(&grandchild),
        "the grandchild {grandchild} survived bitops"
    );
    assert_eq!(
        crate::test::leftovers(t.root()),
        Vec::<std::path::PathBuf>::new(),
        "the workspace was left"
    );
}

#[test]
fn a_second_signal_kills_at_once() {
    let t = stubborn();
    let child = spawn_stubborn(&t, "60s");
    wait_for(&t.root().join("started"));
    let grandchild = std::fs::read_to_string(t.root().join("grandchild"))
        .unwrap()
        .trim()
        .to_string();
    let pid = child.id().to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "did not kill at once: {:?}",
        sent.elapsed()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !alive(&grandchild),
        "the grandchild {grandchild} survived bitops"
    );
}

#[test]
fn the_ops_repo_is_unchanged_by_hooks_that_edit_delete_and_create_on_success_and_failure() {
    for (last_hook, code) in [("exit 0\n", 0), ("exit 9\n", 9)] {
        let t = Test::new()
            .probe_plugin("probe", SCHEMA, &[])
            .write("repo/dev/bitops.config.yaml", "bitops:\n  deployments:\n    a: {plugin: probe}\n")
            .write("repo/dev/a/bitops.config.yaml", "probe:\n  cli: {name: a}\n")
            .write("repo/dev/a/main.tf", "# terraform\n")
            .write("repo/dev/a/old.txt", "old\n")
            .write("repo/_default/a/defaults.yaml", "x: 1\n")
            .write(
                "repo/dev/a/bitops.before-deploy.d/01-edit.sh",
                "echo 'probe: {cli: {name: edited}}' > bitops.config.yaml\necho changed >> main.tf\nrm old.txt\necho new > new.txt\nmkdir -p made/deep && echo x > made/deep/f\nrm -rf bitops.before-deploy.d/../made/deep\necho z >> \"$BITOPS_ENVROOT/bitops.config.yaml\"\nchmod 000 main.tf\n",
            )
            .write("repo/dev/a/bitops.after-deploy.d/99-last.sh", last_hook);
        let snapshot_before = crate::test::snapshot(&t.root().join("repo"));
        // the harness also compares the whole repo, file modes included, after every run
        let run = t.cmd("deploy", "dev").run();
        let steps = "
            [1/1] a (plugin probe)
              before hook 01-edit.sh: bash <ws>/dev/a/bitops.before-deploy.d/01-edit.sh
              deploy script: bash <root>/plugins/probe/deploy.sh plan
              after hook 99-last.sh: bash <ws>/dev/a/bitops.after-deploy.d/99-last.sh
        ";
        let result = if code == 0 {
            "
            [1/1] a ok in <t>
            Summary for environment `dev`:
              #   deployment  plugin  time      result
              1   a           probe   <t> ok
              1 ok in <t>
            "
        } else {
            "
            [1/1] a failed (after hook 99-last.sh, exit 9) after <t>
            Summary for environment `dev`:
              #   deployment  plugin  time      result
              1   a           probe   <t> failed (after hook 99-last.sh, exit 9)
              1 failed in <t>
            error: after hook 99-last.sh of `a` failed with exit code 9; the run stopped there (fail_fast)
            "
        };
        run.code(code).stdout_is("deployed a\n").stderr_is(&format!(
            "{}{}",
            unindent(steps),
            unindent(result)
        ));
        assert!(snapshot_before == crate::test::snapshot(&run.root.join("repo")));
    }
}

#[test]
fn workspace_state_and_log_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let run = Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .write("repo/dev/bitops.config.yaml", "bitops:\n  logging: {filename: run, path: logs}\n  deployments:\n    a: {plugin: probe}\n")
        .write("repo/dev/a/bitops.config.yaml", "probe: {}\n")
        .cmd("deploy", "dev")
        .args(&["--keep-workspace", "--state-dir", "state"])
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(
        "
        [1/1] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/1] a ok in <t>
        workspace kept at <ws>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          1 ok in <t>
        ",
    );
    let ws = run.workspaces();
    assert_eq!(mode(&ws[0]), 0o700);
    assert_eq!(mode(&run.root.join("state")), 0o700);
    let lock = std::fs::read_dir(run.root.join("state"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&lock), 0o600);
    assert_eq!(mode(&run.root.join("logs/run.log")), 0o600);
}
