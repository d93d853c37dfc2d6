-- PostgreSQL's variant of sqlite/0005_time_in_state.sql: status_changes has the rowid column
-- SQLite gives every table.
--
-- Instance details a source may report (last termination, last restart, recent events), as
-- JSON of the model's optional instance fields; and every change of a service's (or an
-- environment's) running and deployment status, for its timeline and for "since when" after
-- a restart.
ALTER TABLE instances ADD COLUMN details TEXT;

CREATE TABLE status_changes (
    -- SQLite's implicit rowid, made explicit: the timeline orders changes of one instant by it.
    rowid BIGSERIAL,
    env_id TEXT NOT NULL,
    -- '' for the environment itself.
    service_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- The running status from then on (a wire word).
    running TEXT NOT NULL,
    -- The deployment status from then on, if any.
    deployment TEXT
);
CREATE INDEX status_changes_by_subject ON status_changes (env_id, service_id, at);
