//! The hub's state in SQL: SQLite (one file, the default) or PostgreSQL (shared by hub
//! replicas), through sqlx's `Any` driver with the versioned migrations of
//! `migrations/sqlite` and `migrations/postgres`. Times are i64 milliseconds, JSON is TEXT.
//! Every change that two replicas could race on is one atomic statement or a transaction
//! holding the deployment's row (`FOR UPDATE` on PostgreSQL; SQLite has one writer).

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::hub::api::{
    AgentState, AgentView, DeploymentState, DeploymentView, GroupView, Job, JobEvent, JobOutcome,
    JobResult, JobState, JobView, NewDeployment, NewGroup, Poll, Register, StepResult, Strategy,
};
use crate::hub::strategy::{self, Turn};

/// Why a request could not be done: the caller's mistake, or the database's.
#[derive(Debug)]
pub enum Fault {
    Invalid(String),
    NotFound(String),
    Conflict(String),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Fault {
    fn from(e: sqlx::Error) -> Self {
        Fault::Database(e)
    }
}

pub type Result<T, E = Fault> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The most output lines kept per job.
pub const TAIL_LINES: usize = 200;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A name of an agent, group, environment or deployment alias.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Fault::Invalid(format!(
            "{what} `{}` is not a valid name: 1 to 100 of A-Z a-z 0-9 . _ -",
            name.chars().take(100).collect::<String>()
        )))
    }
}

fn check_text(what: &str, text: &str, max: usize) -> Result<()> {
    if text.is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return Err(Fault::Invalid(format!(
            "{what} must be 1 to {max} characters without control characters"
        )));
    }
    Ok(())
}

fn check_pairs(what: &str, pairs: &BTreeMap<String, String>) -> Result<()> {
    if pairs.len() > 64 {
        return Err(Fault::Invalid(format!("at most 64 {what}")));
    }
    for (k, v) in pairs {
        check_text(&format!("a key of the {what}"), k, 256)?;
        check_text(&format!("the value of {what} `{k}`"), v, 256)?;
    }
    Ok(())
}

fn check_revision(revision: &str) -> Result<()> {
    if matches!(revision.len(), 40 | 64) && revision.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Fault::Invalid(format!(
            "revision `{}` is not a full commit id (40 hex digits)",
            revision.chars().take(80).collect::<String>()
        )))
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn parse<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

