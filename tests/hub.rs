//! The hub: real `bitops hub serve` processes on 127.0.0.1 (SQLite in a temporary folder,
//! or a private PostgreSQL cluster), stopped by PID when the test ends. Agents are
//! simulated with `bitops::hub::client::Client` (register, poll, events, result);
//! operators use the real `bitops hub …` commands.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitops::hub::api::{self, *};
use bitops::hub::client::{CallError, Client};

use crate::test::{Run, Test};
use crate::tools::free_port;

const ADMIN: &str = "admin-token-for-the-tests-0123456789";
const JOIN: &str = "join-token-for-the-tests-0123456789";
const REV: &str = "0123456789abcdef0123456789abcdef01234567";
const REV2: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// A running hub, killed (SIGKILL, by PID) when dropped.
struct Hub {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Hub {
    /// A hub on a free port with `args` (`--database …` or `--state-dir …`), its stderr in
    /// `log`; returns once `/healthz` answers (at most 15 s).
    /// A hub named `hub` with its SQLite database in `dir/state`.
    fn in_state(dir: &Path) -> Hub {
        Hub::start(
            dir,
            "hub",
            &["--state-dir", &dir.join("state").to_string_lossy()],
        )
    }

    fn start(dir: &Path, name: &str, args: &[&str]) -> Hub {
        Hub::start_on(dir, name, free_port(), args)
    }

    fn start_on(dir: &Path, name: &str, port: u16, args: &[&str]) -> Hub {
        Hub::start_with(dir, name, port, args, None)
    }

