-- Several replicas on one database (docs/store.md, "Several replicas").
--
-- The leader's lease: one row per lease (`leader`). A replica takes it with an upsert that
-- succeeds only when the row has expired or is already its own, and renews it every second;
-- times are the database's clock in milliseconds since the epoch, so replicas' clocks do not
-- matter.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    -- The replica holding it (its id: host, process and start time).
    holder TEXT NOT NULL,
    -- Until when, in ms since the epoch by the database's clock.
    expires_at BIGINT NOT NULL
);
