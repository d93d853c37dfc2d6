-- Removed deployments are forgotten oldest first past --keep-removed-deployments
-- (store/retention_trim.rs): they are numbered in the order they were removed, as SQLite's
-- rowid numbers them there. Rows already removed are numbered in no particular order.
ALTER TABLE removed_deployments ADD COLUMN rowid BIGSERIAL;
CREATE INDEX removed_deployments_by_rowid ON removed_deployments (rowid);
