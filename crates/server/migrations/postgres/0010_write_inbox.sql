-- Writes that arrived at a follower replica (push API calls, webhook deliveries, actions), for
-- the leader to execute (docs/store.md, "Writes on a follower"; crates/server/src/replica/
-- inbox.rs). The follower inserts a row and waits; the leader takes it, executes it through its
-- own code, stores the answer and notifies; the follower answers its client with that answer.
-- Answered rows are trimmed after a minute.
CREATE TABLE write_inbox (
    id BIGSERIAL PRIMARY KEY,
    -- Unique per request: an insert retried after its answer was lost is still one row.
    request_key TEXT NOT NULL UNIQUE,
    -- The call and its checked body, as JSON ({"call": "append_lines", ...}).
    call TEXT NOT NULL,
    -- Who wrote: the write token's name, or the forge of a webhook delivery.
    writer TEXT NOT NULL,
    -- When it arrived, in ms since the epoch (the database's clock).
    created_at BIGINT NOT NULL,
    -- How many times a leader took it (0: not yet); an answer is kept only from the last take.
    attempt INTEGER NOT NULL DEFAULT 0,
    -- The replica that took it last, and when (ms, the database's clock).
    taken_by TEXT,
    taken_at BIGINT,
    -- The answer once executed: HTTP status and JSON body, and when (ms).
    status INTEGER,
    answer TEXT,
    answered_at BIGINT
);
CREATE INDEX write_inbox_unanswered ON write_inbox (id) WHERE status IS NULL;
