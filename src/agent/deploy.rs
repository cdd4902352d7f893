//! One deploy, run by the same engine as `bitops deploy`: this binary as a child
//! (`deploy … --log-format json --report FILE`), the agent's secrets added to its
//! environment; its JSON lines become job events (masked), its report the steps of the
//! result. Stop signals the agent catches are forwarded to it as SIGTERM: the first
//! winds the run down within its grace period, a second stops it at once.

use std::collections::VecDeque;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::agent::secrets::Secrets;
use crate::error::Signal;
use crate::hub::api::{EventKind, StepResult};
use crate::report::mask::Masker;

/// Lines of output a result carries.
pub const TAIL: usize = 200;

/// Variables of the agent's own that a deploy never sees, and those that would change
/// what the agent asks the deploy to do.
const NOT_FOR_DEPLOYS: &[&str] = &[
    "BITOPS_AGENT_JOIN_TOKEN",
    "BITOPS_HUB_ADMIN_TOKEN",
    "BITOPS_HUB_JOIN_TOKEN",
    "BITOPS_ONLY",
    "BITOPS_SKIP",
    "BITOPS_CHANGED_SINCE",
    "BITOPS_WITH_DEPS",
    "BITOPS_OPS_REPO",
    "BITOPS_REPORT",
    "BITOPS_JUNIT",
    "BITOPS_LOG_FORMAT",
    "BITOPS_DRY_RUN",
    "BITOPS_KEEP_WORKSPACE",
    "BITOPS_OUTPUT",
];

/// How every deploy of this agent runs.
pub struct Engine {
    pub exe: PathBuf,
    pub config: Option<PathBuf>,
    pub plugins_dir: Option<PathBuf>,
    pub grace_period: Duration,
    /// The agent's state folder: the deploy locks and the last report go there.
    pub state_dir: PathBuf,
    pub secrets: Secrets,
    pub masker: Masker,
}

/// What a deploy reports as it goes: already masked.
pub trait Events {
    fn event(
        &mut self,
        kind: EventKind,
        step: Option<String>,
        status: Option<String>,
        text: Option<String>,
    );
    /// Called a few times a second: a chance to send what was collected.
    fn tick(&mut self);
}

/// How a deploy ended.
#[derive(Debug, Default)]
pub struct Outcome {
    pub exit_code: i32,
    pub steps: Vec<StepResult>,
    /// The last lines of output (masked).
    pub tail: Vec<String>,
    /// The error the deploy ended with, if any (masked).
    pub error: Option<String>,
    /// The stop signal the agent caught and forwarded, if any.
    pub signal: Option<Signal>,
}

