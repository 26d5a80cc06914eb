-- Scans of a system's URLs (PRODUCT.md step 4): queued by a person or the
-- schedule, run by any instance's worker, results kept with their time.
CREATE TABLE scan_run (
    id              INTEGER PRIMARY KEY,
    system_id       INTEGER NOT NULL REFERENCES system (id),
    requested_by    TEXT    NOT NULL,
    requested_at_us INTEGER NOT NULL,
    started_at_us   INTEGER,
    finished_at_us  INTEGER,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    report          TEXT                      -- JSON: {"targets": [...]} as `mamori scan --format json`
) STRICT;
CREATE INDEX scan_run_system ON scan_run (system_id, id);
CREATE INDEX scan_run_status ON scan_run (status, id);
