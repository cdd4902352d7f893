-- The hub's state: agents, groups, deployments, jobs and their events.
-- Times are milliseconds since the Unix epoch; JSON is TEXT; booleans are 0/1.
CREATE TABLE agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    metadata TEXT NOT NULL,
    version TEXT NOT NULL,
    registered_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    busy BIGINT NOT NULL DEFAULT 0,
    lost BIGINT NOT NULL DEFAULT 0,
    current_revision TEXT
);

CREATE TABLE agent_groups (
    name TEXT PRIMARY KEY NOT NULL,
    selector TEXT NOT NULL
);

CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL,
    repo_url TEXT NOT NULL,
    revision TEXT NOT NULL,
    environment TEXT NOT NULL,
    only_json TEXT NOT NULL,
    strategy_json TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    redeploy_of BIGINT
);
CREATE INDEX deployments_state ON deployments (state);
CREATE INDEX deployments_revision ON deployments (revision, state);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id BIGINT NOT NULL REFERENCES deployments (id),
    agent_id BIGINT NOT NULL REFERENCES agents (id),
    agent_name TEXT NOT NULL,
    position BIGINT NOT NULL,
    state TEXT NOT NULL,
    exit_code BIGINT,
    started_ms BIGINT,
    finished_ms BIGINT,
    steps_json TEXT NOT NULL DEFAULT '[]',
    output_tail TEXT NOT NULL DEFAULT '[]',
    error TEXT
);
CREATE INDEX jobs_deployment ON jobs (deployment_id);
CREATE INDEX jobs_agent_state ON jobs (agent_id, state);

CREATE TABLE job_events (
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    seq BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    step TEXT,
    status TEXT,
    text TEXT,
    PRIMARY KEY (job_id, seq)
);
