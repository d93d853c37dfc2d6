-- Removed deployments are forgotten oldest first past --keep-removed-deployments
-- (store/retention_trim.rs). SQLite numbers a table's rows in insertion order already (its
-- rowid); PostgreSQL's file gives its table the same column.
SELECT 1;
