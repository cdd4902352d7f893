//! `bitops agent` with real processes: a bare git repository made in the test as the
//! remote, the agent deploying from it (`--no-hub`), its secrets, the instance metadata
//! from a fake IMDS endpoint on 127.0.0.1, and stop signals. Every wait polls with a
//! generous deadline.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::{Test, probe_schema};

/// The deploy script: logs the step's alias, the `version` file of its tool folder (it
/// changes with each commit) and `DB_PASS`, and prints the version; with a `hang` file it
/// waits for TERM (logged) instead of ending.
const SCRIPT: &str = r#"
echo "$BITOPS_DEPLOYMENT_ALIAS version=$(cat version) DB_PASS=${DB_PASS-<unset>}" >> "$PROBE_LOG"
echo "deployed $(cat version) with DB_PASS=${DB_PASS-<unset>}"
if [ -e hang ]; then
  trap 'echo "$BITOPS_DEPLOYMENT_ALIAS got TERM" >> "$PROBE_LOG"; exit 143' TERM
  echo "$BITOPS_DEPLOYMENT_ALIAS waiting" >> "$PROBE_LOG"
  sleep 60 & wait
fi
"#;

/// A test folder with the probe plugin, and `remote.git`: a bare repository whose
/// `main` holds environment `dev` (one deployment `a`, `version` = `v1`).
fn setup() -> Test {
    let t = Test::new()
        .write("plugins/probe/bitops.schema.yaml", &probe_schema("", ""))
        .write("plugins/probe/deploy.sh", SCRIPT)
        .write(
            "work/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe}\n",
        )
        .write("work/dev/a/bitops.config.yaml", "probe: {}\n")
        .write("work/dev/a/version", "v1\n");
    let root = t.root().to_path_buf();
    git(&root, &["init", "-q", "--bare", "remote.git"]);
    git(&root, &["init", "-q", "-b", "main", "work"]);
    commit(&root, "v1");
    t
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `version` into the work tree, commits and pushes `main`; the commit id.
fn commit(root: &Path, version: &str) -> String {
    std::fs::write(root.join("work/dev/a/version"), format!("{version}\n")).unwrap();
    let work = root.join("work");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", version]);
    git(&work, &["push", "-q", "../remote.git", "main"]);
    git(&work, &["rev-parse", "HEAD"])
}

/// `agent --no-hub` from `remote.git` deploying `dev`, with `extra`.
fn agent_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "agent",
        "--no-hub",
        "--repo",
        "remote.git",
        "-e",
        "dev",
        "--state-dir",
        "state",
        "--plugins-dir",
        "plugins",
        "--metadata-url",
        "none",
        "--poll",
        "200ms",
    ];
    args.extend_from_slice(extra);
    args
}

fn log(root: &Path) -> String {
    std::fs::read_to_string(root.join("log.txt")).unwrap_or_default()
}

/// Waits until the probe log holds `part`.
fn wait_log(root: &Path, part: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log(root).contains(part) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the agent ended ({status}) before the log had {part:?}:\n{}",
                log(root)
            );
        }
        assert!(
            Instant::now() < deadline,
            "the log never had {part:?}:\n{}",
            log(root)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child to end (at most a minute); its exit code, stdout and stderr.
fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the agent did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), out, err)
}