/// Whether an agent with these labels and metadata holds every pair of `selector`.
pub fn selects(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    metadata: &BTreeMap<String, String>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v) || metadata.get(k) == Some(v))
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and brings its schema up to date.
    pub async fn open(url: &str) -> std::result::Result<Store, String> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(
                "--database must be sqlite:///path/hub.db or postgres://user@host/db".to_string(),
            );
        };
        let shown = redact(url);
        let pool = match backend {
            // One connection: SQLite has one writer anyway, and no transaction waits on
            // another connection's lock.
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
            }
        }
        .map_err(|e| format!("cannot open the database {shown}: {e}"))?;
        let migrated = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await,
        };
        migrated.map_err(|e| format!("cannot migrate the database {shown}: {e}"))?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Registers (or re-registers, with a new token) the agent `r.name`.
    pub async fn register(&self, r: &Register, token_hash: &str, now: i64) -> Result<i64> {
        check_name("the agent name", &r.name)?;
        check_pairs("labels", &r.labels)?;
        check_pairs("metadata", &r.metadata)?;
        check_text("the version", &r.version, 64)?;
        let row = sqlx::query(
            "INSERT INTO agents (name, token_hash, labels, metadata, version, registered_ms, \
             last_seen_ms, busy, lost) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0) \
             ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, \
             labels = excluded.labels, metadata = excluded.metadata, version = excluded.version, \
             last_seen_ms = excluded.last_seen_ms, lost = 0 RETURNING id",
        )
        .bind(&r.name)
        .bind(token_hash)
        .bind(json(&r.labels))
        .bind(json(&r.metadata))
        .bind(&r.version)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The agent (id, name) whose token has this hash.
    pub async fn agent_by_token(&self, token_hash: &str) -> Result<Option<(i64, String)>> {
        let row = sqlx::query("SELECT id, name FROM agents WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("id")?, r.try_get("name")?)),
            None => None,
        })
    }

    /// An agent's heartbeat, and when it is not busy its next queued job, handed out once:
    /// the job turns `running` in the same statement that picks it.
    pub async fn poll(&self, agent: i64, p: &Poll, now: i64) -> Result<Option<Job>> {
        if let Some(rev) = &p.revision {
            check_text("the revision", rev, 64)?;
        }
        sqlx::query(
            "UPDATE agents SET last_seen_ms = $1, busy = $2, lost = 0, \
             current_revision = COALESCE($3, current_revision) WHERE id = $4",
        )
        .bind(now)
        .bind(i64::from(p.busy))
        .bind(p.revision.clone())
        .bind(agent)
        .execute(&self.pool)
        .await?;
        if p.busy {
            return Ok(None);
        }
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF j SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claimed = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', started_ms = $1 WHERE id = (\
             SELECT j.id FROM jobs j JOIN deployments d ON d.id = j.deployment_id \
             WHERE j.agent_id = $2 AND j.state = 'queued' AND d.state = 'running' \
             ORDER BY j.id LIMIT 1{lock}) AND state = 'queued' RETURNING id, deployment_id"
        ))
        .bind(now)
        .bind(agent)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = claimed else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let deployment_id: i64 = row.try_get("deployment_id")?;
        let d = sqlx::query(
            "SELECT repo_url, revision, environment, only_json FROM deployments WHERE id = $1",
        )
        .bind(deployment_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(Job {
            id,
            deployment_id,
            repo_url: d.try_get("repo_url")?,
            revision: d.try_get("revision")?,
            environment: d.try_get("environment")?,
            only: parse(&d.try_get::<String, _>("only_json")?),
        }))
    }

    /// The state and deployment of `job` when it is `agent`'s; not found otherwise (an
    /// agent sees only its own jobs).
    async fn own_job(&self, agent: i64, job: i64) -> Result<(JobState, i64)> {
        let row = sqlx::query("SELECT agent_id, state, deployment_id FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) if r.try_get::<i64, _>("agent_id")? == agent => Ok((
                JobState::from_name(&r.try_get::<String, _>("state")?)
                    .unwrap_or(JobState::Cancelled),
                r.try_get("deployment_id")?,
            )),
            _ => Err(Fault::NotFound(format!("this agent has no job {job}"))),
        }
    }

    /// Keeps each event of a job once (by `seq`); returns how many were new.
    pub async fn add_events(&self, agent: i64, job: i64, events: &[JobEvent]) -> Result<u64> {
        self.own_job(agent, job).await?;
        if events.len() > 10_000 {
            return Err(Fault::Invalid("at most 10000 events at once".into()));
        }
        if let Some(e) = events
            .iter()
            .find(|e| e.seq == 0 || e.seq > i64::MAX as u64)
        {
            return Err(Fault::Invalid(format!(
                "event seq {} is out of range (from 1)",
                e.seq
            )));
        }
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for e in events {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            added += sqlx::query(
                "INSERT INTO job_events (job_id, seq, time_ms, kind, step, status, text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id, seq) DO NOTHING",
            )
            .bind(job)
            .bind(e.seq as i64)
            .bind(e.time_ms)
            .bind(kind)
            .bind(e.step.clone())
            .bind(e.status.clone())
            .bind(e.text.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Records how a running job ended; the same result again is accepted and changes
    /// nothing. Returns the job's deployment.
    pub async fn finish_job(&self, agent: i64, job: i64, r: &JobResult, now: i64) -> Result<i64> {
        let (state, deployment) = self.own_job(agent, job).await?;
        match state {
            JobState::Running => {}
            JobState::Succeeded | JobState::Failed | JobState::Interrupted => {
                return Ok(deployment);
            }
            other => {
                return Err(Fault::Conflict(format!(
                    "job {job} is {}: its result was not recorded",
                    other.name()
                )));
            }
        }
        let new_state = match r.outcome {
            JobOutcome::Succeeded => JobState::Succeeded,
            JobOutcome::Failed => JobState::Failed,
            JobOutcome::Interrupted => JobState::Interrupted,
        };
        let skip = r.output_tail.len().saturating_sub(TAIL_LINES);
        let tail: Vec<&String> = r.output_tail.iter().skip(skip).collect();
        sqlx::query(
            "UPDATE jobs SET state = $1, exit_code = $2, steps_json = $3, output_tail = $4, \
             error = $5, finished_ms = $6 WHERE id = $7 AND state = 'running'",
        )
        .bind(new_state.name())
        .bind(i64::from(r.exit_code))
        .bind(json(&r.steps))
        .bind(json(&tail))
        .bind(r.error.clone())
        .bind(now)
        .bind(job)
        .execute(&self.pool)
        .await?;
        Ok(deployment)
    }

    /// Agents not heard from since `cutoff` are lost, and so are the jobs they were given.
    /// Returns the deployments touched.
    pub async fn mark_lost(&self, cutoff: i64, now: i64, why: &str) -> Result<Vec<i64>> {
        sqlx::query("UPDATE agents SET lost = 1 WHERE lost = 0 AND last_seen_ms < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'lost', finished_ms = $1, error = $2 \
             WHERE state IN ('queued', 'running') \
             AND agent_id IN (SELECT id FROM agents WHERE lost = 1) RETURNING deployment_id",
        )
        .bind(now)
        .bind(why)
        .fetch_all(&self.pool)
        .await?;
        let mut ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| r.try_get("deployment_id").ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    pub async fn agents(&self) -> Result<Vec<AgentView>> {
        let rows = sqlx::query(
            "SELECT id, name, labels, metadata, version, last_seen_ms, lost, current_revision, \
             busy + (SELECT COUNT(*) FROM jobs WHERE jobs.agent_id = agents.id \
             AND jobs.state = 'running') AS busy FROM agents ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_view).collect()
    }

    /// Defines (or replaces) a group.
    pub async fn put_group(&self, g: &NewGroup) -> Result<()> {
        check_name("the group name", &g.name)?;
        check_pairs("selector", &g.selector)?;
        sqlx::query(
            "INSERT INTO agent_groups (name, selector) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET selector = excluded.selector",
        )
        .bind(&g.name)
        .bind(json(&g.selector))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn groups(&self) -> Result<Vec<GroupView>> {
        let agents = self.agents().await?;
        let rows = sqlx::query("SELECT name, selector FROM agent_groups ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut groups = Vec::new();
        for r in rows {
            let selector: BTreeMap<String, String> = parse(&r.try_get::<String, _>("selector")?);
            groups.push(GroupView {
                name: r.try_get("name")?,
                agents: agents
                    .iter()
                    .filter(|a| selects(&selector, &a.labels, &a.metadata))
                    .map(|a| a.name.clone())
                    .collect(),
                selector,
            });
        }
        Ok(groups)
    }

    async fn group(&self, name: &str) -> Result<GroupView> {
        self.groups()
            .await?
            .into_iter()
            .find(|g| g.name == name)
            .ok_or_else(|| {
                Fault::NotFound(format!(
                    "no group `{name}`: define it first (bitops hub group {name} --select KEY=VALUE)"
                ))
            })
    }

    /// A new deployment to every agent its group selects now, the jobs in turn order.
    pub async fn create_deployment(
        &self,
        d: &NewDeployment,
        redeploy_of: Option<i64>,
        now: i64,
    ) -> Result<i64> {
        check_name("the group name", &d.group)?;
        check_text("repo_url", &d.repo_url, 2048)?;
        if d.repo_url.chars().any(char::is_whitespace) {
            return Err(Fault::Invalid("repo_url holds whitespace".into()));
        }
        check_revision(&d.revision)?;
        check_name("the environment", &d.environment)?;
        for alias in &d.only {
            check_name("a deployment alias of `only`", alias)?;
        }
        let group = self.group(&d.group).await?;
        if group.agents.is_empty() {
            return Err(Fault::Conflict(format!(
                "group `{}` selects no agent now: nothing to deploy to",
                d.group
            )));
        }
        let mut turns: Vec<String> = Vec::new();
        match &d.strategy {
            Strategy::Ordered { order } => {
                for name in order {
                    if !group.agents.contains(name) {
                        return Err(Fault::Invalid(format!(
                            "the order names `{name}`, which group `{}` does not select (it selects: {})",
                            d.group,
                            group.agents.join(", ")
                        )));
                    }
                    if turns.contains(name) {
                        return Err(Fault::Invalid(format!("the order names `{name}` twice")));
                    }
                    turns.push(name.clone());
                }
            }
            Strategy::Rolling { batch_size: 0, .. } => {
                return Err(Fault::Invalid(
                    "a rolling batch_size must be at least 1".into(),
                ));
            }
            _ => {}
        }
        for name in &group.agents {
            if !turns.contains(name) {
                turns.push(name.clone());
            }
        }
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO deployments (group_name, repo_url, revision, environment, only_json, \
             strategy_json, state, created_ms, redeploy_of) \
             VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8) RETURNING id",
        )
        .bind(&d.group)
        .bind(&d.repo_url)
        .bind(d.revision.to_ascii_lowercase())
        .bind(&d.environment)
        .bind(json(&d.only))
        .bind(json(&d.strategy))
        .bind(now)
        .bind(redeploy_of)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for (position, name) in turns.iter().enumerate() {
            sqlx::query(
                "INSERT INTO jobs (deployment_id, agent_id, agent_name, position, state) \
                 SELECT $1, id, name, $2, 'pending' FROM agents WHERE name = $3",
            )
            .bind(id)
            .bind(position as i64)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.advance(id, now).await?;
        Ok(id)
    }

    /// The newest deployment that brought `revision` to success: (id, repo, environment, only).
    pub async fn succeeded_revision(
        &self,
        revision: &str,
    ) -> Result<Option<(i64, String, String, Vec<String>)>> {
        check_revision(revision)?;
        let row = sqlx::query(
            "SELECT id, repo_url, environment, only_json FROM deployments \
             WHERE revision = $1 AND state = 'succeeded' ORDER BY id DESC LIMIT 1",
        )
        .bind(revision.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((
                r.try_get("id")?,
                r.try_get("repo_url")?,
                r.try_get("environment")?,
                parse(&r.try_get::<String, _>("only_json")?),
            )),
            None => None,
        })
    }

    /// Every deployment, newest first, its jobs without output.
    pub async fn deployments(&self) -> Result<Vec<DeploymentView>> {
        let rows = sqlx::query(&format!("{DEPLOYMENT_COLUMNS} ORDER BY id DESC"))
            .fetch_all(&self.pool)
            .await?;
        let jobs = sqlx::query(&format!("{JOB_COLUMNS} ORDER BY deployment_id, position"))
            .fetch_all(&self.pool)
            .await?;
        let mut by_deployment: BTreeMap<i64, Vec<JobView>> = BTreeMap::new();
        for j in &jobs {
            let mut view = job_view(j)?;
            view.output_tail.clear();
            by_deployment
                .entry(j.try_get("deployment_id")?)
                .or_default()
                .push(view);
        }
        rows.iter()
            .map(|r| {
                let mut d = deployment_view(r)?;
                d.jobs = by_deployment.remove(&d.id).unwrap_or_default();
                Ok(d)
            })
            .collect()
    }

    /// One deployment with its jobs and their output tails (the result's, or while the
    /// job runs the output events so far).
    pub async fn deployment(&self, id: i64) -> Result<DeploymentView> {
        let row = sqlx::query(&format!("{DEPLOYMENT_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Fault::NotFound(format!("no deployment {id}")))?;
        let mut d = deployment_view(&row)?;
        let jobs = sqlx::query(&format!(
            "{JOB_COLUMNS} WHERE deployment_id = $1 ORDER BY position"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        for j in &jobs {
            let mut view = job_view(j)?;
            if view.output_tail.is_empty() {
                view.output_tail = self.event_tail(view.id).await?;
            }
            d.jobs.push(view);
        }
        Ok(d)
    }

    async fn event_tail(&self, job: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT text FROM job_events WHERE job_id = $1 AND kind = 'output' \
             AND text IS NOT NULL ORDER BY seq DESC LIMIT $2",
        )
        .bind(job)
        .bind(TAIL_LINES as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut lines: Vec<String> = Vec::new();
        for r in rows.iter().rev() {
            let text: String = r.try_get("text")?;
            lines.extend(text.lines().map(str::to_string));
        }
        let skip = lines.len().saturating_sub(TAIL_LINES);
        Ok(lines.split_off(skip))
    }

    /// `pause`, `resume` or `cancel` a deployment.
    pub async fn act(&self, id: i64, action: &str, now: i64) -> Result<()> {
        let (from, to): (&[&str], &str) = match action {
            "pause" => (&["running"], "paused"),
            "resume" => (&["paused"], "running"),
            "cancel" => (&["running", "paused"], "cancelled"),
            other => {
                return Err(Fault::NotFound(format!(
                    "no action `{}` (pause, resume, cancel)",
                    other.chars().take(40).collect::<String>()
                )));
            }
        };
        let d = self.deployment(id).await?;
        let state = d.state.name();
        if !from.contains(&state) {
            return Err(Fault::Conflict(format!(
                "deployment {id} is {state}: it cannot {action}"
            )));
        }
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(&format!(
            "UPDATE deployments SET state = $1, finished_ms = $2 WHERE id = $3 AND state IN ({})",
            from.iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(to)
        .bind(if to == "cancelled" { Some(now) } else { None })
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(Fault::Conflict(format!(
                "deployment {id} changed meanwhile: try again"
            )));
        }
        if to == "cancelled" {
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', finished_ms = $1 \
                 WHERE deployment_id = $2 AND state IN ('pending', 'queued')",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if to == "running" {
            self.advance(id, now).await?;
        }
        Ok(())
    }

    pub async fn running_deployments(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT id FROM deployments WHERE state = 'running' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>("id")?))
            .collect()
    }

    /// Applies the deployment's strategy to its jobs, holding its row while it does.
    pub async fn advance(&self, id: i64, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let Some(row) = sqlx::query(&format!(
            "SELECT state, strategy_json FROM deployments WHERE id = $1{lock}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(());
        };
        if row.try_get::<String, _>("state")? != "running" {
            return Ok(());
        }
        let strategy: Strategy = serde_json::from_str(&row.try_get::<String, _>("strategy_json")?)
            .unwrap_or(Strategy::AllAtOnce);
        let jobs =
            sqlx::query("SELECT id, state FROM jobs WHERE deployment_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        let turns: Vec<Turn> = jobs
            .iter()
            .map(|r| {
                Ok(Turn {
                    id: r.try_get("id")?,
                    state: JobState::from_name(&r.try_get::<String, _>("state")?)
                        .unwrap_or(JobState::Cancelled),
                })
            })
            .collect::<Result<_>>()?;
        let next = strategy::next(&strategy, &turns);
        for job in &next.queue {
            sqlx::query("UPDATE jobs SET state = 'queued' WHERE id = $1 AND state = 'pending'")
                .bind(job)
                .execute(&mut *tx)
                .await?;
        }
        for job in &next.cancel {
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', finished_ms = $1 \
                 WHERE id = $2 AND state IN ('pending', 'queued')",
            )
            .bind(now)
            .bind(job)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(end) = next.finish {
            sqlx::query(
                "UPDATE deployments SET state = $1, finished_ms = $2 WHERE id = $3 AND state = 'running'",
            )
            .bind(end.name())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// `postgres://user:secret@host/db` shown without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

const DEPLOYMENT_COLUMNS: &str = "SELECT id, group_name, repo_url, revision, environment, \
    only_json, strategy_json, state, created_ms, finished_ms, redeploy_of FROM deployments";

const JOB_COLUMNS: &str = "SELECT id, deployment_id, agent_name, state, exit_code, started_ms, \
    finished_ms, steps_json, output_tail, error FROM jobs";

fn agent_view(r: &AnyRow) -> Result<AgentView> {
    let state = if r.try_get::<i64, _>("lost")? != 0 {
        AgentState::Lost
    } else if r.try_get::<i64, _>("busy")? != 0 {
        AgentState::Busy
    } else {
        AgentState::Idle
    };
    Ok(AgentView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        labels: parse(&r.try_get::<String, _>("labels")?),
        metadata: parse(&r.try_get::<String, _>("metadata")?),
        state,
        last_seen_ms: r.try_get("last_seen_ms")?,
        current_revision: r.try_get("current_revision")?,
        version: r.try_get("version")?,
    })
}

fn deployment_view(r: &AnyRow) -> Result<DeploymentView> {
    Ok(DeploymentView {
        id: r.try_get("id")?,
        group: r.try_get("group_name")?,
        repo_url: r.try_get("repo_url")?,
        revision: r.try_get("revision")?,
        environment: r.try_get("environment")?,
        only: parse(&r.try_get::<String, _>("only_json")?),
        strategy: serde_json::from_str(&r.try_get::<String, _>("strategy_json")?)
            .unwrap_or(Strategy::AllAtOnce),
        state: DeploymentState::from_name(&r.try_get::<String, _>("state")?)
            .unwrap_or(DeploymentState::Failed),
        created_ms: r.try_get("created_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        redeploy_of: r.try_get("redeploy_of")?,
        jobs: Vec::new(),
    })
}

fn job_view(r: &AnyRow) -> Result<JobView> {
    let steps: Vec<StepResult> = parse(&r.try_get::<String, _>("steps_json")?);
    Ok(JobView {
        id: r.try_get("id")?,
        agent: r.try_get("agent_name")?,
        state: JobState::from_name(&r.try_get::<String, _>("state")?)
            .unwrap_or(JobState::Cancelled),
        exit_code: r.try_get::<Option<i64>, _>("exit_code")?.map(|c| c as i32),
        started_ms: r.try_get("started_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        steps,
        output_tail: parse(&r.try_get::<String, _>("output_tail")?),
        error: r.try_get("error")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_redaction() {
        let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let labels = m(&[("env", "prod")]);
        let meta = m(&[("ec2.region", "eu-west-1")]);
        assert!(selects(&m(&[]), &labels, &meta));
        assert!(selects(
            &m(&[("env", "prod"), ("ec2.region", "eu-west-1")]),
            &labels,
            &meta
        ));
        assert!(!selects(&m(&[("env", "dev")]), &labels, &meta));
        assert_eq!(redact("postgres://u:pw@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("sqlite:///x/hub.db"), "sqlite:///x/hub.db");
    }
}
