-- The deployment history of an environment is read newest first, a page at a time
-- (store/history.rs): without this index each page would sort all of its deployments.
CREATE INDEX deployments_by_env ON deployments (env_id, ordinal);