/// The agent as a process of its own; it never outlives the test thread (a failed test
/// leaves nothing running).
fn spawn(t: &Test, args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = t.command(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: prctl only.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

fn sigterm(child: &Child) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

#[test]
fn no_hub_once_deploys_the_head_of_the_branch_and_exits_with_its_code() {
    let t = setup();
    let head = git(&t.root().join("work"), &["rev-parse", "HEAD"]);
    let run = t.args(&agent_args(&["--once"])).run();
    run.code(0);
    run.stdout_is("deployed v1 with DB_PASS=<unset>\n");
    let stderr = run.stderr();
    assert!(
        stderr.starts_with(&format!(
            "bitops agent: following remote.git branch main, deploying environment dev once\nbitops agent: deploying dev at {head}\n[1/1] a (plugin probe)\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("bitops agent: dev at {head}: succeeded\n")),
        "{stderr}"
    );
    run.log_is("a version=v1 DB_PASS=<unset>\n");
    // The state folder is private; the commit was checked out there, not elsewhere.
    let mode = std::fs::metadata(run.root.join("state"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    // A failing deploy: --once exits with its exit code.
    let t = setup().write("plugins/probe/deploy.sh", "echo broken; exit 7\n");
    let run = t.args(&agent_args(&["--once"])).run();
    run.code(7);
    run.stdout_is("broken\n");
    run.stderr_has("failed (exit 7); the next commit will be deployed\n");
}

#[test]
fn a_new_commit_is_deployed_at_the_next_poll_and_sigterm_stops_the_agent() {
    let t = setup();
    let root = t.root().to_path_buf();
    let mut child = spawn(&t, &agent_args(&[]));
    wait_log(&root, "a version=v1", &mut child);
    let second = commit(&root, "v2");
    wait_log(&root, "a version=v2", &mut child);
    // Deployed once each: polls in between found nothing new.
    std::thread::sleep(Duration::from_millis(600));
    sigterm(&child);
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(143), "{err}");
    assert_eq!(
        log(&root),
        "a version=v1 DB_PASS=<unset>\na version=v2 DB_PASS=<unset>\n"
    );
    assert_eq!(
        out,
        "deployed v1 with DB_PASS=<unset>\ndeployed v2 with DB_PASS=<unset>\n"
    );
    assert!(
        err.contains(&format!("bitops agent: dev at {second}: succeeded\n")),
        "{err}"
    );
    assert!(err.ends_with("bitops agent: stopped by SIGTERM\n"), "{err}");
    // A restarted agent remembers what it deployed: nothing runs again.
    let mut child = spawn(&t, &agent_args(&[]));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("following") {
        assert!(Instant::now() < deadline);
        let mut buf = [0u8; 256];
        let n = stderr.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    std::thread::sleep(Duration::from_millis(800));
    sigterm(&child);
    child.stderr = Some(stderr);
    let (code, out, _) = finish(child);
    assert_eq!(code, Some(143));
    assert_eq!(out, "");
    assert_eq!(log(&root).lines().count(), 2, "{}", log(&root));
}

#[test]
fn tag_follows_the_newest_matching_tag_in_version_order() {
    let t = setup();
    let root = t.root().to_path_buf();
    let work = root.join("work");
    git(&work, &["tag", "v1.9"]);
    commit(&root, "v2");
    git(&work, &["tag", "-a", "-m", "release", "v1.10"]);
    commit(&root, "v3");
    git(&work, &["tag", "release-99"]);
    git(&work, &["push", "-q", "--tags", "../remote.git"]);
    let run = t.args(&agent_args(&["--tag", "v*", "--once"])).run();
    run.code(0);
    run.stdout_is("deployed v2 with DB_PASS=<unset>\n");
    run.stderr_has("following remote.git tags v*, deploying environment dev once\n");
    run.log_is("a version=v2 DB_PASS=<unset>\n");

    let run = setup().args(&agent_args(&["--tag", "x*", "--once"])).run();
    run.code(1);
    run.stdout_is("");
    run.stderr_has("bitops agent: remote.git has no tag matching `x*`\n");
}

#[test]
fn secrets_must_be_owner_only_and_are_masked_everywhere() {
    const SECRET: &str = "hunter2-very-secret";
    let t = setup().write(
        "secrets.env",
        &format!("# the agent's own\nDB_PASS={SECRET}\n"),
    );
    std::fs::set_permissions(
        t.root().join("secrets.env"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let run = t
        .args(&agent_args(&["--once", "--secrets", "secrets.env"]))
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is(
        "error: the secrets secrets.env have mode 0644, readable or writable by others: they must be owner-only (0600 or 0400)\n  hint: chmod 600 secrets.env\n",
    );
    assert_eq!(run.log(), "");

    let t = setup().write(
        "secrets.env",
        &format!("# the agent's own\nDB_PASS={SECRET}\n"),
    );
    std::fs::set_permissions(
        t.root().join("secrets.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let run = t
        .args(&agent_args(&[
            "--once",
            "--secrets",
            "secrets.env",
            "--log-level",
            "DEBUG",
        ]))
        .run();
    run.code(0);
    // The step had it; nothing the agent printed or kept does.
    run.log_is(&format!("a version=v1 DB_PASS={SECRET}\n"));
    run.stdout_is("deployed v1 with DB_PASS=*****\n");
    run.stderr_has("bitops agent: DEBUG secrets: DB_PASS\n");
    run.output_lacks(SECRET);
    let report = std::fs::read_to_string(run.root.join("state/last-report.json")).unwrap();
    assert!(report.contains("DB_PASS=*****"), "{report}");
    for entry in walkdir::WalkDir::new(run.root.join("state")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(SECRET),
                "{} holds the secret",
                entry.path().display()
            );
        }
    }

    // A folder: 0700, one file per variable.
    let t = setup().write("secrets/DB_PASS", &format!("{SECRET}\n"));
    let dir = t.root().join("secrets");
    std::fs::set_permissions(dir.join("DB_PASS"), std::fs::Permissions::from_mode(0o400)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = t
        .args(&agent_args(&["--once", "--secrets", "secrets"]))
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_has("error: the secrets secrets have mode 0755, readable or writable by others: they must be owner-only (0700 or 0500)\n  hint: chmod 700 secrets\n");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_secrets_folder_gives_one_variable_per_file() {
    const SECRET: &str = "folder-secret-value";
    let t = setup().write("secrets/DB_PASS", &format!("{SECRET}\n"));
    let dir = t.root().join("secrets");
    std::fs::set_permissions(dir.join("DB_PASS"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = t
        .args(&agent_args(&["--once", "--secrets", "secrets"]))
        .run();
    run.code(0);
    run.log_is(&format!("a version=v1 DB_PASS={SECRET}\n"));
    run.stdout_is("deployed v1 with DB_PASS=*****\n");
    run.stderr_any("the run's narration, checked in other tests");
    run.output_lacks(SECRET);
}

/// A fake EC2 instance metadata endpoint (IMDSv2) on 127.0.0.1: the token for a PUT with
/// a TTL header, the identity document for a GET with that token. `silent`: accepts
/// connections and never answers.
fn fake_imds(silent: bool) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        // The token, the document, the tag keys and each tag's value.
        while Instant::now() < deadline && seen.len() < 5 {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            if silent {
                held.push(conn);
                seen.push("held".into());
                continue;
            }
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let first = text.lines().next().unwrap_or_default().to_string();
            let body = if first.starts_with("put /latest/api/token")
                && text.contains("x-aws-ec2-metadata-token-ttl-seconds: 60")
            {
                Some("TOKEN-abc".to_string())
            } else if first.starts_with("get /latest/dynamic/instance-identity/document")
                && text.contains("x-aws-ec2-metadata-token: token-abc")
            {
                Some(
                    r#"{"accountId": "123456789012", "availabilityZone": "eu-west-1b", "instanceId": "i-0abc", "instanceType": "t3.micro", "region": "eu-west-1", "imageId": "ami-1"}"#
                        .to_string(),
                )
            } else if first.starts_with("get /latest/meta-data/tags/instance ")
                && text.contains("x-aws-ec2-metadata-token: token-abc")
            {
                Some("Name\nteam".to_string())
            } else if first.starts_with("get /latest/meta-data/tags/instance/name ") {
                Some("web-1".to_string())
            } else if first.starts_with("get /latest/meta-data/tags/instance/team ") {
                Some("platform".to_string())
            } else {
                None
            };
            let response = match body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
                    b.len()
                ),
                None => {
                    "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                }
            };
            conn.write_all(response.as_bytes()).unwrap();
            seen.push(first);
        }
        drop(held);
        seen
    });
    (url, handle)
}

#[test]
fn instance_metadata_is_read_from_imdsv2_quickly_or_not_at_all() {
    let (url, server) = fake_imds(false);
    let mut args = agent_args(&["--once", "--log-level", "DEBUG"]);
    let at = args.iter().position(|a| *a == "none").unwrap();
    args[at] = &url;
    let run = setup().args(&args).run();
    run.code(0);
    run.stdout_is("deployed v1 with DB_PASS=<unset>\n");
    run.stderr_has("bitops agent: DEBUG instance metadata: ec2.account-id, ec2.availability-zone, ec2.instance-id, ec2.instance-type, ec2.region, ec2.tag.Name, ec2.tag.team\n");
    let seen = server.join().unwrap();
    assert_eq!(
        seen,
        [
            "put /latest/api/token http/1.1",
            "get /latest/dynamic/instance-identity/document http/1.1",
            "get /latest/meta-data/tags/instance http/1.1",
            "get /latest/meta-data/tags/instance/name http/1.1",
            "get /latest/meta-data/tags/instance/team http/1.1",
        ]
    );

    // An endpoint that never answers costs about a second, then nothing.
    let (url, _server) = fake_imds(true);
    let mut args = agent_args(&["--once", "--log-level", "DEBUG"]);
    let at = args.iter().position(|a| *a == "none").unwrap();
    args[at] = &url;
    let t = setup();
    let started = Instant::now();
    let out = t.command(&args).output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("bitops agent: DEBUG instance metadata: none\n"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    let mut lines = stderr.lines();
    assert!(lines.any(|l| l.starts_with("bitops agent: DEBUG no instance metadata at http://127.0.0.1:")));
}

#[test]
fn sigterm_during_a_step_stops_the_step_and_the_agent_exits_143() {
    let t = setup();
    let root = t.root().to_path_buf();
    std::fs::write(root.join("work/dev/a/hang"), "").unwrap();
    commit(&root, "v1");
    let mut child = spawn(&t, &agent_args(&["--grace-period", "20s"]));
    wait_log(&root, "a waiting", &mut child);
    let started = Instant::now();
    sigterm(&child);
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(143), "{err}");
    // The step's process got TERM and ended at once (well within the grace period).
    assert!(log(&root).contains("a got TERM\n"), "{}", log(&root));
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(out, "deployed v1 with DB_PASS=<unset>\n");
    assert!(err.contains("SIGTERM"), "{err}");
    assert!(
        err.ends_with("(exit 143)\n")
            && err.contains("bitops agent: stopped by SIGTERM: the deploy of "),
        "{err}"
    );
}

#[test]
fn a_hub_agent_without_a_join_token_says_what_to_do() {
    let run = Test::new()
        .args(&[
            "agent",
            "--hub",
            "http://127.0.0.1:9",
            "--state-dir",
            "state",
            "--metadata-url",
            "none",
        ])
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is(
        "error: no join token to register with the hub at http://127.0.0.1:9\n  hint: put the hub's join token in a file (mode 0600) and pass --join-token-file FILE, or set BITOPS_AGENT_JOIN_TOKEN\n",
    );
    let run = Test::new()
        .args(&["agent", "--hub", "http://127.0.0.1:9", "--join-token", "x"])
        .run();
    run.code(2);
    run.stdout_is("");
    run.stderr_has("error: unexpected argument '--join-token' found\n");
}

// ---------------------------------------------------------------------------------
// With the real hub: `bitops hub serve` on SQLite and `bitops agent` processes.

mod with_hub {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use bitops::hub::api::{self, *};
    use bitops::hub::client::Client;

    use super::{commit, fake_imds, git};
    use crate::test::{Test, probe_schema};
    use crate::tools::free_port;

    const ADMIN: &str = "admin-token-agent-tests-0123456789abcdef";
    const JOIN: &str = "join-token-agent-tests-0123456789abcdef";

    /// Logs `<agent> <alias> start|end <ns>` (the agent's name comes from `AGENT_NAME`),
    /// prints `DB_PASS`, sleeps `$SLEEP` (0.3 s); fails (exit 5) where the tool folder
    /// has `fail-on-label` and the agent's secrets say `FAIL_HERE=yes`; with `hang`
    /// logs `<agent> waiting` and waits for TERM (logged); with `wait-release` waits for the file `$HOLD/release`.
    const SCRIPT: &str = r#"
log() { echo "$AGENT_NAME $BITOPS_DEPLOYMENT_ALIAS $1 $(date +%s%N)" >> "$PROBE_LOG"; }
log start
echo "on $AGENT_NAME with DB_PASS=${DB_PASS-<unset>}"
if [ -e hang ]; then
  trap 'echo "$AGENT_NAME got TERM" >> "$PROBE_LOG"; exit 143' TERM
  echo "$AGENT_NAME waiting pid=$$" >> "$PROBE_LOG"
  sleep 60 & wait
fi
if [ -e wait-release ]; then
  for i in $(seq 1200); do [ -e "$HOLD/release" ] && break; sleep 0.05; done
fi
sleep "${SLEEP:-0.3}"
if [ -e fail-on-label ] && [ "${FAIL_HERE:-}" = yes ]; then echo "failing on purpose"; exit 5; fi
echo "done on $AGENT_NAME"
log end
"#;

    /// The test folder: the plugin, and `remote.git` with environments `dev` (its tool
    /// folder holds `fail-on-label`) and `stage`, one deployment `a` each.
    fn setup(extra: &[(&str, &str)]) -> (Test, String) {
        let mut t = Test::new()
            .write("plugins/probe/bitops.schema.yaml", &probe_schema("", ""))
            .write("plugins/probe/deploy.sh", SCRIPT)
            .write("work/dev/a/fail-on-label", "")
            .write("work/dev/a/version", "v1\n");
        for env in ["dev", "stage"] {
            t = t
                .write(
                    &format!("work/{env}/bitops.config.yaml"),
                    "bitops:\n  deployments:\n    a: {plugin: probe}\n",
                )
                .write(&format!("work/{env}/a/bitops.config.yaml"), "probe: {}\n");
        }
        for (rel, text) in extra {
            t = t.write(rel, text);
        }
        let root = t.root().to_path_buf();
        git(&root, &["init", "-q", "--bare", "remote.git"]);
        git(&root, &["init", "-q", "-b", "main", "work"]);
        let rev = commit(&root, "v1");
        (t, rev)
    }

    /// A process killed (SIGKILL, by PID) when dropped.
    struct Proc {
        child: Option<Child>,
        err: PathBuf,
        out: PathBuf,
    }

    impl Proc {
        fn pid(&self) -> i32 {
            self.child.as_ref().unwrap().id() as i32
        }

        fn err_text(&self) -> String {
            std::fs::read_to_string(&self.err).unwrap_or_default()
        }

        fn out_text(&self) -> String {
            std::fs::read_to_string(&self.out).unwrap_or_default()
        }

        fn signal(&self, sig: i32) {
            // SAFETY: a signal to our own child, by PID.
            unsafe { libc::kill(self.pid(), sig) };
        }

        /// Waits (at most a minute) for the exit code.
        fn wait(&mut self) -> Option<i32> {
            let child = self.child.as_mut().unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    self.child = None;
                    return status.code();
                }
                assert!(Instant::now() < deadline, "the process did not end");
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        fn kill(&mut self) {
            if let Some(mut child) = self.child.take() {
                // SAFETY: our own child, by PID.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                let _ = child.wait();
            }
        }
    }

    impl Drop for Proc {
        fn drop(&mut self) {
            self.kill();
        }
    }

    fn spawn(mut cmd: Command, root: &Path, name: &str) -> Proc {
        let err = root.join(format!("{name}.err"));
        let out = root.join(format!("{name}.out"));
        let file = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap()
        };
        cmd.stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err));
        // SAFETY: prctl only: nothing outlives the test.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        Proc {
            child: Some(cmd.spawn().unwrap()),
            err,
            out,
        }
    }

    struct Hub {
        proc: Proc,
        port: u16,
    }

    impl Hub {
        fn start(t: &Test, port: u16, lost_after: &str) -> Hub {
            let db = format!("sqlite://{}", t.root().join("hub.db").display());
            let mut cmd = t.command(&[
                "hub",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database",
                &db,
                "--lost-after",
                lost_after,
            ]);
            cmd.env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
                .env("BITOPS_HUB_JOIN_TOKEN", JOIN);
            let hub = Hub {
                proc: spawn(cmd, t.root(), "hub"),
                port,
            };
            wait_for("the hub to answer", || {
                Client::new(&hub.base(), None, None)
                    .unwrap()
                    .get::<serde_json::Value>(api::HEALTH)
                    .is_ok()
            });
            hub
        }

        fn base(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        fn admin(&self) -> Client {
            Client::new(&self.base(), Some(ADMIN.into()), None).unwrap()
        }

        fn agents(&self) -> Vec<AgentView> {
            self.admin().get(api::AGENTS).unwrap()
        }

        fn deployment(&self, id: i64) -> DeploymentView {
            self.admin()
                .get(&api::DEPLOYMENT.replace("{id}", &id.to_string()))
                .unwrap()
        }

        fn group(&self, name: &str, selector: &[(&str, &str)]) {
            let g = NewGroup {
                name: name.into(),
                selector: selector
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            };
            let _: GroupView = self.admin().post(api::GROUPS, &g).unwrap();
        }

        fn deploy(&self, t: &Test, group: &str, rev: &str, env: &str, strategy: Strategy) -> i64 {
            let d = NewDeployment {
                group: group.into(),
                repo_url: t.root().join("remote.git").to_string_lossy().into_owned(),
                revision: rev.into(),
                environment: env.into(),
                only: vec![],
                strategy,
            };
            let view: DeploymentView = self.admin().post(api::DEPLOYMENTS, &d).unwrap();
            view.id
        }

        /// Waits until the deployment ended; it.
        fn finished(&self, id: i64) -> DeploymentView {
            let mut last = None;
            wait_for("the deployment to end", || {
                let d = self.deployment(id);
                let done = !matches!(d.state, DeploymentState::Running | DeploymentState::Paused);
                last = Some(d);
                done
            });
            last.unwrap()
        }
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An agent of `hub` named `name` with `labels`, its secrets file (0600) holding a
    /// planted `DB_PASS` and `extra` lines.
    fn agent(t: &Test, hub: &Hub, name: &str, labels: &[&str], extra: &str, more: &[&str]) -> Proc {
        let secrets = t.root().join(format!("{name}.secrets"));
        std::fs::write(&secrets, format!("DB_PASS={}\n{extra}", planted(name))).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        let state = format!("state-{name}");
        let secrets_arg = secrets.to_string_lossy().into_owned();
        let mut args = vec![
            "agent",
            "--hub",
            &hub_url_leak(hub),
            "--name",
            name,
            "--state-dir",
            &state,
            "--plugins-dir",
            "plugins",
            "--secrets",
            &secrets_arg,
            "--poll",
            "200ms",
        ];
        if !more.contains(&"--metadata-url") {
            args.extend(["--metadata-url", "none"]);
        }
        let label_args: Vec<String> = labels.iter().map(|l| format!("--label={l}")).collect();
        args.extend(label_args.iter().map(String::as_str));
        args.extend_from_slice(more);
        let mut cmd = t.command(&args);
        cmd.env("BITOPS_AGENT_JOIN_TOKEN", JOIN)
            .env("AGENT_NAME", name);
        spawn(cmd, t.root(), name)
    }

    fn hub_url_leak(hub: &Hub) -> &'static str {
        Box::leak(hub.base().into_boxed_str())
    }

    fn planted(name: &str) -> String {
        format!("planted-{name}-Zq8v3xK9")
    }

    /// Waits until every agent named is registered and idle.
    fn registered(hub: &Hub, names: &[&str]) {
        wait_for("the agents to register", || {
            let agents = hub.agents();
            names.iter().all(|n| {
                agents
                    .iter()
                    .any(|a| a.name == *n && a.state == AgentState::Idle)
            })
        });
    }

    fn job<'a>(d: &'a DeploymentView, agent: &str) -> &'a JobView {
        d.jobs.iter().find(|j| j.agent == agent).unwrap()
    }

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    fn probe_log(t: &Test) -> String {
        std::fs::read_to_string(t.root().join("log.txt")).unwrap_or_default()
    }

    /// The hub's files: its SQLite database (with its WAL) and its log.
    fn hub_side_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for name in ["hub.db", "hub.db-wal", "hub.db-shm", "hub.err", "hub.out"] {
            if let Ok(bytes) = std::fs::read(root.join(name)) {
                out.push((root.join(name), bytes));
            }
        }
        out
    }

    #[test]
    fn five_agents_ordered_all_at_once_and_rolling_and_no_secret_reaches_the_hub() {
        let (t, rev) = setup(&[]);
        let hub = Hub::start(&t, free_port(), "30s");
        let (imds, imds_server) = fake_imds(false);
        let agents: Vec<Proc> = vec![
            agent(
                &t,
                &hub,
                "a1",
                &["env=prod", "ring=1"],
                "",
                &["--metadata-url", &imds],
            ),
            // a2's secrets make `dev` fail there: a label-dependent secret.
            agent(
                &t,
                &hub,
                "a2",
                &["env=prod", "ring=2"],
                "FAIL_HERE=yes\n",
                &[],
            ),
            agent(&t, &hub, "a3", &["env=prod", "ring=3"], "", &[]),
            agent(&t, &hub, "a4", &["env=staging", "ring=1"], "", &[]),
            agent(&t, &hub, "a5", &["env=staging", "ring=2"], "", &[]),
        ];
        registered(&hub, &["a1", "a2", "a3", "a4", "a5"]);
        imds_server.join().unwrap();
        // What a1 found in its instance metadata is what the hub knows of it.
        let a1 = hub.agents().into_iter().find(|a| a.name == "a1").unwrap();
        assert_eq!(
            a1.metadata,
            BTreeMap::from([
                ("ec2.account-id".to_string(), "123456789012".to_string()),
                ("ec2.availability-zone".into(), "eu-west-1b".into()),
                ("ec2.instance-id".into(), "i-0abc".into()),
                ("ec2.instance-type".into(), "t3.micro".into()),
                ("ec2.region".into(), "eu-west-1".into()),
                ("ec2.tag.Name".into(), "web-1".into()),
                ("ec2.tag.team".into(), "platform".into()),
            ])
        );
        assert_eq!(a1.labels["env"], "prod");

        // Ordered over prod: a1 succeeds, a2 fails, a3 never starts.
        hub.group("prod", &[("env", "prod")]);
        let id = hub.deploy(&t, "prod", &rev, "dev", Strategy::Ordered { order: vec![] });
        let d = hub.finished(id);
        assert_eq!(d.state, DeploymentState::Failed, "{d:#?}");
        assert_eq!(job(&d, "a1").state, JobState::Succeeded);
        let failed = job(&d, "a2");
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.exit_code, Some(5));
        assert_eq!(
            failed
                .steps
                .iter()
                .map(|s| (s.alias.as_str(), s.status.as_str()))
                .collect::<Vec<_>>(),
            [("a", "failed")]
        );
        assert!(
            failed.output_tail.iter().any(|l| l == "failing on purpose")
                && failed
                    .output_tail
                    .iter()
                    .any(|l| l == "on a2 with DB_PASS=*****"),
            "{:?}",
            failed.output_tail
        );
        assert_eq!(job(&d, "a3").state, JobState::Cancelled);
        assert_eq!(job(&d, "a3").started_ms, None);
        let log = probe_log(&t);
        assert!(
            log.contains("a1 a start") && log.contains("a2 a start"),
            "{log}"
        );
        assert!(!log.contains("a3 "), "a3 ran: {log}");
        // The dashboard says so too.
        let page = dashboard(&hub);
        assert!(page.contains(&format!("#{id} to prod")), "{page}");
        assert!(
            page.contains("<td class=\"cancelled\">cancelled</td>"),
            "{page}"
        );
        assert!(page.contains("<td class=\"failed\">failed</td>"), "{page}");

        // All at once over every agent (stage): every job started before any ended.
        hub.group("everyone", &[]);
        std::fs::remove_file(t.root().join("log.txt")).unwrap();
        let id = hub.deploy(&t, "everyone", &rev, "stage", Strategy::AllAtOnce);
        let d = hub.finished(id);
        assert_eq!(d.state, DeploymentState::Succeeded, "{d:#?}");
        let starts: Vec<i64> = d.jobs.iter().map(|j| j.started_ms.unwrap()).collect();
        let ends: Vec<i64> = d.jobs.iter().map(|j| j.finished_ms.unwrap()).collect();
        assert_eq!(d.jobs.len(), 5);
        assert!(
            starts.iter().max() < ends.iter().min(),
            "not at once: {starts:?} {ends:?}"
        );

        // Rolling, two at a time (by name): a batch starts once the one before ended.
        let id = hub.deploy(
            &t,
            "everyone",
            &rev,
            "stage",
            Strategy::Rolling {
                batch_size: 2,
                max_failures: 0,
            },
        );
        let d = hub.finished(id);
        assert_eq!(d.state, DeploymentState::Succeeded, "{d:#?}");
        let span = |name: &str| {
            let j = job(&d, name);
            (j.started_ms.unwrap(), j.finished_ms.unwrap())
        };
        let batches = [vec!["a1", "a2"], vec!["a3", "a4"], vec!["a5"]];
        for pair in batches.windows(2) {
            let ended = pair[0].iter().map(|n| span(n).1).max().unwrap();
            let started = pair[1].iter().map(|n| span(n).0).min().unwrap();
            assert!(ended <= started, "{pair:?} overlap: {:?}", d.jobs);
        }
        for batch in &batches[..2] {
            let (a, b) = (span(batch[0]), span(batch[1]));
            assert!(
                a.0 < b.1 && b.0 < a.1,
                "{batch:?} not together: {a:?} {b:?}"
            );
        }

        // No planted secret anywhere on the hub's side: its database, its log, its API.
        let mut answers = String::new();
        for path in [api::AGENTS, api::GROUPS, api::DEPLOYMENTS] {
            answers.push_str(
                &hub.admin()
                    .get::<serde_json::Value>(path)
                    .unwrap()
                    .to_string(),
            );
        }
        for id in 1..=3 {
            answers.push_str(
                &hub.admin()
                    .get::<serde_json::Value>(&api::DEPLOYMENT.replace("{id}", &id.to_string()))
                    .unwrap()
                    .to_string(),
            );
        }
        answers.push_str(&page);
        assert!(answers.contains("DB_PASS=*****"));
        let files = hub_side_files(t.root());
        assert!(
            files
                .iter()
                .any(|(p, b)| p.ends_with("hub.db") && !b.is_empty())
        );
        for name in ["a1", "a2", "a3", "a4", "a5"] {
            let secret = planted(name);
            assert!(!answers.contains(&secret), "the API shows {name}'s secret");
            for (path, bytes) in &files {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds {name}'s secret",
                    path.display()
                );
            }
            for a in &agents {
                assert!(!a.out_text().contains(&secret) && !a.err_text().contains(&secret));
            }
        }
        // The step saw it, though.
        assert!(
            agents[0].out_text().contains("on a1 with DB_PASS=*****"),
            "{}",
            agents[0].out_text()
        );
        drop(agents);
    }

    fn dashboard(hub: &Hub) -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        agent
            .get(&format!("{}/", hub.base()))
            .header("Authorization", &format!("Bearer {ADMIN}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    #[test]
    fn a_killed_agent_is_lost_and_its_deploy_winds_down() {
        let (t, _) = setup(&[("work/stage/a/hang", "")]);
        let rev = commit(t.root(), "v2");
        let hub = Hub::start(&t, free_port(), "2s");
        let mut a = agent(&t, &hub, "k1", &["env=k"], "", &[]);
        registered(&hub, &["k1"]);
        hub.group("k", &[("env", "k")]);
        let id = hub.deploy(&t, "k", &rev, "stage", Strategy::AllAtOnce);
        wait_for("the step to wait", || probe_log(&t).contains("k1 waiting"));
        let killed = Instant::now();
        a.kill(); // SIGKILL: the agent says nothing more
        let d = hub.finished(id);
        assert!(
            killed.elapsed() >= Duration::from_millis(1500),
            "lost too early"
        );
        assert_eq!(d.state, DeploymentState::Failed);
        assert_eq!(job(&d, "k1").state, JobState::Lost);
        let agents = hub.agents();
        assert_eq!(agents[0].state, AgentState::Lost);
        // The orphaned deploy got SIGTERM when its agent died and stopped its step: no
        // process of the job outlives the agent by more than the grace period.
        let log = probe_log(&t);
        let pid: String = log
            .split("k1 waiting pid=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        assert!(pid.parse::<u32>().is_ok(), "no pid in the log:\n{log}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while crate::test::alive(&pid) {
            assert!(
                Instant::now() < deadline,
                "the step outlived its agent; log:\n{}\nagent:\n{}\nreport:\n{}",
                probe_log(&t),
                a.err_text(),
                std::fs::read_to_string(t.root().join("state-k1/last-report.json"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    #[test]
    fn an_agent_keeps_deploying_while_the_hub_is_down_and_delivers_later() {
        let (t, _) = setup(&[("work/stage/a/wait-release", "")]);
        let rev = commit(t.root(), "v2");
        let port = free_port();
        let mut hub = Hub::start(&t, port, "60s");
        let a = agent(&t, &hub, "s1", &["env=s"], "", &[]);
        registered(&hub, &["s1"]);
        hub.group("s", &[("env", "s")]);
        let id = hub.deploy(&t, "s", &rev, "stage", Strategy::AllAtOnce);
        wait_for("the step to start", || probe_log(&t).contains("s1 a start"));
        hub.proc.kill();
        std::fs::write(t.root().join("release"), "").unwrap();
        wait_for("the step to end", || probe_log(&t).contains("s1 a end"));
        wait_for("the agent to say it keeps the status", || {
            a.err_text().contains("job 1: succeeded (exit 0)")
                && a.err_text().contains("keeping status in the spool")
        });
        let spool = t.root().join("state-s1/spool.jsonl");
        let text = std::fs::read_to_string(&spool).unwrap();
        assert!(text.contains("\"kind\":\"result\""), "{text}");
        let mode = std::fs::metadata(&spool).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // The hub comes back (same database, same port): everything arrives in order.
        let hub = Hub::start(&t, port, "60s");
        let d = hub.finished(id);
        assert_eq!(d.state, DeploymentState::Succeeded, "{d:#?}");
        let j = job(&d, "s1");
        assert_eq!(j.exit_code, Some(0));
        assert!(
            j.output_tail.iter().any(|l| l == "done on s1"),
            "{:?}",
            j.output_tail
        );
        wait_for("the spool to empty", || {
            std::fs::read_to_string(&spool)
                .unwrap_or_default()
                .is_empty()
        });
        assert!(a.err_text().contains("the hub is back"), "{}", a.err_text());
        drop(hub);
    }

    #[test]
    fn sigterm_reports_the_job_interrupted_and_a_restart_reuses_the_token() {
        let (t, _) = setup(&[("work/stage/a/hang", "")]);
        let rev = commit(t.root(), "v2");
        let hub = Hub::start(&t, free_port(), "30s");
        let mut a = agent(&t, &hub, "i1", &["env=i"], "", &[]);
        registered(&hub, &["i1"]);
        let identity = t.root().join("state-i1/agent.json");
        let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        hub.group("i", &[("env", "i")]);
        let id = hub.deploy(&t, "i", &rev, "stage", Strategy::AllAtOnce);
        wait_for("the step to wait", || probe_log(&t).contains("i1 waiting"));
        a.signal(libc::SIGTERM);
        assert_eq!(a.wait(), Some(143), "{}", a.err_text());
        assert!(probe_log(&t).contains("i1 got TERM"));
        assert!(
            a.err_text().ends_with("bitops agent: stopped by SIGTERM\n"),
            "{}",
            a.err_text()
        );
        let d = hub.finished(id);
        assert_eq!(job(&d, "i1").state, JobState::Interrupted, "{d:#?}");
        assert_eq!(job(&d, "i1").exit_code, Some(143));
        // Started again, it polls with the token it kept: no second registration.
        let registered_before = a.err_text().matches("registered with").count();
        assert_eq!(registered_before, 1);
        let restarted = now_ms();
        let b = agent(&t, &hub, "i1", &["env=i"], "", &[]);
        // (b writes to the same i1.err as a.)
        wait_for("the agent to poll", || {
            b.err_text().matches(" polling ").count() == 2
                && hub.agents()[0].last_seen_ms > restarted + 300
        });
        assert_eq!(hub.agents().len(), 1);
        assert_eq!(hub.agents()[0].state, AgentState::Idle);
        assert_eq!(
            b.err_text().matches("registered with").count(),
            1,
            "{}",
            b.err_text()
        );
        drop(b);
    }
}

#[test]
fn bad_input_is_one_clear_error_and_credentials_in_urls_are_never_shown() {
    let run = Test::new()
        .args(&[
            "agent",
            "--no-hub",
            "--state-dir",
            "state",
            "--metadata-url",
            "none",
        ])
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is("error: --no-hub needs --repo URL and --environment ENV\n  hint: e.g. bitops agent --no-hub --repo https://git.example/ops.git -e prod\n");

    let run = Test::new()
        .args(&["agent", "--hub", "http://127.0.0.1:9", "--label", "nolabel"])
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is("error: --label `nolabel` is not KEY=VALUE (e.g. --label env=prod)\n");

    // Nothing listens on port 9: git fails, and says so without the password.
    let run = Test::new()
        .args(&[
            "agent",
            "--no-hub",
            "--repo",
            "http://deploy:pw-9f8e7d6c@127.0.0.1:9/ops.git",
            "-e",
            "dev",
            "--once",
            "--state-dir",
            "state",
            "--metadata-url",
            "none",
        ])
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_has("bitops agent: following http://***@127.0.0.1:9/ops.git branch main, deploying environment dev once\nbitops agent: git ls-remote failed: fatal: unable to access 'http://127.0.0.1:9/ops.git/': ");
    run.output_lacks("pw-9f8e7d6c");
}
