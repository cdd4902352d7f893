//! The hub's HTTP API as data: every request and response body, and the paths. The
//! hub serves it, the agent and the operator commands (`bitops hub …`) call it. JSON;
//! requests refuse unknown fields; an error is `{"error": "…"}` with a 4xx/5xx status.
//!
//! Authentication (`Authorization: Bearer TOKEN`):
//! - `POST /api/v1/agents/register` takes the hub's *join token* and returns the agent's
//!   own token (stored hashed by the hub; the agent keeps it in its state folder);
//! - `/api/v1/agent/…` takes an agent's token: an agent sees only its own jobs;
//! - every other path under `/api/v1/` and the dashboard take the *admin token* (the
//!   dashboard also as HTTP Basic auth, any user name, the token as password).
//!
//! Times are milliseconds since the Unix epoch (UTC).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const REGISTER: &str = "/api/v1/agents/register";
/// `POST` by an agent: its heartbeat, and its next job if one is waiting.
pub const POLL: &str = "/api/v1/agent/poll";
/// `POST /api/v1/agent/jobs/{id}/events`: what a running job did (idempotent by `seq`).
pub const JOB_EVENTS: &str = "/api/v1/agent/jobs/{id}/events";
/// `POST /api/v1/agent/jobs/{id}/result`: how a job ended (idempotent).
pub const JOB_RESULT: &str = "/api/v1/agent/jobs/{id}/result";
/// `GET`: every agent.
pub const AGENTS: &str = "/api/v1/agents";
/// `GET` every group, `POST` a `NewGroup` (replaces a group of that name).
pub const GROUPS: &str = "/api/v1/groups";
/// `GET` every deployment (newest first, without job output), `POST` a `NewDeployment`.
pub const DEPLOYMENTS: &str = "/api/v1/deployments";
/// `GET /api/v1/deployments/{id}`: one deployment with its jobs and their output tails.
pub const DEPLOYMENT: &str = "/api/v1/deployments/{id}";
/// `POST /api/v1/deployments/{id}/{action}`, action: `pause`, `resume`, `cancel`.
pub const DEPLOYMENT_ACTION: &str = "/api/v1/deployments/{id}/{action}";
/// `POST` a `Redeploy`: a revision that succeeded before, deployed again to a group.
pub const REDEPLOY: &str = "/api/v1/redeploy";
/// `GET`: `{"status": "ok"}`, no authentication (for load balancers).
pub const HEALTH: &str = "/healthz";

/// Largest request body the hub reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// An agent introduces itself (with the join token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Unique per hub: a second agent with the same name replaces the first's token.
    pub name: String,
    /// Given with `--label key=value`; groups select on them.
    pub labels: BTreeMap<String, String>,
    /// Read from the cloud's instance metadata where the agent can (`ec2.region`,
    /// `ec2.instance-type`, `ec2.instance-id`, `ec2.availability-zone`, …); groups select
    /// on these too.
    pub metadata: BTreeMap<String, String>,
    /// The agent's bitops version.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registered {
    pub agent_id: i64,
    /// The agent's own token: shown once, stored hashed by the hub.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// Whether a job is running on the agent (it polls while busy too: a heartbeat).
    pub busy: bool,
    /// The revision the agent last deployed successfully.
    pub revision: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollReply {
    /// The next job for this agent (only when it is not busy).
    pub job: Option<Job>,
    /// When to poll again.
    pub poll_after_ms: u64,
}

/// Work for one agent: deploy an environment of an ops repo at an exact commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub id: i64,
    pub deployment_id: i64,
    /// A git URL the agent can fetch (its own credentials for it stay on the agent).
    pub repo_url: String,
    /// A full commit id (40 hex digits); the agent checks it out and verifies it.
    pub revision: String,
    pub environment: String,
    /// `--only` for the run; empty: every deployment of the environment.
    pub only: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The agent took the job (fetching the revision).
    Started,
    StepStarted,
    StepFinished,
    /// Lines of output (masked by the agent).
    Output,
}

/// One thing a running job did, masked on the agent before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobEvent {
    /// Per job, from 1; the hub keeps each `seq` once (a resent batch is harmless).
    pub seq: u64,
    pub time_ms: i64,
    pub kind: EventKind,
    /// The deployment alias, for step events and output.
    pub step: Option<String>,
    /// A step's status (`ok`, `failed`, … as in the `--report` file), for `step_finished`.
    pub status: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobEvents {
    pub events: Vec<JobEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    Succeeded,
    Failed,
    Interrupted,
}

