//! The hub loop: register (or reuse the token kept in the state folder), poll for jobs
//! from a thread of its own (also while a job runs: the heartbeat), run one job at a
//! time, and queue its masked events and result in the spool, which a sender thread
//! delivers in order. SIGTERM/SIGINT: the running deploy winds down, its job is
//! reported `interrupted`, the agent exits 143/130; a second signal stops at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::checkout::{checkout, redact_all};
use crate::agent::deploy::{Events, TAIL};
use crate::agent::spool::{Message, Spool, start_sender};
use crate::agent::{Options, debug, nap, now_ms, say};
use crate::error::{Error, Problem, Result, Signal};
use crate::hub::api::{self, EventKind, Job, JobEvent, JobEvents, JobOutcome, JobResult};
use crate::hub::client::{CallError, Client};
use crate::report::mask::Masker;

/// How long, after its last job, the agent waits for the hub to take what is queued
/// before it exits (what is left stays in the spool for the next start).
const DRAIN: Duration = Duration::from_secs(10);

/// The agent's identity at the hub, kept in the state folder (0600).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Identity {
    hub: String,
    /// What it registered with; a change registers again.
    register: api::Register,
    agent_id: i64,
    token: String,
}

struct Shared {
    client: RwLock<Client>,
    hub: String,
    register: api::Register,
    join_token: Option<String>,
    identity_file: PathBuf,
    busy: AtomicBool,
    revision: Mutex<Option<String>>,
    /// Why the agent cannot go on (the hub refused it for good).
    fatal: Mutex<Option<String>>,
    masker: Masker,
}

