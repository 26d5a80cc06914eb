-- Scheduled work as rows (items 22, 23): one row per run, keyed so that
-- several instances queuing the same run make one row; claimed by one
-- instance for a lease (FOR UPDATE SKIP LOCKED), tried again with a
-- growing wait when it fails.
CREATE TABLE job (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           TEXT    NOT NULL,
    run_key        TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    max_attempts   BIGINT  NOT NULL,
    lease_us       BIGINT  NOT NULL,
    created_at_us  BIGINT  NOT NULL,
    run_after_us   BIGINT  NOT NULL,
    claimed_by     TEXT,
    claimed_at_us  BIGINT,
    lease_until_us BIGINT,
    finished_at_us BIGINT,
    outcome        TEXT    NOT NULL DEFAULT '',
    UNIQUE (kind, run_key)
);
CREATE INDEX job_due ON job (state, run_after_us);