/// One step of a finished job, from the run's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepResult {
    pub alias: String,
    /// As in the `--report` file: `ok`, `failed`, `skipped`, `not_run`, …
    pub status: String,
    pub seconds: f64,
}

/// How a job ended, masked on the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobResult {
    pub outcome: JobOutcome,
    /// `bitops deploy`'s exit code (or the agent's, when it failed before the run).
    pub exit_code: i32,
    pub steps: Vec<StepResult>,
    /// The last lines of output (at most 200), masked.
    pub output_tail: Vec<String>,
    /// Why the job failed before or outside the run (fetch failed, …), masked.
    pub error: Option<String>,
}

/// An operator's group: the agents whose labels (or metadata) hold every pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    pub selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Strategy {
    /// Every agent of the group at once.
    AllAtOnce,
    /// One agent after another, in `order` (agent names; the group's other agents follow
    /// by name); stops at the first failure.
    Ordered {
        #[serde(default)]
        order: Vec<String>,
    },
    /// `batch_size` agents at a time (by name); stops when more than `max_failures`
    /// agents failed.
    Rolling { batch_size: u32, max_failures: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    pub group: String,
    pub repo_url: String,
    /// A full commit id.
    pub revision: String,
    pub environment: String,
    #[serde(default)]
    pub only: Vec<String>,
    pub strategy: Strategy,
}

/// Deploy again a revision that succeeded before (on any group), to `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redeploy {
    pub group: String,
    pub revision: String,
    pub strategy: Strategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Idle,
    Busy,
    /// Not heard from for longer than the hub's `--lost-after`.
    Lost,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub id: i64,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub state: AgentState,
    pub last_seen_ms: i64,
    pub current_revision: Option<String>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub selector: BTreeMap<String, String>,
    /// The names of the agents it selects now.
    pub agents: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Running,
    Paused,
    Cancelled,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its turn in the strategy.
    Pending,
    /// Its turn came: handed to the agent at its next poll.
    Queued,
    Running,
    Succeeded,
    Failed,
    Interrupted,
    /// The agent stopped answering while it ran the job.
    Lost,
    /// The deployment was cancelled, or stopped by the strategy, before its turn.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: i64,
    pub agent: String,
    pub state: JobState,
    pub exit_code: Option<i32>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub steps: Vec<StepResult>,
    /// The last lines of output, masked by the agent (only in `GET …/deployments/{id}`).
    pub output_tail: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub id: i64,
    pub group: String,
    pub repo_url: String,
    pub revision: String,
    pub environment: String,
    pub only: Vec<String>,
    pub strategy: Strategy,
    pub state: DeploymentState,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    /// `deployment_id` of the deployment this one redeploys.
    pub redeploy_of: Option<i64>,
    pub jobs: Vec<JobView>,
}

/// The states by the names the API, the database and the dashboard use for them.
macro_rules! named {
    ($type:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $type {
            pub const ALL: &'static [$type] = &[$($type::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($type::$variant => $name),+
                }
            }

            pub fn from_name(name: &str) -> Option<$type> {
                $type::ALL.iter().copied().find(|s| s.name() == name)
            }
        }
    };
}

named!(AgentState { Idle = "idle", Busy = "busy", Lost = "lost" });
named!(DeploymentState {
    Running = "running",
    Paused = "paused",
    Cancelled = "cancelled",
    Succeeded = "succeeded",
    Failed = "failed",
});
named!(JobState {
    Pending = "pending",
    Queued = "queued",
    Running = "running",
    Succeeded = "succeeded",
    Failed = "failed",
    Interrupted = "interrupted",
    Lost = "lost",
    Cancelled = "cancelled",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_and_unknown_fields() {
        let s: Strategy =
            serde_json::from_str(r#"{"kind": "rolling", "batch_size": 2, "max_failures": 0}"#)
                .unwrap();
        assert_eq!(
            s,
            Strategy::Rolling {
                batch_size: 2,
                max_failures: 0
            }
        );
        let s: Strategy = serde_json::from_str(r#"{"kind": "ordered"}"#).unwrap();
        assert_eq!(s, Strategy::Ordered { order: vec![] });
        assert!(
            serde_json::from_str::<Poll>(r#"{"busy": false, "revision": null, "x": 1}"#).is_err()
        );
    }
}