impl Shared {
    fn client(&self) -> std::sync::RwLockReadGuard<'_, Client> {
        self.client.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers with the join token and keeps the new token. `Err` when it cannot.
    fn register(&self) -> std::result::Result<(), CallError> {
        let Some(join) = &self.join_token else {
            return Err(CallError::Refused {
                status: 401,
                message: "there is no join token to register with: put it in a file for --join-token-file, or in BITOPS_AGENT_JOIN_TOKEN".into(),
            });
        };
        // The agent's client (its TLS settings), with the join token for this call.
        let mut guard = self.client.write().unwrap_or_else(|e| e.into_inner());
        guard.set_token(join.clone());
        let reply: std::result::Result<api::Registered, CallError> =
            guard.post(api::REGISTER, &self.register);
        match reply {
            Ok(r) => {
                guard.set_token(r.token.clone());
                let identity = Identity {
                    hub: self.hub.clone(),
                    register: self.register.clone(),
                    agent_id: r.agent_id,
                    token: r.token,
                };
                let text = serde_json::to_string_pretty(&identity).unwrap_or_default();
                if let Err(e) = crate::files::write_private(&self.identity_file, text.as_bytes()) {
                    say(&format!(
                        "cannot keep the agent's token in {}: {e}; it will register again after a restart",
                        self.identity_file.display()
                    ));
                }
                say(&format!(
                    "registered with {} as {} (agent {})",
                    self.hub, self.register.name, r.agent_id
                ));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// A call that registers again when the hub no longer knows the agent's token.
    fn call<T: serde::de::DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> std::result::Result<T, CallError> {
        let first = self.client().post(path, body);
        match first {
            Err(CallError::Refused { status: 401, .. }) => {
                say("the hub refused the agent's token; registering again");
                match self.register() {
                    Ok(()) => self.client().post(path, body),
                    Err(e) if e.transient() => Err(e),
                    Err(e) => {
                        self.fail(format!("cannot register again: {e}"));
                        Err(e)
                    }
                }
            }
            other => other,
        }
    }

    fn fail(&self, why: String) {
        *self.fatal.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

pub fn run(opts: &Options) -> Result<()> {
    let hub = opts.hub.clone().unwrap_or_default();
    let problem = |msg: String| Error::Invalid(vec![Problem::error(msg)]);
    let metadata = crate::agent::metadata::discover(&opts.metadata_url);
    debug(&format!(
        "instance metadata: {}",
        if metadata.is_empty() {
            "none".to_string()
        } else {
            metadata.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    ));
    let client = Client::new(&hub, None, opts.ca_file.as_deref())
        .map_err(|e| problem(format!("cannot use the hub's CA certificate: {e}")))?;
    let register = api::Register {
        name: opts.name.clone(),
        labels: opts.labels.clone(),
        metadata,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let identity_file = opts.state_dir.join("agent.json");
    let shared = Arc::new(Shared {
        client: RwLock::new(client),
        hub: hub.clone(),
        register: register.clone(),
        join_token: opts.join_token.clone(),
        identity_file: identity_file.clone(),
        busy: AtomicBool::new(false),
        revision: Mutex::new(None),
        fatal: Mutex::new(None),
        masker: opts.engine.masker.clone(),
    });
    let known: Option<Identity> = std::fs::read_to_string(&identity_file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(|i: &Identity| i.hub == hub && i.register == register);
    match known {
        Some(identity) => {
            debug(&format!(
                "reusing the token of agent {} kept in {}",
                identity.agent_id,
                identity_file.display()
            ));
            shared
                .client
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .set_token(identity.token);
        }
        None => {
            if opts.join_token.is_none() {
                return Err(Error::Invalid(vec![
                    Problem::error(format!(
                        "no join token to register with the hub at {hub}"
                    ))
                    .hint("put the hub's join token in a file (mode 0600) and pass --join-token-file FILE, or set BITOPS_AGENT_JOIN_TOKEN"),
                ]));
            }
            register_until_done(&shared)?;
        }
    }
    say(&format!(
        "{} polling {hub} every {}; labels: {}",
        opts.name,
        crate::report::time::secs(opts.poll.as_secs_f64()),
        if opts.labels.is_empty() {
            "none".to_string()
        } else {
            opts.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let spool = Arc::new(Spool::open(opts.state_dir.join("spool.jsonl")));
    if spool.pending() > 0 {
        say(&format!(
            "{} message(s) from before are waiting to be sent",
            spool.pending()
        ));
    }
    {
        let shared = shared.clone();
        start_sender(
            spool.clone(),
            opts.poll.min(Duration::from_secs(1)),
            move |m| match m {
                Message::Events { job, events } => shared
                    .call::<serde_json::Value, _>(
                        &api::JOB_EVENTS.replace("{id}", &job.to_string()),
                        &JobEvents {
                            events: events.clone(),
                        },
                    )
                    .map(|_| ()),
                Message::Result { job, result } => shared
                    .call::<serde_json::Value, _>(
                        &api::JOB_RESULT.replace("{id}", &job.to_string()),
                        result,
                    )
                    .map(|_| ()),
            },
        );
    }
    let (jobs_tx, jobs) = mpsc::channel::<Job>();
    {
        let shared = shared.clone();
        let poll = opts.poll;
        std::thread::spawn(move || poll_loop(&shared, poll, &jobs_tx));
    }
    let stopped = |signal: Signal, spool: &Spool| -> Result<()> {
        say(&format!("stopped by {}", signal.name()));
        if spool.pending() > 0 && crate::stop::count() < 2 {
            spool.wait_empty(DRAIN);
        }
        Err(Error::Printed {
            code: signal.exit_code(),
        })
    };
    loop {
        if let Some(signal) = crate::stop::requested() {
            return stopped(signal, &spool);
        }
        if let Some(why) = shared
            .fatal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return Err(problem(why));
        }
        let job = match jobs.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(problem("the poll thread ended".into()));
            }
        };
        let result = run_job(opts, &shared, &spool, &job);
        if result.outcome == JobOutcome::Succeeded {
            *shared.revision.lock().unwrap_or_else(|e| e.into_inner()) = Some(job.revision.clone());
        }
        shared.busy.store(false, Ordering::SeqCst);
        if let Some(signal) = crate::stop::requested() {
            return stopped(signal, &spool);
        }
        if opts.once {
            if !spool.wait_empty(DRAIN) {
                say(
                    "the hub did not take the job's result yet; it stays in the spool for the next start",
                );
            }
            return match result.exit_code {
                0 => Ok(()),
                code => Err(Error::Printed { code }),
            };
        }
    }
}

/// Registers, trying again while the hub cannot be reached; a refusal is final.
fn register_until_done(shared: &Shared) -> Result<()> {
    let mut wait = Duration::from_millis(500);
    let mut said = false;
    loop {
        match shared.register() {
            Ok(()) => return Ok(()),
            Err(e) if e.transient() => {
                if !said {
                    say(&format!("{e}; trying again"));
                    said = true;
                }
                if !nap(wait) {
                    let signal = crate::stop::requested().unwrap_or(Signal::Terminate);
                    say(&format!("stopped by {}", signal.name()));
                    return Err(Error::Printed {
                        code: signal.exit_code(),
                    });
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(e) => {
                return Err(Error::Invalid(vec![
                    Problem::error(format!(
                        "the hub at {} refused to register this agent: {e}",
                        shared.hub
                    ))
                    .hint("check the join token (--join-token-file or BITOPS_AGENT_JOIN_TOKEN) and the agent's name"),
                ]));
            }
        }
    }
}

/// Polls for as long as the agent runs: a job goes to the main thread when the agent
/// is idle; while busy the poll is the heartbeat.
fn poll_loop(shared: &Shared, every: Duration, jobs: &mpsc::Sender<Job>) {
    let mut down = false;
    loop {
        let busy = shared.busy.load(Ordering::SeqCst);
        let body = api::Poll {
            busy,
            revision: shared
                .revision
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        };
        let mut wait = every;
        match shared.call::<api::PollReply, _>(api::POLL, &body) {
            Ok(reply) => {
                if down {
                    say("the hub answers again");
                    down = false;
                }
                if reply.poll_after_ms > 0 {
                    wait = wait.min(Duration::from_millis(reply.poll_after_ms));
                }
                if let Some(job) = reply.job {
                    if busy {
                        debug(&format!(
                            "job {} offered while busy; left to the hub",
                            job.id
                        ));
                    } else {
                        shared.busy.store(true, Ordering::SeqCst);
                        if jobs.send(job).is_err() {
                            return;
                        }
                        continue;
                    }
                }
            }
            Err(e) if e.transient() => {
                if !down {
                    say(&format!("{e}; polling on"));
                    down = true;
                }
            }
            Err(e) => {
                say(&format!("the hub refused a poll: {e}"));
            }
        }
        if crate::stop::count() > 1 {
            return;
        }
        std::thread::sleep(wait);
    }
}

/// Collects a job's events and queues them in batches.
struct Batcher<'a> {
    job: i64,
    seq: u64,
    batch: Vec<JobEvent>,
    spool: &'a Spool,
    masker: &'a Masker,
}

impl Events for Batcher<'_> {
    fn event(
        &mut self,
        kind: EventKind,
        step: Option<String>,
        status: Option<String>,
        text: Option<String>,
    ) {
        self.seq += 1;
        let m = |t: Option<String>| t.map(|t| self.masker.mask_str(&t).into_owned());
        self.batch.push(JobEvent {
            seq: self.seq,
            time_ms: now_ms(),
            kind,
            step: m(step),
            status,
            text: m(text),
        });
        if self.batch.len() >= 200 {
            self.tick();
        }
    }

    fn tick(&mut self) {
        if !self.batch.is_empty() {
            self.spool.push(Message::Events {
                job: self.job,
                events: std::mem::take(&mut self.batch),
            });
        }
    }
}

fn run_job(opts: &Options, shared: &Shared, spool: &Spool, job: &Job) -> JobResult {
    let masker = &shared.masker;
    let url = redact_all(&job.repo_url);
    say(&format!(
        "job {}: deploying {} at {} from {url}",
        job.id, job.environment, job.revision
    ));
    let mut batcher = Batcher {
        job: job.id,
        seq: 0,
        batch: Vec::new(),
        spool,
        masker,
    };
    batcher.event(
        EventKind::Started,
        None,
        None,
        Some(format!("fetching {url} at {}", job.revision)),
    );
    batcher.tick();
    let result = match checkout(
        &opts.state_dir.join("checkouts"),
        &job.repo_url,
        &job.revision,
    ) {
        Err(why) => {
            let why = masker.mask_str(&redact_all(&why)).into_owned();
            say(&format!("job {}: {why}", job.id));
            let interrupted = crate::stop::requested();
            JobResult {
                outcome: if interrupted.is_some() {
                    JobOutcome::Interrupted
                } else {
                    JobOutcome::Failed
                },
                exit_code: interrupted.map_or(1, Signal::exit_code),
                steps: Vec::new(),
                output_tail: Vec::new(),
                error: Some(why),
            }
        }
        Ok(dir) => {
            let only = job.only.clone();
            let outcome = opts
                .engine
                .deploy(&dir, &job.environment, &only, &mut batcher);
            let state = if outcome.signal.is_some() {
                JobOutcome::Interrupted
            } else if outcome.exit_code == 0 {
                JobOutcome::Succeeded
            } else {
                JobOutcome::Failed
            };
            let mut tail = outcome.tail;
            if tail.len() > TAIL {
                tail.drain(..tail.len() - TAIL);
            }
            JobResult {
                outcome: state,
                exit_code: outcome.exit_code,
                steps: outcome.steps,
                output_tail: tail
                    .iter()
                    .map(|l| masker.mask_str(l).into_owned())
                    .collect(),
                error: outcome
                    .error
                    .map(|e| masker.mask_str(&redact_all(&e)).into_owned()),
            }
        }
    };
    batcher.tick();
    let word = match result.outcome {
        JobOutcome::Succeeded => "succeeded",
        JobOutcome::Failed => "failed",
        JobOutcome::Interrupted => "interrupted",
    };
    say(&format!(
        "job {}: {word} (exit {})",
        job.id, result.exit_code
    ));
    spool.push(Message::Result {
        job: job.id,
        result: result.clone(),
    });
    result
}

/// Labels from `KEY=VALUE` words.
pub fn labels(words: &[String]) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => {
                return Err(format!(
                    "--label `{w}` is not KEY=VALUE (e.g. --label env=prod)"
                ));
            }
        }
    }
    Ok(out)
}
