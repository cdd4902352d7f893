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

fn spawn(t: &Test, args: &[&str]) -> Child {
    t.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
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
        while Instant::now() < deadline && seen.len() < 2 {
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
    run.stderr_has("bitops agent: DEBUG instance metadata: ec2.account-id, ec2.availability-zone, ec2.instance-id, ec2.instance-type, ec2.region\n");
    let seen = server.join().unwrap();
    assert_eq!(
        seen,
        [
            "put /latest/api/token http/1.1",
            "get /latest/dynamic/instance-identity/document http/1.1"
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
