-- Audit viewer, alerts and log reviews (checklist items 28, 29, 67).
-- Each filter of the viewer has an index ending in seq, so "newest first,
-- after this cursor" reads only the page it shows.
CREATE INDEX audit_event_actor ON audit_event (actor_login, seq);
CREATE INDEX audit_event_action ON audit_event (action, seq);
CREATE INDEX audit_event_client ON audit_event (client_addr, seq);
CREATE INDEX audit_event_target ON audit_event (target_type, target_id, seq);
CREATE INDEX audit_event_outcome ON audit_event (outcome, seq);

-- Alerts raised by mamori's own checks; one open alert per kind and subject.
CREATE TABLE alert (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT    NOT NULL,
    severity           TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    subject            TEXT    NOT NULL,
    detail             TEXT    NOT NULL,
    first_seen_us      INTEGER NOT NULL,
    last_seen_us       INTEGER NOT NULL,
    count              INTEGER NOT NULL,
    acknowledged_by    TEXT,
    acknowledged_at_us INTEGER
) STRICT;
CREATE INDEX alert_open ON alert (kind, subject, acknowledged_at_us);

-- The officer's record that the logs were reviewed (items 28, 67, 68).
CREATE TABLE log_review (
    id             INTEGER PRIMARY KEY,
    period_from    TEXT    NOT NULL,          -- YYYY-MM-DD
    period_to      TEXT    NOT NULL,
    reviewer_login TEXT    NOT NULL,
    reviewed_at_us INTEGER NOT NULL,
    findings       TEXT    NOT NULL
) STRICT;
