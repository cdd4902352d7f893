//! The run pipeline: one executor that emits events, reporters that write them, masking
//! on values before any escaping, signals caught from the first instruction, read-only
//! commands that write nothing. Each test here is a regression test of a defect.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::{PROBE_SCHEMA, Test, alive, probe_schema, scratch};

/// The probe schema with a secret-named export and an enum, for secrets planted in config.
fn secret_schema() -> String {
    probe_schema(
        "",
        "
        token: {type: string, export_env: API_TOKEN}
        mode: {type: string, enum: [fast, safe]}
        ",
    )
}

fn wait_for(what: impl Fn() -> bool, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !what() {
        assert!(Instant::now() < deadline, "{name} never happened");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// Waits for the child, at most `limit`; kills it and fails the test past that.
fn finish(mut child: Child, limit: Duration) -> (i32, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            return (status.code().unwrap_or(-1), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bitops did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn entries(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn report_status(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["status"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_secret_that_a_hook_writes_into_a_later_steps_config_is_masked() {
    let run = Test::new()
        .probe_plugin("probe", &secret_schema(), &[])
        .write("plugins/probe/deploy.sh", "echo \"token=$API_TOKEN\"\n")
        .deployments(&["a", "b"])
        .write(
            "repo/dev/a/bitops.after-deploy.d/01.sh",
            "printf 'probe:\\n  options:\\n    token: hooked-secret-9876\\n' > \"$BITOPS_ENVROOT/b/bitops.config.yaml\"\n",
        )
        .cmd("deploy", "dev")
        .args(&["--report", "report.json", "--junit", "junit.xml"])
        .run();
    run.code(0).stdout_has("token=*****\n");
    for (what, text) in [
        ("stdout", run.stdout_text().to_string()),
        ("stderr", run.stderr_text().to_string()),
        (
            "report",
            std::fs::read_to_string(run.root.join("report.json")).unwrap(),
        ),
        (
            "junit",
            std::fs::read_to_string(run.root.join("junit.xml")).unwrap(),
        ),
    ] {
        assert!(
            !text.contains("hooked-secret-9876"),
            "{what} shows the secret:\n{text}"
        );
    }
}

/// Two lines, quotes, a backslash and non-ASCII; `SECRETONE`/`SECRETTWO` survive any
/// escaping, so finding either anywhere means the secret leaked.
const NASTY: &str = "Zq\"7'\\x-é-SECRETONE\nSECRETTWO-ü-line";
const NASTY_YAML: &str = "\"Zq\\\"7'\\\\x-é-SECRETONE\\nSECRETTWO-ü-line\"";

fn nasty() -> Test {
    Test::new()
        .probe_plugin("probe", &secret_schema(), &[])
        .write(
            "plugins/probe/deploy.sh",
            "echo \"deploy token=$API_TOKEN\"\necho \"db=$DB_PASSWORD\" >&2\nexit \"${FAIL:-0}\"\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  logging:\n    filename: run\n    path: logs\n  deployments:\n    a: {plugin: probe}\n",
        )
        .write(
            "repo/dev/a/bitops.config.yaml",
            &format!("probe:\n  options:\n    token: {NASTY_YAML}\n"),
        )
        .write("repo/dev/a/bitops.before-deploy.d/01.sh", "echo \"hook $DB_PASSWORD\"\n")
        .write(
            "repo/bad/bitops.config.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe}\n",
        )
        .write(
            "repo/bad/a/bitops.config.yaml",
            &format!("probe:\n  options:\n    mode: {NASTY_YAML}\n"),
        )
        .env("DB_PASSWORD", NASTY)
}

fn assert_clean(what: &str, text: &str) {
    for part in ["SECRETONE", "SECRETTWO"] {
        assert!(!text.contains(part), "{what} shows {part}:\n{text}");
    }
}

#[test]
fn secrets_with_quotes_backslashes_newlines_and_non_ascii_reach_no_surface() {
    let read = |root: &Path, rel: &str| {
        std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    // a deploy in each console format, with every file it writes
    for extra in [
        &["--log-format", "text"][..],
        &["--log-format", "json"],
        &["--ci", "github"],
        &["--ci", "gitlab"],
    ] {
        for fail in ["0", "3"] {
            let t = nasty()
                .env("FAIL", fail)
                .env("GITHUB_STEP_SUMMARY", "summary.md");
            let logs = t.root().join("logs");
            let core = t.root().join("repo/dev/bitops.config.yaml");
            let text = std::fs::read_to_string(&core)
                .unwrap()
                .replace("path: logs", &format!("path: {}", logs.display()));
            std::fs::write(&core, text).unwrap();
            let run = t
                .cmd("deploy", "dev")
                .args(&["--report", "report.json", "--junit", "junit.xml"])
                .args(extra)
                .run();
            run.code(if fail == "0" { 0 } else { 3 });
            let what = format!("deploy {extra:?} exit {fail}");
            assert_clean(&format!("{what} stdout"), run.stdout_text());
            assert_clean(&format!("{what} stderr"), run.stderr_text());
            for file in ["logs/run.log", "report.json", "junit.xml"] {
                let text = read(&run.root, file);
                assert_clean(&format!("{what} {file}"), &text);
                assert!(
                    text.contains("*****"),
                    "{what}: {file} masks nothing:\n{text}"
                );
            }
            if extra[1] == "github" {
                assert_clean(&format!("{what} summary"), &read(&run.root, "summary.md"));
            }
        }
    }
    // plan and validate in both formats; an invalid deploy quoting the value
    for format in ["text", "json"] {
        let run = nasty().cmd("plan", "dev").args(&["--format", format]).run();
        run.code(0);
        assert_clean(&format!("plan {format} stdout"), run.stdout_text());
        assert_clean(&format!("plan {format} stderr"), run.stderr_text());
        assert!(run.stdout_text().contains("*****"), "{}", run.stdout_text());
        let run = nasty()
            .args(&[
                "validate",
                "--all",
                "--ops-repo",
                "repo",
                "--plugins-dir",
                "plugins",
            ])
            .args(&["--format", format])
            .run();
        run.code(1);
        assert_clean(&format!("validate {format} stdout"), run.stdout_text());
        assert_clean(&format!("validate {format} stderr"), run.stderr_text());
        assert!(run.stdout_text().contains("*****"), "{}", run.stdout_text());
    }
    let run = nasty()
        .cmd("deploy", "bad")
        .args(&["--report", "report.json", "--junit", "junit.xml"])
        .run();
    run.code(1).stderr_has("*****");
    assert_clean("invalid deploy stderr", run.stderr_text());
    assert_clean("invalid deploy stdout", run.stdout_text());
    assert_clean("invalid report", &read(&run.root, "report.json"));
    assert_clean("invalid junit", &read(&run.root, "junit.xml"));
}

/// `plan`, `validate`, `list`, `plugins` and `resolve` in a read-only mount of the test
/// folder (which holds HOME, TMPDIR, the state and log folders): they succeed, write
/// nothing and warn of nothing.
#[test]
fn read_only_commands_write_nothing() {
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  logging:\n    filename: run\n    path: LOGS\n  deployments:\n    a: {plugin: probe}\n",
        );
    let root = t.root().to_path_buf();
    let core = root.join("repo/dev/bitops.config.yaml");
    let text = std::fs::read_to_string(&core)
        .unwrap()
        .replace("LOGS", &root.join("logs").to_string_lossy());
    std::fs::write(&core, text).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let before = crate::test::snapshot(&root);
    let common = ["--ops-repo", "repo", "--plugins-dir", "plugins"];
    let commands: Vec<Vec<&str>> = vec![
        vec!["plan", "-e", "dev"],
        vec!["plan", "-e", "dev", "--format", "json"],
        vec!["validate", "-e", "dev"],
        vec!["validate", "--all", "--format", "json"],
        vec!["list"],
        vec!["list", "-e", "dev"],
        vec!["plugins", "--plugins-dir", "plugins"],
        vec!["plugins", "show", "probe", "--plugins-dir", "plugins"],
        vec![
            "resolve",
            "--plugin",
            "probe",
            "--schema",
            "plugins/probe/bitops.schema.yaml",
            "--config",
            "repo/dev/a/bitops.config.yaml",
        ],
    ];
    for args in commands {
        let mut full: Vec<&str> = args.clone();
        if !matches!(args[0], "plugins" | "resolve") {
            full.extend(common);
        }
        // A private mount namespace where the test folder is read-only.
        let script =
            "mount --bind \"$HOLD\" \"$HOLD\" && mount -o remount,bind,ro \"$HOLD\" && exec \"$@\"";
        let mut ro = Command::new("unshare");
        ro.args(["-m", "sh", "-c", script, "sh", env!("CARGO_BIN_EXE_bitops")])
            .args(&full)
            .current_dir(&root)
            .env("HOLD", &root)
            .env("HOME", &root)
            .env("TMPDIR", root.join("tmp"))
            .env("XDG_STATE_HOME", root.join("state"))
            .env_remove("BITOPS_ENVIRONMENT");
        let output = ro.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{full:?}:\n{stderr}");
        assert!(!stderr.contains("warning"), "{full:?} warned:\n{stderr}");
        assert!(
            !stderr.contains("Read-only file system"),
            "{full:?} tried to write:\n{stderr}"
        );
    }
    assert!(
        before == crate::test::snapshot(&root),
        "a read-only command wrote a file"
    );
}

/// A deploy that holds the lock of `dev` until `release` appears.
fn holder() -> Test {
    Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "plugins/probe/deploy.sh",
            "touch \"$HOLD/started\"\nfor i in $(seq 600); do [ -e \"$HOLD/release\" ] && break; sleep 0.05; done\necho deployed\n",
        )
}

/// `deploy -e dev` of the test's repo with `extra` arguments, started in the background
/// with stdout as given and stderr piped.
fn spawn_deploy(t: &Test, extra: &[&str], stdout: Stdio) -> Child {
    let args = deploy_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    t.command(&args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The pid a deploy script wrote to `$HOLD/pid`, once it is there.
fn script_pid(root: &Path) -> String {
    let path = root.join("pid");
    wait_for(
        || std::fs::read_to_string(&path).is_ok_and(|t| t.ends_with('\n')),
        "the deploy script",
    );
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

fn deploy_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "deploy",
        "-e",
        "dev",
        "--ops-repo",
        "repo",
        "--plugins-dir",
        "plugins",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn a_signal_while_waiting_for_the_lock_ends_the_run_with_a_report() {
    let t = holder();
    let root = t.root().to_path_buf();
    let first = spawn_deploy(&t, &[], Stdio::null());
    wait_for(|| root.join("started").exists(), "the first deploy");
    let workspaces = entries(&scratch(&root), "bitops-").len();
    for (signal, code) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let report = format!("report-{signal}.json");
        let second = spawn_deploy(
            &t,
            &["--wait-lock", "60s", "--report", &report],
            Stdio::null(),
        );
        std::thread::sleep(Duration::from_millis(600));
        let sent = Instant::now();
        kill(second.id(), signal);
        let (got, stderr) = finish(second, Duration::from_secs(10));
        assert_eq!(got, code, "SIG{signal}:\n{stderr}");
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "SIG{signal} took {:?}",
            sent.elapsed()
        );
        assert_eq!(
            report_status(&root.join(&report)),
            "interrupted",
            "SIG{signal}"
        );
        assert_eq!(
            entries(&scratch(&root), "bitops-").len(),
            workspaces,
            "SIG{signal}"
        );
    }
    std::fs::write(root.join("release"), "").unwrap();
    let (code, _) = finish(first, Duration::from_secs(30));
    assert_eq!(code, 0);
}

/// An environment whose staging copies many files, so that a signal lands in it.
fn big_repo() -> Test {
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"]);
    let data = t.root().join("repo/dev/a/data");
    for i in 0..40 {
        let dir = data.join(format!("d{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for j in 0..500 {
            std::fs::write(dir.join(format!("f{j}.txt")), "some data\n").unwrap();
        }
    }
    t
}

#[test]
fn sigterm_during_staging_removes_the_workspace_and_writes_the_report() {
    let t = big_repo();
    let root = t.root().to_path_buf();
    let child = spawn_deploy(&t, &["--report", "report.json"], Stdio::null());
    let tmp = scratch(&root);
    wait_for(
        || {
            entries(&tmp, "bitops-")
                .iter()
                .any(|n| !n.starts_with("bitops-plugins-"))
        },
        "the workspace",
    );
    kill(child.id(), "TERM");
    let (code, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert_eq!(
        entries(&tmp, "bitops-"),
        Vec::<String>::new(),
        "the workspace was left"
    );
    assert_eq!(report_status(&root.join("report.json")), "interrupted");
    assert!(
        !root.join("log.txt").exists(),
        "the deploy script ran after SIGTERM"
    );
}

#[test]
fn sigterm_during_install_leaves_no_staging_folder() {
    let t = Test::new().write("plugin-src/probe/deploy.sh", "echo deployed\n");
    let data = t.root().join("plugin-src/probe/data");
    for i in 0..40 {
        let dir = data.join(format!("d{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for j in 0..500 {
            std::fs::write(dir.join(format!("f{j}.txt")), "some data\n").unwrap();
        }
    }
    let source = format!("file://{}", t.root().join("plugin-src/probe").display());
    let t = t.write(
        "install.yaml",
        &format!("bitops:\n  plugins:\n    probe:\n      source: {source}\n"),
    );
    let root = t.root().to_path_buf();
    let installed = root.join("installed");
    std::fs::create_dir_all(&installed).unwrap();
    let child = t
        .command(&[
            "install",
            "-c",
            "install.yaml",
            "--plugins-dir",
            "installed",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        || !entries(&installed, ".bitops-install-").is_empty(),
        "the install staging folder",
    );
    kill(child.id(), "TERM");
    let (code, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(
        entries(&installed, ""),
        Vec::<String>::new(),
        "install left files"
    );
}

#[test]
fn sighup_mid_step_stops_the_step_and_releases_the_lock() {
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "plugins/probe/deploy.sh",
            "echo $$ > \"$HOLD/pid\"\nfor i in $(seq 600); do sleep 0.05; done\n",
        );
    let root = t.root().to_path_buf();
    let child = spawn_deploy(
        &t,
        &["--grace-period", "2s", "--report", "report.json"],
        Stdio::null(),
    );
    let pid = script_pid(&root);
    kill(child.id(), "HUP");
    let (code, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 129, "{stderr}");
    assert!(stderr.contains("interrupted by SIGHUP"), "{stderr}");
    assert!(!alive(&pid), "the deploy script {pid} outlived bitops");
    assert_eq!(report_status(&root.join("report.json")), "interrupted");
    // the lock is free: a second deploy does not wait
    std::fs::write(root.join("plugins/probe/deploy.sh"), "echo again\n").unwrap();
    let args = deploy_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = t.command(&args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_stalled_stdout_does_not_stop_timeouts() {
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe, timeout: 2s}\n",
        )
        .write("repo/dev/a/bitops.config.yaml", "probe: {}\n")
        .write(
            "plugins/probe/deploy.sh",
            "echo $$ > \"$HOLD/pid\"\nhead -c 4000000 /dev/zero | tr '\\0' x | fold -w 100\nfor i in $(seq 600); do sleep 0.05; done\n",
        );
    let root = t.root().to_path_buf();
    let args = deploy_args(&["--grace-period", "1s"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // stdout is a pipe nobody reads for 6 s
    let mut child = t
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = script_pid(&root);
    std::thread::sleep(Duration::from_secs(6));
    let stopped = !alive(&pid);
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let (code, _) = finish(child, Duration::from_secs(20));
    assert!(
        stopped,
        "the 2 s timeout did not stop the step while stdout was not read"
    );
    assert_eq!(code, 124);
}

#[test]
fn a_closed_stdout_keeps_the_steps_exit_code() {
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "plugins/probe/deploy.sh",
            "for i in $(seq 2000); do echo \"line $i of output\"; done\nexit 3\n",
        );
    let bin = env!("CARGO_BIN_EXE_bitops");
    let script = format!(
        "\"{bin}\" deploy -e dev --ops-repo repo --plugins-dir plugins 2>&1 | head -c 0; echo \"exit=${{PIPESTATUS[0]}}\""
    );
    std::fs::create_dir_all(t.root().join("tmp")).unwrap();
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(t.root())
        .env("TMPDIR", t.root().join("tmp"))
        .env("HOME", t.root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "exit=3",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn debug_shows_where_each_value_came_from_and_error_hides_progress() {
    let t = || {
        Test::new()
            .probe_plugin("probe", &secret_schema(), &[])
            .deployments(&["a"])
            .write(
                "repo/dev/a/bitops.config.yaml",
                "probe:\n  cli:\n    name: web\n  options:\n    token: tok-from-config-123\n",
            )
            .hook("repo/dev/a/bitops.before-deploy.d/01.sh")
    };
    let run = t()
        .cmd("deploy", "dev")
        .args(&["--log-level", "DEBUG"])
        .run();
    run.code(0)
        .stderr_has("DEBUG a: cli.name = web (from repo/dev/a/bitops.config.yaml:3)")
        .stderr_has("DEBUG a: options.token = ***** (from repo/dev/a/bitops.config.yaml:5)")
        .stderr_has("  before hook 01.sh: bash <ws>/dev/a/bitops.before-deploy.d/01.sh\n")
        .stderr_has(&format!(
            "spawn {} <ws>/dev/a/bitops.before-deploy.d/01.sh in <ws>/dev/a",
            which_bash()
        ))
        .stderr_has("DEBUG stage repo/dev/a/bitops.config.yaml")
        .stderr_lacks("tok-from-config-123");
    run.stdout_is("deployed a\n");
    let run = t()
        .cmd("deploy", "dev")
        .args(&["--log-level", "ERROR"])
        .run();
    run.code(0).stdout_is("deployed a\n").stderr_is("");
    // WARNING (BitOps' image default): warnings, errors and the summary; no step headers,
    // commands or notices.
    let run = t()
        .write("repo/dev/a/bitops.config.yaml", "probe:\n  cli:\n    name: web\n    colour: x\n  options:\n    token: tok-from-config-123\n")
        .cmd("deploy", "dev")
        .args(&["--log-level", "WARNING"])
        .run();
    run.code(0).stdout_is("deployed a\n").stderr_is(
        "
        warning: repo/dev/a/bitops.config.yaml:4: `probe.cli.colour`: unknown key: the plugin's schema does not define it; it is ignored
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> ok
          1 ok in <t>
        ",
    );
    let run = t()
        .write("plugins/probe/deploy.sh", "echo broken; exit 4\n")
        .cmd("deploy", "dev")
        .args(&["--log-level", "ERROR"])
        .run();
    run.code(4)
        .stdout_is("broken\n")
        .stderr_lacks("[1/1] a (plugin probe)")
        .stderr_has("[1/1] a failed (deploy script, exit 4)")
        .stderr_has("error: deploy script of `a` failed with exit code 4");
}

/// Where `bash` is on this PATH, as bitops resolves it.
fn which_bash() -> String {
    let out = Command::new("sh")
        .args(["-c", "command -v bash"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_quiet_step_gets_a_heartbeat() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write("plugins/probe/deploy.sh", "sleep 2.5\necho done\n")
        .cmd("deploy", "dev")
        .args(&["--heartbeat", "1s"])
        .run();
    run.code(0).stdout_is("done\n");
    let beats = run.stderr().matches("  … still running (").count();
    assert!(
        (1..=3).contains(&beats),
        "{beats} heartbeats:\n{}",
        run.stderr()
    );
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write("plugins/probe/deploy.sh", "sleep 1.5\necho done\n")
        .cmd("deploy", "dev")
        .args(&["--heartbeat", "0"])
        .run();
    run.code(0)
        .stdout_is("done\n")
        .stderr_lacks("still running");
}

#[test]
fn waiting_for_the_lock_says_who_holds_it() {
    let t = holder();
    let root = t.root().to_path_buf();
    let first = spawn_deploy(&t, &[], Stdio::null());
    wait_for(|| root.join("started").exists(), "the first deploy");
    let second = spawn_deploy(&t, &["--wait-lock", "1s"], Stdio::null());
    let (code, stderr) = finish(second, Duration::from_secs(20));
    assert_eq!(code, 75, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "waiting for the lock of `dev`: pid {} on ",
            first.id()
        )),
        "{stderr}"
    );
    std::fs::write(root.join("release"), "").unwrap();
    let (code, _) = finish(first, Duration::from_secs(30));
    assert_eq!(code, 0);
}

/// The peak resident memory (`VmHWM`) of a running process, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_reader_that_stops_reading_holds_the_step_back_and_nothing_is_lost() {
    // 70 MB of output, while bitops' stdout is not read for a second: the step waits
    // for the terminal (as on a pipe) instead of bitops holding what it printed.
    const LINE: &str = "a line of output that nobody reads for a while";
    const LINES: usize = 1_500_000;
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "plugins/probe/deploy.sh",
            &format!("yes '{LINE}' | head -n {LINES}\n"),
        );
    let mut child = spawn_deploy(&t, &[], Stdio::piped());
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let stalled = peak_kib(pid).expect("bitops is running");
    let mut peak = stalled;
    let mut total = 0usize;
    let mut last = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        last = buf[..n].to_vec();
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
    }
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(total, (LINE.len() + 1) * LINES, "output lost or added");
    assert!(
        last.ends_with(format!("{LINE}\n").as_bytes()),
        "the end of the output: {:?}",
        String::from_utf8_lossy(&last)
    );
    // The output waiting for the terminal is bounded (1 MiB) whatever the step prints;
    // without that bound, bitops held the 70 MB it could not write.
    assert!(
        peak < 32 * 1024,
        "bitops peaked at {peak} KiB while its stdout was not read"
    );
}

#[test]
fn removing_the_lock_file_of_a_running_deploy_lets_no_second_one_run() {
    let t = holder();
    let root = t.root().to_path_buf();
    let first = spawn_deploy(&t, &[], Stdio::null());
    wait_for(|| root.join("started").exists(), "the first deploy");
    // Whoever removes the lock files of running deploys (a cleaner, a script).
    let state = root.join(".local/state/bitops");
    let mut removed = 0;
    for entry in std::fs::read_dir(&state).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "lock") {
            std::fs::remove_file(entry.path()).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 1, "one lock file in {}", state.display());
    std::fs::remove_file(root.join("started")).unwrap();
    let second = spawn_deploy(&t, &[], Stdio::null());
    let (code, stderr) = finish(second, Duration::from_secs(20));
    assert_eq!(code, 75, "{stderr}");
    assert!(
        stderr.contains("is being deployed by another bitops process, whose lock file was removed or replaced while it held it"),
        "{stderr}"
    );
    assert!(
        !root.join("started").exists(),
        "the second deploy ran its step"
    );
    std::fs::write(root.join("release"), "").unwrap();
    let (code, _) = finish(first, Duration::from_secs(30));
    assert_eq!(code, 0);
    // Released: the next deploy runs.
    let third = spawn_deploy(&t, &[], Stdio::null());
    let (code, stderr) = finish(third, Duration::from_secs(30));
    assert_eq!(code, 0, "{stderr}");
}
