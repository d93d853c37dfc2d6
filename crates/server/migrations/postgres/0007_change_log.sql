-- Every change a topic publishes, stored as sent in the transaction that stores the events it
-- came from, before any socket sees it ("commit before visible"): a restarted server, or a
-- replica following this database, serves a resume from here. Rows are trimmed per topic to
-- the resume backlog by the writer. Supersedes `topics` and `topic_changes` (written only at a
-- clean shutdown), which a start still reads when this table holds nothing of a topic.
CREATE TABLE change_log (
    -- Commit order, assigned by the one writer (its counter, loaded at start).
    id BIGINT PRIMARY KEY,
    -- The topic's key as the `topics` table writes it (`environments`, `environment:<id>`,
    -- `logs:<deployment>`).
    topic TEXT NOT NULL,
    -- The change's sequence number ('open': the topic's base).
    seq BIGINT NOT NULL,
    -- 'open' (topic created; json = its snapshot `data` as sent), 'change' (json = the Change
    -- as sent, compact = its instance-update form when it has one), 'close' (topic ended).
    kind TEXT NOT NULL,
    json TEXT,
    compact TEXT
);
CREATE INDEX change_log_by_topic ON change_log (topic, seq);