    /// With `ca`, the hub speaks HTTPS and `/healthz` is asked over TLS.
    fn start_with(dir: &Path, name: &str, port: u16, args: &[&str], ca: Option<&Path>) -> Hub {
        let log = dir.join(format!("{name}.log"));
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bitops"));
        cmd.args(["hub", "serve", "--listen", &listen])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
            .env("BITOPS_HUB_JOIN_TOKEN", JOIN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            );
        // The hub never outlives the test thread that started it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut hub = Hub {
            child: Some(cmd.spawn().unwrap()),
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let up = match ca {
                None => matches!(raw("GET", &hub.url(api::HEALTH), None, None), Ok((200, _))),
                Some(ca) => Client::new(&format!("https://127.0.0.1:{port}"), None, Some(ca))
                    .unwrap()
                    .get::<serde_json::Value>(api::HEALTH)
                    .is_ok(),
            };
            if up {
                return hub;
            }
            if let Some(status) = hub.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the hub exited ({status}):\n{}", hub.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "the hub did not answer within 15 s:\n{}",
                hub.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn admin(&self) -> Client {
        Client::new(&self.base(), Some(ADMIN.into()), None).unwrap()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, by PID, and reaped.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    /// SIGTERM, by PID: the hub stops within 10 s, exit code 0. Its log holds no token.
    fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                let _ = child.wait();
                panic!("the hub did not stop on SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = self.log_text();
        assert!(status.success(), "the hub exited {status}:\n{log}");
        assert!(log.contains("SIGTERM: stopping"), "{log}");
        self.assert_log_clean(&[]);
    }

    /// The log names no token (the admin's, the join token, nor `agent_tokens`).
    fn assert_log_clean(&self, agent_tokens: &[&str]) {
        let log = self.log_text();
        for secret in [ADMIN, JOIN].iter().chain(agent_tokens) {
            assert!(!log.contains(secret), "the hub logged a token:\n{log}");
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP request, its status and body as text.
fn raw(
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = match (method, body) {
        ("GET", _) => {
            let mut req = agent.get(url);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.call()
        }
        (_, body) => {
            let mut req = agent.post(url).header("Content-Type", "application/json");
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send(body.unwrap_or(""))
        }
    };
    let mut response = response.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(50 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// A request that must be refused with `status` and a JSON `{"error": …}` holding `part`.
#[track_caller]
fn refused(
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<&str>,
    status: u16,
    part: &str,
) {
    let (got, text) = raw(method, url, auth, body).unwrap();
    assert_eq!(got, status, "{method} {url}: {text}");
    let error: ApiError = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {url}: not a JSON error ({e}): {text}"));
    assert!(
        error.error.contains(part),
        "{method} {url}: `{}` lacks `{part}`",
        error.error
    );
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A simulated agent.
struct Agent {
    name: String,
    client: Client,
    token: String,
}

fn register(hub: &Hub, name: &str, labels: &[(&str, &str)], metadata: &[(&str, &str)]) -> Agent {
    register_at(&hub.base(), name, labels, metadata)
}

fn pairs(p: &[(&str, &str)]) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn register_at(
    base: &str,
    name: &str,
    labels: &[(&str, &str)],
    metadata: &[(&str, &str)],
) -> Agent {
    let joiner = Client::new(base, Some(JOIN.into()), None).unwrap();
    let r: Registered = joiner
        .post(
            api::REGISTER,
            &Register {
                name: name.into(),
                labels: pairs(labels),
                metadata: pairs(metadata),
                version: "0.1.0".into(),
            },
        )
        .unwrap();
    Agent {
        name: name.into(),
        client: Client::new(base, Some(r.token.clone()), None).unwrap(),
        token: r.token,
    }
}

impl Agent {
    fn poll(&self) -> Option<Job> {
        let reply: PollReply = self
            .client
            .post(
                api::POLL,
                &Poll {
                    busy: false,
                    revision: None,
                },
            )
            .unwrap();
        reply.job
    }

    fn heartbeat(&self) {
        let reply: PollReply = self
            .client
            .post(
                api::POLL,
                &Poll {
                    busy: true,
                    revision: None,
                },
            )
            .unwrap();
        assert_eq!(reply.job, None);
    }

    fn events(&self, job: i64, seqs: std::ops::RangeInclusive<u64>) -> u64 {
        let events = seqs
            .map(|seq| JobEvent {
                seq,
                time_ms: 1,
                kind: EventKind::Output,
                step: Some("web".into()),
                status: None,
                text: Some(format!("{} line {seq}", self.name)),
            })
            .collect();
        let answer: serde_json::Value = self
            .client
            .post(
                &api::JOB_EVENTS.replace("{id}", &job.to_string()),
                &JobEvents { events },
            )
            .unwrap();
        answer["accepted"].as_u64().unwrap()
    }

    fn result(&self, job: i64, outcome: JobOutcome) -> Result<serde_json::Value, CallError> {
        let failed = outcome != JobOutcome::Succeeded;
        self.client.post(
            &api::JOB_RESULT.replace("{id}", &job.to_string()),
            &JobResult {
                outcome,
                exit_code: if failed { 1 } else { 0 },
                steps: vec![StepResult {
                    alias: "web".into(),
                    status: if failed { "failed" } else { "ok" }.into(),
                    seconds: 0.5,
                }],
                output_tail: vec![format!("{} deployed: {outcome:?}", self.name)],
                error: None,
            },
        )
    }

    /// Polls until a job comes (at most 10 s).
    #[track_caller]
    fn next_job(&self) -> Job {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(job) = self.poll() {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no job within 10 s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn deployment(hub: &Hub, id: i64) -> DeploymentView {
    hub.admin()
        .get(&api::DEPLOYMENT.replace("{id}", &id.to_string()))
        .unwrap()
}

fn states(d: &DeploymentView) -> Vec<(String, JobState)> {
    d.jobs.iter().map(|j| (j.agent.clone(), j.state)).collect()
}

/// Waits (at most 15 s) until the deployment is in `state`.
#[track_caller]
fn wait_for(hub: &Hub, id: i64, state: DeploymentState) -> DeploymentView {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = deployment(hub, id);
        if d.state == state {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "deployment {id} is still {:?}, not {state:?}: {:?}",
            d.state,
            states(&d)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `bitops hub ARGS…` as the operator runs it, against `hub`.
fn operator(hub: &Hub, args: &[&str]) -> Run {
    let base = hub.base();
    let mut all = vec!["hub"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--hub", &base]);
    Test::new()
        .args(&all)
        .env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
        .run()
}

fn group(hub: &Hub, name: &str, select: &[&str]) {
    let mut args = vec!["group", name];
    for s in select {
        args.extend_from_slice(&["--select", s]);
    }
    operator(hub, &args)
        .code(0)
        .stdout_has(&format!("group {name}"))
        .stderr_is("");
}

/// `bitops hub deploy … --format json`: the new deployment's id.
fn deploy(hub: &Hub, group: &str, revision: &str, strategy: &[&str]) -> i64 {
    let mut args = vec![
        "deploy",
        "--group",
        group,
        "--repo",
        "https://git.example.com/ops.git",
        "--revision",
        revision,
        "-e",
        "prod",
        "--format",
        "json",
    ];
    args.extend_from_slice(strategy);
    let run = operator(hub, &args);
    run.code(0).stderr_is("");
    let d: DeploymentView = serde_json::from_str(run.stdout_text()).unwrap();
    assert_eq!(d.state, DeploymentState::Running);
    d.id
}

fn dashboard(hub: &Hub) -> String {
    let basic = format!("Basic {}", crate::test::b64(&format!("ops:{ADMIN}")));
    let (status, html) = raw("GET", &hub.url("/"), Some(&basic), None).unwrap();
    assert_eq!(status, 200, "{html}");
    html
}

#[test]
fn registration_auth_and_bad_requests_are_refused_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let body = r#"{"name": "a1", "labels": {"env": "prod"}, "metadata": {}, "version": "0.1.0"}"#;
    let reg = hub.url(api::REGISTER);
    refused("POST", &reg, None, Some(body), 401, "join token");
    refused(
        "POST",
        &reg,
        Some("Bearer not-a-token-at-all"),
        Some(body),
        401,
        "wrong token",
    );
    refused(
        "POST",
        &reg,
        Some(&bearer(ADMIN)),
        Some(body),
        403,
        "the admin token is not allowed here",
    );
    refused(
        "POST",
        &reg,
        Some(&bearer(JOIN)),
        Some(r#"{"name": "a1", "labels": {}, "metadata": {}, "version": "1", "extra": 1}"#),
        400,
        "unknown field `extra`",
    );
    refused(
        "POST",
        &reg,
        Some(&bearer(JOIN)),
        Some("{not json"),
        400,
        "invalid request body",
    );
    refused(
        "POST",
        &reg,
        Some(&bearer(JOIN)),
        Some(r#"{"name": "no spaces allowed", "labels": {}, "metadata": {}, "version": "1"}"#),
        400,
        "not a valid name",
    );
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(api::MAX_BODY + 10));
    refused(
        "POST",
        &reg,
        Some(&bearer(JOIN)),
        Some(&big),
        413,
        "larger than",
    );
    let a1 = register(&hub, "a1", &[("env", "prod")], &[]);
    let a2 = register(&hub, "a2", &[("env", "prod")], &[]);

    // admin paths
    for path in [api::AGENTS, api::GROUPS, api::DEPLOYMENTS] {
        refused("GET", &hub.url(path), None, None, 401, "admin token");
        refused(
            "GET",
            &hub.url(path),
            Some(&bearer("wrong-token-0123456789")),
            None,
            401,
            "wrong token",
        );
        refused(
            "GET",
            &hub.url(path),
            Some(&bearer(&a1.token)),
            None,
            403,
            "an agent's token is not allowed here",
        );
        refused(
            "GET",
            &hub.url(path),
            Some(&bearer(JOIN)),
            None,
            403,
            "the join token is not allowed here",
        );
    }
    // agent paths
    let poll = hub.url(api::POLL);
    let poll_body = r#"{"busy": false, "revision": null}"#;
    refused("POST", &poll, None, Some(poll_body), 401, "agent's token");
    refused(
        "POST",
        &poll,
        Some(&bearer(ADMIN)),
        Some(poll_body),
        403,
        "the admin token is not allowed here",
    );
    refused(
        "POST",
        &poll,
        Some(&bearer(&a1.token)),
        Some(r#"{"busy": false, "revision": null, "x": 1}"#),
        400,
        "unknown field `x`",
    );
    // the dashboard: Bearer or Basic with the admin token, a challenge otherwise
    let (status, page) = raw("GET", &hub.url("/"), None, None).unwrap();
    assert_eq!(status, 401, "{page}");
    let (status, _) = raw(
        "GET",
        &hub.url("/"),
        Some(&format!(
            "Basic {}",
            crate::test::b64(&format!("x:{}", a1.token))
        )),
        None,
    )
    .unwrap();
    assert_eq!(status, 401);
    let (status, page) = raw("GET", &hub.url("/"), Some(&bearer(ADMIN)), None).unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("a1") && page.contains("No groups yet"),
        "{page}"
    );
    // unknown paths, methods, ids
    refused(
        "GET",
        &hub.url("/api/v1/nothing"),
        Some(&bearer(ADMIN)),
        None,
        404,
        "no such path",
    );
    refused(
        "GET",
        &hub.url(api::POLL),
        Some(&bearer(ADMIN)),
        None,
        405,
        "method",
    );
    refused(
        "GET",
        &hub.url("/api/v1/deployments/abc"),
        Some(&bearer(ADMIN)),
        None,
        404,
        "ids are numbers",
    );
    refused(
        "GET",
        &hub.url("/api/v1/deployments/999"),
        Some(&bearer(ADMIN)),
        None,
        404,
        "no deployment 999",
    );

    // deployments that cannot be
    let new = |group: &str, revision: &str, strategy: &str| {
        format!(
            r#"{{"group": "{group}", "repo_url": "https://git.example.com/ops.git", "revision": "{revision}", "environment": "prod", "strategy": {strategy}}}"#
        )
    };
    let deployments = hub.url(api::DEPLOYMENTS);
    let admin = bearer(ADMIN);
    refused(
        "POST",
        &deployments,
        Some(&admin),
        Some(&new("prod", REV, r#"{"kind": "all-at-once"}"#)),
        404,
        "no group `prod`",
    );
    let g = hub.url(api::GROUPS);
    let (status, text) = raw(
        "POST",
        &g,
        Some(&admin),
        Some(r#"{"name": "prod", "selector": {"env": "prod"}}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    refused(
        "POST",
        &deployments,
        Some(&admin),
        Some(&new("prod", "main", r#"{"kind": "all-at-once"}"#)),
        400,
        "not a full commit id",
    );
    refused(
        "POST",
        &deployments,
        Some(&admin),
        Some(&new("prod", REV, r#"{"kind": "sideways"}"#)),
        400,
        "unknown variant `sideways`",
    );
    refused(
        "POST",
        &deployments,
        Some(&admin),
        Some(&new("prod", REV, r#"{"kind": "ordered", "order": ["a9"]}"#)),
        400,
        "the order names `a9`",
    );
    refused(
        "POST",
        &deployments,
        Some(&admin),
        Some(&new(
            "prod",
            REV,
            r#"{"kind": "rolling", "batch_size": 0, "max_failures": 0}"#,
        )),
        400,
        "batch_size",
    );
    raw(
        "POST",
        &g,
        Some(&admin),
        Some(r#"{"name": "empty", "selector": {"env": "none"}}"#),
    )
    .unwrap();
    refused(
        "POST",
        &deployments,
        Some(&admin),
        Some(&new("empty", REV, r#"{"kind": "all-at-once"}"#)),
        409,
        "selects no agent",
    );

    // an agent sees only its own jobs
    let id = deploy(&hub, "prod", REV, &["--strategy", "all-at-once"]);
    let job = a1.next_job();
    assert_eq!(job.deployment_id, id);
    refused(
        "POST",
        &hub.url(&api::JOB_EVENTS.replace("{id}", &job.id.to_string())),
        Some(&bearer(&a2.token)),
        Some(r#"{"events": []}"#),
        404,
        &format!("this agent has no job {}", job.id),
    );
    refused(
        "POST",
        &hub.url(&api::JOB_EVENTS.replace("{id}", &job.id.to_string())),
        Some(&bearer(&a1.token)),
        Some(
            r#"{"events": [{"seq": 0, "time_ms": 1, "kind": "output", "step": null, "status": null, "text": "x"}]}"#,
        ),
        400,
        "seq 0",
    );
    // a result for a job that is not running is refused
    let a2_job = a2.next_job();
    a2.result(a2_job.id, JobOutcome::Succeeded).unwrap();
    a2.result(a2_job.id, JobOutcome::Succeeded)
        .expect("a resent result is accepted");
    // re-registering a name gives a new token; the old one stops working
    let a1_again = register(&hub, "a1", &[("env", "prod")], &[]);
    refused(
        "POST",
        &poll,
        Some(&bearer(&a1.token)),
        Some(poll_body),
        401,
        "wrong token",
    );
    a1_again.heartbeat();
    hub.assert_log_clean(&[&a1.token, &a2.token, &a1_again.token]);
    hub.stop();
}

#[test]
fn serve_refuses_to_start_without_private_tokens() {
    let t = Test::new()
        .write("admin.token", "admin-token-for-the-tests-0123456789\n")
        .write("join.token", "join-token-for-the-tests-0123456789\n");
    std::fs::set_permissions(
        t.root().join("admin.token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(
        t.root().join("join.token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    t.args(&["hub", "serve", "--admin-token-file", "admin.token", "--join-token-file", "join.token", "--state-dir", "state"])
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has("the admin token file admin.token is readable by others (mode 644): make it owner-only (chmod 600 admin.token)")
        .output_lacks("admin-token-for-the-tests");
    Test::new()
        .args(&["hub", "serve", "--state-dir", "state"])
        .run()
        .code(1)
        .stdout_is("")
        .stderr_is(
            "error: no admin token: give --admin-token-file FILE or set BITOPS_HUB_ADMIN_TOKEN\n",
        );
    Test::new()
        .args(&["hub", "serve", "--state-dir", "state"])
        .env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
        .run()
        .code(1)
        .stdout_is("")
        .stderr_is(
            "error: no join token: give --join-token-file FILE or set BITOPS_HUB_JOIN_TOKEN\n",
        );
    Test::new()
        .args(&["hub", "serve", "--database", "mysql://x@y/z"])
        .env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
        .env("BITOPS_HUB_JOIN_TOKEN", JOIN)
        .run()
        .code(1)
        .stdout_is("")
        .stderr_is("error: --database must be sqlite:///path/hub.db or postgres://user@host/db\n");
    Test::new()
        .args(&["hub", "status", "--hub", "http://127.0.0.1:9"])
        .env("BITOPS_HUB_ADMIN_TOKEN", "short")
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has("the admin token is too short");
}

#[test]
fn ordered_deployment_stops_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let a = register(
        &hub,
        "web-a",
        &[("env", "prod")],
        &[("ec2.region", "eu-west-1")],
    );
    let b = register(
        &hub,
        "web-b",
        &[("env", "prod")],
        &[("ec2.region", "eu-west-1")],
    );
    let c = register(
        &hub,
        "web-c",
        &[("env", "prod")],
        &[("ec2.region", "eu-west-1")],
    );
    let other = register(
        &hub,
        "web-d",
        &[("env", "prod")],
        &[("ec2.region", "us-east-1")],
    );
    // labels and metadata both select
    group(&hub, "prod-eu", &["env=prod", "ec2.region=eu-west-1"]);
    let id = deploy(
        &hub,
        "prod-eu",
        REV,
        &["--strategy", "ordered", "--order", "web-c,web-a"],
    );
    assert_eq!(other.poll(), None, "web-d is not in the group");
    assert_eq!(a.poll(), None, "web-c goes first");
    assert_eq!(b.poll(), None);
    let job = c.next_job();
    assert_eq!(
        (
            job.repo_url.as_str(),
            job.revision.as_str(),
            job.environment.as_str()
        ),
        ("https://git.example.com/ops.git", REV, "prod")
    );
    assert_eq!(c.events(job.id, 1..=3), 3);
    c.result(job.id, JobOutcome::Succeeded).unwrap();
    let job = a.next_job();
    assert_eq!(b.poll(), None, "web-b waits for web-a");
    a.events(job.id, 1..=2);
    a.result(job.id, JobOutcome::Failed).unwrap();
    let d = wait_for(&hub, id, DeploymentState::Failed);
    assert_eq!(
        states(&d),
        vec![
            ("web-c".into(), JobState::Succeeded),
            ("web-a".into(), JobState::Failed),
            ("web-b".into(), JobState::Cancelled),
        ]
    );
    assert_eq!(d.jobs[1].exit_code, Some(1));
    assert_eq!(d.jobs[1].output_tail, vec!["web-a deployed: Failed"]);
    assert_eq!(b.poll(), None, "a cancelled job is never handed out");
    let html = dashboard(&hub);
    for part in [
        "prod-eu",
        "env=prod ec2.region=eu-west-1",
        "web-a",
        "web-b",
        "web-c",
        "web-d",
        "<span class=\"failed\">failed</span>",
        "<td class=\"cancelled\">cancelled</td>",
        "<td class=\"succeeded\">succeeded</td>",
        "web-a deployed: Failed",
        "ordered (web-c, web-a)",
        "http-equiv=\"refresh\"",
    ] {
        assert!(html.contains(part), "the dashboard lacks `{part}`:\n{html}");
    }
    operator(&hub, &["status", "--deployment", &id.to_string()])
        .code(0)
        .stdout_has(&format!("deployment {id}: failed\n"))
        .stdout_has("  web-c: succeeded (exit code 0)\n    step web: ok (<t>)\n    | web-c deployed: Succeeded\n")
        .stdout_has("  web-a: failed (exit code 1)\n")
        .stdout_has("  web-b: cancelled\n")
        .stderr_is("");
    operator(&hub, &["status"])
        .code(0)
        .stdout_has("  prod-eu  [ec2.region=eu-west-1 env=prod]  agents: web-a, web-b, web-c\n")
        .stdout_has(&format!("  #{id}  failed  prod-eu  0123456789ab prod  ordered (web-c, web-a)  web-c succeeded, web-a failed, web-b cancelled\n"))
        .stdout_has("  web-d  idle  seen ")
        .stderr_is("");
    hub.stop();
}

#[test]
fn all_at_once_hands_every_job_out_at_once_and_events_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let agents: Vec<Agent> = (1..=3)
        .map(|i| register(&hub, &format!("n{i}"), &[("role", "web")], &[]))
        .collect();
    group(&hub, "web", &["role=web"]);
    let id = deploy(&hub, "web", REV, &[]);
    let jobs: Vec<Job> = agents
        .iter()
        .map(|a| a.poll().expect("every agent at once"))
        .collect();
    for (a, job) in agents.iter().zip(&jobs) {
        assert_eq!(a.poll(), None, "one job once");
        assert_eq!(a.events(job.id, 1..=3), 3);
        assert_eq!(a.events(job.id, 2..=5), 2, "seq 2 and 3 are kept once");
    }
    let d = deployment(&hub, id);
    assert_eq!(
        d.jobs[0].output_tail,
        (1..=5).map(|i| format!("n1 line {i}")).collect::<Vec<_>>(),
        "the tail while the job runs: its output events, each once"
    );
    for (a, job) in agents.iter().zip(&jobs) {
        a.result(job.id, JobOutcome::Succeeded).unwrap();
    }
    let d = wait_for(&hub, id, DeploymentState::Succeeded);
    assert!(d.jobs.iter().all(|j| j.state == JobState::Succeeded));
    hub.stop();
}

#[test]
fn rolling_deploys_two_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let agents: Vec<Agent> = (1..=5)
        .map(|i| register(&hub, &format!("r{i}"), &[("env", "prod")], &[]))
        .collect();
    group(&hub, "prod", &["env=prod"]);
    let id = deploy(
        &hub,
        "prod",
        REV,
        &[
            "--strategy",
            "rolling",
            "--batch-size",
            "2",
            "--max-failures",
            "1",
        ],
    );
    let mut most = 0;
    let mut failed_one = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = deployment(&hub, id);
        let active = d
            .jobs
            .iter()
            .filter(|j| matches!(j.state, JobState::Queued | JobState::Running))
            .count();
        assert!(active <= 2, "more than 2 at once: {:?}", states(&d));
        most = most.max(active);
        if d.state != DeploymentState::Running {
            break;
        }
        for a in &agents {
            if let Some(job) = a.poll() {
                // one failure is tolerated (max 1): the rollout goes on
                let outcome = if failed_one {
                    JobOutcome::Succeeded
                } else {
                    JobOutcome::Failed
                };
                failed_one = true;
                a.result(job.id, outcome).unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the rollout did not end: {:?}",
            states(&d)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(most, 2);
    let d = deployment(&hub, id);
    assert_eq!(
        d.state,
        DeploymentState::Failed,
        "one job failed: {:?}",
        states(&d)
    );
    assert_eq!(
        d.jobs
            .iter()
            .filter(|j| j.state == JobState::Succeeded)
            .count(),
        4
    );
    hub.stop();
}

#[test]
fn rolling_stops_past_its_failure_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let agents: Vec<Agent> = (1..=4)
        .map(|i| register(&hub, &format!("r{i}"), &[("env", "prod")], &[]))
        .collect();
    group(&hub, "prod", &["env=prod"]);
    let id = deploy(
        &hub,
        "prod",
        REV,
        &["--strategy", "rolling", "--batch-size", "2"],
    );
    let first = agents[0].next_job();
    let second = agents[1].next_job();
    agents[0].result(first.id, JobOutcome::Failed).unwrap();
    // past the threshold (0 failures): the rest is cancelled, the running job finishes
    let d = deployment(&hub, id);
    assert_eq!(d.state, DeploymentState::Running);
    assert_eq!(
        d.jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
        vec![
            JobState::Failed,
            JobState::Running,
            JobState::Cancelled,
            JobState::Cancelled
        ]
    );
    assert_eq!(agents[2].poll(), None);
    agents[1].result(second.id, JobOutcome::Succeeded).unwrap();
    let d = wait_for(&hub, id, DeploymentState::Failed);
    assert_eq!(
        d.jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
        vec![
            JobState::Failed,
            JobState::Succeeded,
            JobState::Cancelled,
            JobState::Cancelled
        ]
    );
    hub.stop();
}

#[test]
fn pause_resume_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let agents: Vec<Agent> = (1..=3)
        .map(|i| register(&hub, &format!("p{i}"), &[("env", "prod")], &[]))
        .collect();
    group(&hub, "prod", &["env=prod"]);
    let id = deploy(&hub, "prod", REV, &["--strategy", "ordered"]);
    let ids = id.to_string();
    operator(&hub, &["pause", &ids])
        .code(0)
        .stdout_has(&format!("deployment {id}: paused\n"))
        .stderr_is("");
    assert_eq!(
        agents[0].poll(),
        None,
        "a paused deployment hands nothing out"
    );
    operator(&hub, &["pause", &ids])
        .code(1)
        .stdout_is("")
        .stderr_is(&format!(
            "error: the hub answered 409: deployment {id} is paused: it cannot pause\n"
        ));
    operator(&hub, &["resume", &ids])
        .code(0)
        .stdout_has(&format!("deployment {id}: running\n"))
        .stderr_is("");
    let job = agents[0].next_job();
    agents[0].result(job.id, JobOutcome::Succeeded).unwrap();
    let job = agents[1].next_job();
    let run = operator(&hub, &["cancel", &ids, "--format", "json"]);
    run.code(0).stderr_is("");
    let d: DeploymentView = serde_json::from_str(run.stdout_text()).unwrap();
    assert_eq!(d.state, DeploymentState::Cancelled);
    assert_eq!(
        d.jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
        vec![JobState::Succeeded, JobState::Running, JobState::Cancelled]
    );
    // the running job still reports how it ended
    agents[1].result(job.id, JobOutcome::Succeeded).unwrap();
    assert_eq!(agents[2].poll(), None);
    let d = deployment(&hub, id);
    assert_eq!(d.state, DeploymentState::Cancelled);
    assert_eq!(d.jobs[1].state, JobState::Succeeded);
    operator(&hub, &["resume", &ids])
        .code(1)
        .stdout_is("")
        .stderr_is(&format!(
            "error: the hub answered 409: deployment {id} is cancelled: it cannot resume\n"
        ));
    hub.stop();
}

#[test]
fn redeploy_takes_only_a_revision_that_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let a = register(&hub, "a", &[("env", "prod")], &[]);
    let s = register(&hub, "s", &[("env", "staging")], &[]);
    group(&hub, "prod", &["env=prod"]);
    group(&hub, "staging", &["env=staging"]);
    let first = deploy(&hub, "staging", REV, &[]);
    let job = s.next_job();
    s.result(job.id, JobOutcome::Succeeded).unwrap();
    wait_for(&hub, first, DeploymentState::Succeeded);
    let failed = deploy(&hub, "prod", REV2, &[]);
    let job = a.next_job();
    a.result(job.id, JobOutcome::Failed).unwrap();
    wait_for(&hub, failed, DeploymentState::Failed);

    let run = operator(
        &hub,
        &[
            "redeploy",
            "--group",
            "prod",
            "--revision",
            REV,
            "--format",
            "json",
        ],
    );
    run.code(0).stderr_is("");
    let d: DeploymentView = serde_json::from_str(run.stdout_text()).unwrap();
    assert_eq!(d.redeploy_of, Some(first));
    assert_eq!(
        (
            d.group.as_str(),
            d.revision.as_str(),
            d.environment.as_str()
        ),
        ("prod", REV, "prod")
    );
    let job = a.next_job();
    assert_eq!(job.revision, REV);
    a.result(job.id, JobOutcome::Succeeded).unwrap();
    wait_for(&hub, d.id, DeploymentState::Succeeded);

    for revision in [REV2, "fedcba9876543210fedcba9876543210fedcba98"] {
        operator(&hub, &["redeploy", "--group", "prod", "--revision", revision])
            .code(1)
            .stdout_is("")
            .stderr_is(&format!(
                "error: the hub answered 409: revision {revision} never succeeded on this hub: only a revision a deployment brought to success can be redeployed\n"
            ));
    }
    operator(&hub, &["redeploy", "--group", "prod", "--revision", "HEAD"])
        .code(1)
        .stdout_is("")
        .stderr_is("error: the hub answered 400: revision `HEAD` is not a full commit id (40 hex digits)\n");
    hub.stop();
}

#[test]
fn a_lost_agent_loses_its_job_and_stops_an_ordered_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::start(
        dir.path(),
        "hub",
        &[
            "--state-dir",
            &dir.path().join("state").to_string_lossy(),
            "--lost-after",
            "2s",
        ],
    );
    let a = register(&hub, "a", &[("env", "prod")], &[]);
    let b = register(&hub, "b", &[("env", "prod")], &[]);
    group(&hub, "prod", &["env=prod"]);
    let id = deploy(&hub, "prod", REV, &["--strategy", "ordered"]);
    let job = a.next_job();
    // a goes silent; b keeps polling
    let started = Instant::now();
    let d = loop {
        assert_eq!(b.poll(), None);
        let d = deployment(&hub, id);
        if d.state != DeploymentState::Running {
            break d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not lost: {:?}",
            states(&d)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "lost too early"
    );
    assert_eq!(d.state, DeploymentState::Failed);
    assert_eq!(
        states(&d),
        vec![
            ("a".into(), JobState::Lost),
            ("b".into(), JobState::Cancelled)
        ]
    );
    assert_eq!(
        d.jobs[0].error.as_deref(),
        Some("the agent was not heard from for 2s")
    );
    let agents: Vec<AgentView> = hub.admin().get(api::AGENTS).unwrap();
    assert_eq!(
        agents
            .iter()
            .map(|a| (a.name.as_str(), a.state))
            .collect::<Vec<_>>(),
        vec![("a", AgentState::Lost), ("b", AgentState::Idle)]
    );
    // its late result is refused clearly; polling again makes it idle
    match a.result(job.id, JobOutcome::Succeeded) {
        Err(CallError::Refused {
            status: 409,
            message,
        }) => {
            assert_eq!(
                message,
                format!("job {} is lost: its result was not recorded", job.id)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(a.poll(), None);
    let agents: Vec<AgentView> = hub.admin().get(api::AGENTS).unwrap();
    assert_eq!(agents[0].state, AgentState::Idle);
    assert!(dashboard(&hub).contains("<td class=\"lost\">lost</td>"));
    hub.stop();
}

#[test]
fn a_killed_hub_restarts_on_its_database_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").to_string_lossy().into_owned();
    let mut hub = Hub::start(dir.path(), "hub", &["--state-dir", &state]);
    let port = hub.port;
    let a = register(&hub, "a", &[("env", "prod")], &[]);
    let b = register(&hub, "b", &[("env", "prod")], &[]);
    group(&hub, "prod", &["env=prod"]);
    let id = deploy(&hub, "prod", REV, &["--strategy", "ordered"]);
    let job = a.next_job();
    assert_eq!(a.events(job.id, 1..=2), 2);
    hub.kill();
    match a.client.post::<_, PollReply>(
        api::POLL,
        &Poll {
            busy: true,
            revision: None,
        },
    ) {
        Err(e @ CallError::Unreachable { .. }) => assert!(e.transient()),
        other => panic!("a killed hub answered: {other:?}"),
    }
    let mut hub = Hub::start_on(dir.path(), "hub", port, &["--state-dir", &state]);
    a.heartbeat();
    // a resends a batch it was not sure of, then goes on
    assert_eq!(a.events(job.id, 1..=4), 2);
    a.result(job.id, JobOutcome::Succeeded).unwrap();
    let job = b.next_job();
    assert_eq!(job.deployment_id, id);
    b.result(job.id, JobOutcome::Succeeded).unwrap();
    let d = wait_for(&hub, id, DeploymentState::Succeeded);
    assert!(d.jobs.iter().all(|j| j.state == JobState::Succeeded));
    let log = hub.log_text();
    assert_eq!(log.matches("bitops hub listening on").count(), 2, "{log}");
    hub.assert_log_clean(&[&a.token, &b.token]);
    hub.stop();
}

/// A private PostgreSQL cluster (initdb, pg_ctl) on 127.0.0.1, run as the `postgres`
/// user when the tests run as root; its postmaster stopped by PID when dropped.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

fn postgres_bin(name: &str) -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    if let Some(found) = candidates.into_iter().find(|p| p.exists()) {
        return found;
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{name} not found (install PostgreSQL: apt-get install postgresql)")
        })
}

impl Postgres {
    fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("bitops-pg-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        let sockets = dir.path().join("sockets");
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&sockets).unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
            assert!(
                !pw.is_null(),
                "running as root needs a `postgres` user (apt-get install postgresql)"
            );
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            for p in [&data, &sockets] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            }
        }
        let as_owner = |program: PathBuf| -> Command {
            if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c.current_dir(dir.path());
                c
            } else {
                Command::new(program)
            }
        };
        let out = as_owner(postgres_bin("initdb"))
            .args([
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let options = format!(
            "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            sockets.display()
        );
        let out = as_owner(postgres_bin("pg_ctl"))
            .args([
                "-D",
                &data.to_string_lossy(),
                "-l",
                &sockets.join("pg.log").to_string_lossy(),
                "-w",
                "-t",
                "30",
                "-o",
                &options,
                "start",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let pg = Postgres { dir, port };
        assert!(
            out.success(),
            "pg_ctl start failed: {}",
            std::fs::read_to_string(pg.dir.path().join("sockets/pg.log")).unwrap_or_default()
        );
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let pid_file = self.dir.path().join("data/postmaster.pid");
        let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()))
        else {
            return;
        };
        // SIGQUIT: PostgreSQL's immediate shutdown; SIGKILL if it lingers.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::test::alive(&pid.to_string()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if crate::test::alive(&pid.to_string()) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl: apt-get install postgresql)"]
fn two_replicas_on_postgresql_hand_each_job_out_once() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let mut one = Hub::start(dir.path(), "one", &["--database", &url]);
    let mut two = Hub::start(dir.path(), "two", &["--database", &url]);
    let hubs = [one.base(), two.base()];
    let agents: Vec<Agent> = (0..20)
        .map(|i| register_at(&hubs[i % 2], &format!("pg{i:02}"), &[("fleet", "pg")], &[]))
        .collect();
    group(&one, "fleet", &["fleet=pg"]);
    // three deployments at once: every agent has three jobs queued, and polls both
    // replicas at the same time, from two threads
    let ids: Vec<i64> = [REV, REV2, REV]
        .iter()
        .enumerate()
        .map(|(i, rev)| deploy(if i % 2 == 0 { &one } else { &two }, "fleet", rev, &[]))
        .collect();
    let taken = std::sync::Mutex::new(Vec::<(String, i64)>::new());
    std::thread::scope(|s| {
        for agent in &agents {
            for base in &hubs {
                let taken = &taken;
                let client = Client::new(base, Some(agent.token.clone()), None).unwrap();
                let name = agent.name.clone();
                s.spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let mut idle = 0;
                    while idle < 10 && Instant::now() < deadline {
                        let reply: PollReply = client
                            .post(
                                api::POLL,
                                &Poll {
                                    busy: false,
                                    revision: None,
                                },
                            )
                            .unwrap();
                        match reply.job {
                            Some(job) => {
                                idle = 0;
                                taken.lock().unwrap().push((name.clone(), job.id));
                                let _: serde_json::Value = client
                                    .post(
                                        &api::JOB_RESULT.replace("{id}", &job.id.to_string()),
                                        &JobResult {
                                            outcome: JobOutcome::Succeeded,
                                            exit_code: 0,
                                            steps: vec![],
                                            output_tail: vec![],
                                            error: None,
                                        },
                                    )
                                    .unwrap();
                            }
                            None => {
                                idle += 1;
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                });
            }
        }
    });
    let taken = taken.into_inner().unwrap();
    let mut job_ids: Vec<i64> = taken.iter().map(|(_, id)| *id).collect();
    job_ids.sort_unstable();
    let handed = job_ids.len();
    job_ids.dedup();
    assert_eq!(
        handed,
        job_ids.len(),
        "a job was handed out twice: {taken:?}"
    );
    assert_eq!(handed, 60, "every job handed out: {taken:?}");
    for id in ids {
        let d = wait_for(&one, id, DeploymentState::Succeeded);
        assert_eq!(d.jobs.len(), 20);
        for job in &d.jobs {
            assert!(
                taken.contains(&(job.agent.clone(), job.id)),
                "job {} went to another agent",
                job.id
            );
        }
    }
    let tokens: Vec<&str> = agents.iter().map(|a| a.token.as_str()).collect();
    one.assert_log_clean(&tokens);
    two.assert_log_clean(&tokens);
    one.stop();
    two.stop();
}

/// Runs `cmd` for at most `limit`, killed by PID after that; its output.
fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{cmd:?} ran longer than {limit:?}");
        }
    }
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium)"]
fn dashboard_in_headless_chromium() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chromium is not installed (apt-get install chromium)");
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::in_state(dir.path());
    let a = register(
        &hub,
        "web-1",
        &[("env", "prod")],
        &[("ec2.region", "eu-west-1")],
    );
    let b = register(
        &hub,
        "web-2",
        &[("env", "prod")],
        &[("ec2.region", "eu-west-1")],
    );
    register(
        &hub,
        "web-3",
        &[("env", "dev"), ("note", "<script>alert(1)</script>")],
        &[],
    );
    group(&hub, "prod", &["env=prod"]);
    let id = deploy(&hub, "prod", REV, &["--strategy", "ordered"]);
    let job = a.next_job();
    a.events(job.id, 1..=3);
    a.result(job.id, JobOutcome::Succeeded).unwrap();
    let job = b.next_job();
    b.events(job.id, 1..=2);
    let url = format!("http://ops:{ADMIN}@127.0.0.1:{}/", hub.port);
    let profile = dir.path().join("chromium");
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/hub-dashboard.png");
    let _ = std::fs::remove_file(&png);
    let common = |extra: &[String]| {
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .env("HOME", dir.path());
        cmd
    };
    let out = run_bounded(
        &mut common(&[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,900".into(),
        ]),
        Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "chromium --screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "a nearly empty screenshot: {} bytes",
        bytes.len()
    );
    let out = run_bounded(&mut common(&["--dump-dom".into()]), Duration::from_secs(90));
    assert!(
        out.status.success(),
        "chromium --dump-dom: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    for part in [
        "<h2>Groups</h2>",
        "prod",
        "web-1, web-2",
        "<td class=\"succeeded\">succeeded</td>",
        "<td class=\"running\">running</td>",
        "<td>web-2</td><td class=\"busy\">busy</td>",
        "web-2 line 2",
        &format!("#{id} to prod"),
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ] {
        assert!(dom.contains(part), "the dashboard lacks `{part}`:\n{dom}");
    }
    assert!(!dom.contains("<script>alert(1)"), "not escaped:\n{dom}");
    hub.stop();
}

/// `openssl ARGS…` in `dir`, which must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed to make the test's certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("hub.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "1",
                "-subj",
                "/CN=bitops test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        d,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "hub.key",
                "-out",
                "hub.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "hub.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "hub.pem",
            "-days",
            "1",
            "-extfile",
            "hub.ext",
        ],
    );
    let port = free_port();
    let state = d.join("state").to_string_lossy().into_owned();
    let ca = d.join("ca.pem");
    let mut hub = Hub::start_with(
        d,
        "hub",
        port,
        &[
            "--state-dir",
            &state,
            "--tls-cert",
            &d.join("hub.pem").to_string_lossy(),
            "--tls-key",
            &d.join("hub.key").to_string_lossy(),
        ],
        Some(&ca),
    );
    let base = format!("https://127.0.0.1:{port}");
    assert!(
        hub.log_text()
            .contains(&format!("bitops hub listening on https://127.0.0.1:{port}"))
    );
    // plain HTTP is not spoken; a client that does not trust the CA is refused
    let plain = raw("GET", &hub.url(api::HEALTH), None, None);
    assert!(
        !matches!(plain, Ok((200, _))),
        "plain HTTP answered: {plain:?}"
    );
    match Client::new(&base, None, None)
        .unwrap()
        .get::<serde_json::Value>(api::HEALTH)
    {
        Err(CallError::Unreachable { reason, .. }) => {
            assert_eq!(reason, "io: invalid peer certificate: UnknownIssuer")
        }
        other => panic!("an untrusted certificate was accepted: {other:?}"),
    }
    let joiner = Client::new(&base, Some(JOIN.into()), Some(&ca)).unwrap();
    let r: Registered = joiner
        .post(
            api::REGISTER,
            &Register {
                name: "tls-1".into(),
                labels: pairs(&[("env", "prod")]),
                metadata: pairs(&[]),
                version: "0.1.0".into(),
            },
        )
        .unwrap();
    let agent = Client::new(&base, Some(r.token.clone()), Some(&ca)).unwrap();
    let reply: PollReply = agent
        .post(
            api::POLL,
            &Poll {
                busy: false,
                revision: None,
            },
        )
        .unwrap();
    assert_eq!(reply.job, None);
    Test::new()
        .args(&[
            "hub",
            "group",
            "prod",
            "--select",
            "env=prod",
            "--hub",
            &base,
            "--ca-file",
            &ca.to_string_lossy(),
        ])
        .env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
        .run()
        .code(0)
        .stdout_is("group prod (env=prod) selects 1 agent: tls-1\n")
        .stderr_is("");
    Test::new()
        .args(&["hub", "status", "--hub", &base])
        .env("BITOPS_HUB_ADMIN_TOKEN", ADMIN)
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has(&format!(
            "error: cannot reach the hub at {base}/api/v1/agents: "
        ));
    hub.assert_log_clean(&[&r.token]);
    hub.stop();
}
