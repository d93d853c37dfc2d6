-- Several replicas on one database (docs/store.md, "Several replicas"). SQLite has one
-- process per data directory: this table stays empty there, and exists so that both
-- backends have one schema.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
