-- Deployments retention removed (past --retain-deployments of their service), so a page opened
-- on one's log is told why it is gone rather than that it never existed.
CREATE TABLE removed_deployments (
    id TEXT PRIMARY KEY,
    env_id TEXT NOT NULL,
    -- '' for an environment-wide deployment.
    service_id TEXT NOT NULL
);
