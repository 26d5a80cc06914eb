-- Scheduled work as rows (items 22, 23): one row per run, keyed so that
-- several instances queuing the same run make one row; claimed by one
-- instance for a lease, tried again with a growing wait when it fails.
CREATE TABLE job (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,
    run_key        TEXT    NOT NULL,
    state          TEXT    NOT NULL,             -- queued, running, done, failed
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL,
    lease_us       INTEGER NOT NULL,             -- the longest one attempt may take
    created_at_us  INTEGER NOT NULL,
    run_after_us   INTEGER NOT NULL,
    claimed_by     TEXT,                         -- the instance running it
    claimed_at_us  INTEGER,
    lease_until_us INTEGER,
    finished_at_us INTEGER,
    outcome        TEXT    NOT NULL DEFAULT '',  -- what the run did, or its last error
    UNIQUE (kind, run_key)
);
CREATE INDEX job_due ON job (state, run_after_us);