impl Engine {
    /// Deploys `environment` of the ops repo at `checkout`; the console gets the masked
    /// output (stdout) and bitops' messages (stderr) as text.
    pub fn deploy(
        &self,
        checkout: &Path,
        environment: &str,
        only: &[String],
        events: &mut dyn Events,
    ) -> Outcome {
        let report = self.state_dir.join("last-report.json");
        let _ = std::fs::remove_file(&report);
        let mut cmd = Command::new(&self.exe);
        cmd.arg("deploy")
            .arg("-e")
            .arg(environment)
            .arg("--ops-repo")
            .arg(checkout)
            .args(["--log-format", "json", "--ci", "none", "--color", "never"])
            .arg("--report")
            .arg(&report)
            .arg("--state-dir")
            .arg(self.state_dir.join("locks"))
            .arg("--grace-period")
            .arg(format!("{}s", self.grace_period.as_millis().div_ceil(1000)));
        if !only.is_empty() {
            cmd.arg("--only").arg(only.join(","));
        }
        if let Some(c) = &self.config {
            cmd.arg("-c").arg(c);
        }
        if let Some(p) = &self.plugins_dir {
            cmd.arg("--plugins-dir").arg(p);
        }
        for name in NOT_FOR_DEPLOYS {
            cmd.env_remove(name);
        }
        // The secrets' names join the caller's list (the deploy's settings parse it).
        let mut secret_names = std::env::var("BITOPS_LOGGING_SECRET_ENV").unwrap_or_default();
        for name in self.secrets.names() {
            secret_names.push(',');
            secret_names.push_str(&name);
        }
        cmd.env("BITOPS_LOGGING_SECRET_ENV", secret_names)
            .envs(self.secrets.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Signals from a terminal reach the agent only, which forwards them once.
            .process_group(0);
        // SAFETY: prctl only, async-signal-safe. A killed agent's deploy winds down.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                return Outcome {
                    exit_code: 1,
                    error: Some(format!("cannot start {}: {e}", self.exe.display())),
                    ..Outcome::default()
                };
            }
        };
        let pid = child.id() as i32;
        let (tx, rx) = mpsc::channel::<(bool, String)>();
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i == 1, s)))
        .map(|(is_err, stream)| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let line = String::from_utf8_lossy(&buf);
                            let line = line.trim_end_matches(['\n', '\r']).to_string();
                            if tx.send((is_err, line)).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
        drop(tx);
        let mut outcome = Outcome::default();
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut forwarded = crate::stop::count();
        let already = forwarded;
        let mut last_tick = Instant::now();
        loop {
            let caught = crate::stop::count();
            if caught > forwarded {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
                forwarded = caught;
                outcome.signal = crate::stop::requested();
            }
            if last_tick.elapsed() >= Duration::from_millis(200) {
                events.tick();
                last_tick = Instant::now();
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((is_err, line)) => self.line(&line, is_err, events, &mut tail, &mut outcome),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        for r in readers {
            let _ = r.join();
        }
        let status = child.wait();
        outcome.exit_code = match status {
            Ok(s) => s.code().unwrap_or_else(|| {
                128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(9)
            }),
            Err(_) => 1,
        };
        if outcome.signal.is_none() && crate::stop::count() > already {
            outcome.signal = crate::stop::requested();
        }
        outcome.steps = read_steps(&report);
        outcome.tail = tail.into();
        events.tick();
        outcome
    }

    /// One line of the deploy: shown on the console, turned into an event.
    fn line(
        &self,
        line: &str,
        is_err: bool,
        events: &mut dyn Events,
        tail: &mut VecDeque<String>,
        outcome: &mut Outcome,
    ) {
        let m = |t: &str| self.masker.mask_str(t).into_owned();
        let keep = |text: String, tail: &mut VecDeque<String>| {
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(text);
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
            // Not JSON: a message from outside the run; shown and kept as it is, masked.
            let text = m(line);
            say_line(is_err, &text);
            keep(text.clone(), tail);
            events.event(EventKind::Output, None, None, Some(text));
            return;
        };
        let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(m);
        let message = field("message").unwrap_or_default();
        let step = field("step");
        let stream = field("stream").unwrap_or_default();
        match json.get("event").and_then(|v| v.as_str()) {
            Some("step_started") => {
                say_line(true, &message);
                events.event(EventKind::StepStarted, step, None, Some(message));
            }
            Some("step_finished") => {
                say_line(true, &message);
                events.event(
                    EventKind::StepFinished,
                    step,
                    field("status"),
                    Some(message),
                );
            }
            event => {
                if stream == "diagnostic" {
                    say_line(true, &message);
                    return;
                }
                if event == Some("error") {
                    outcome.error = Some(message.clone());
                }
                say_line(stream != "output", &message);
                keep(message.clone(), tail);
                events.event(EventKind::Output, step, None, Some(message));
            }
        }
    }
}

fn say_line(is_err: bool, text: &str) {
    let line = format!("{text}\n");
    if is_err {
        crate::agent::err(&line);
    } else {
        crate::agent::out(&line);
    }
}

/// The steps of the deploy's report (alias, status, seconds); none without a report.
fn read_steps(report: &Path) -> Vec<StepResult> {
    let Ok(text) = std::fs::read_to_string(report) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    json.get("steps")
        .and_then(|s| s.as_array())
        .map(|steps| {
            steps
                .iter()
                .map(|s| StepResult {
                    alias: s["alias"].as_str().unwrap_or_default().to_string(),
                    status: s["status"].as_str().unwrap_or_default().to_string(),
                    seconds: s["seconds"].as_f64().unwrap_or(0.0),
                })
                .collect()
        })
        .unwrap_or_default()
}
