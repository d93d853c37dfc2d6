-- The source that owns each environment (`push` for the push API's); an environment without a
-- row is the simulator's. Kept apart from `environments` so that a mark can be written before
-- the environment itself, and outlives its removal (an id stays its source's).
CREATE TABLE environment_sources (
    env_id TEXT PRIMARY KEY,
    source TEXT NOT NULL
);
