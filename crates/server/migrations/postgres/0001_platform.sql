-- PostgreSQL's variant of sqlite/0001_platform.sql (the same tables and columns): only
-- `WITHOUT ROWID`, which PostgreSQL does not have, differs.

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Order of appearance: the order the environments list shows.
    position BIGINT NOT NULL,
    -- Its last environment-wide deployment, as JSON (a model `Deployment`), if any.
    deployment TEXT
);

CREATE TABLE services (
    env_id TEXT NOT NULL,
    id TEXT NOT NULL,
    -- Order of appearance within the environment.
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    -- Its last deployment as JSON (a model `Deployment`), if any.
    deployment TEXT,
    PRIMARY KEY (env_id, id)
);

CREATE TABLE instances (
    env_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    status TEXT NOT NULL,
    version TEXT NOT NULL,
    restarts BIGINT NOT NULL,
    reason TEXT,
    message TEXT,
    exit_code INTEGER,
    started_at BIGINT,
    PRIMARY KEY (env_id, service_id, name)
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    env_id TEXT NOT NULL,
    -- '' for an environment-wide deployment.
    service_id TEXT NOT NULL,
    -- Creation order: retention removes the lowest first.
    ordinal BIGINT NOT NULL,
    status TEXT NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    stage TEXT,
    -- Sequence number of the log topic's snapshot: its k-th change is log_base + k.
    log_base BIGINT NOT NULL,
    -- Last line number, and bytes of line text kept.
    log_lines BIGINT NOT NULL DEFAULT 0,
    log_bytes BIGINT NOT NULL DEFAULT 0,
    -- 1 once the log-bytes cap removed its lines.
    log_removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deployments_by_service ON deployments (env_id, service_id, ordinal);

-- Every status and stage a deployment went through, in order; `after_line` places it among
-- the log's lines (the log topic interleaves them). k = 0 is the deployment as queued.
CREATE TABLE deployment_history (
    deployment_id TEXT NOT NULL,
    k BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status TEXT,
    finished_at BIGINT,
    stage TEXT,
    after_line BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, k)
);

CREATE TABLE log_lines (
    deployment_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    stage TEXT NOT NULL,
    level TEXT NOT NULL,
    text TEXT NOT NULL,
    hint TEXT,
    PRIMARY KEY (deployment_id, n)
);

-- Written at a clean shutdown: each environment topic's last sequence number and its recent
-- changes (as sent), so that a page resumes across the restart with exactly what it missed.
CREATE TABLE topics (
    topic TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
CREATE TABLE topic_changes (
    topic TEXT NOT NULL,
    seq BIGINT NOT NULL,
    json TEXT NOT NULL,
    compact TEXT,
    PRIMARY KEY (topic, seq)
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
