-- Audit log (checklist items 27, 29, 66). Every time is microseconds since
-- the Unix epoch, UTC. Each event is chained to the one before it by SHA-256
-- (see mamori-core's audit module for the exact layout).
CREATE TABLE audit_event (
    seq              INTEGER PRIMARY KEY,  -- place in the chain: 1, 2, 3, ... with no gap
    occurred_at_us   INTEGER NOT NULL,
    actor_account_id INTEGER,
    actor_login      TEXT    NOT NULL,
    client_addr      TEXT,
    user_agent       TEXT,
    action           TEXT    NOT NULL,
    target_type      TEXT,
    target_id        TEXT,
    changes          TEXT    NOT NULL,     -- JSON object: changed fields, never secrets
    outcome          TEXT    NOT NULL,
    request_id       TEXT,
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_event_time ON audit_event (occurred_at_us, seq);

-- The chain's two ends: the head (last event written) and the anchor (last
-- event removed by a retention purge, or the genesis).
CREATE TABLE audit_chain (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq    INTEGER NOT NULL,
    head_hash   TEXT    NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT    NOT NULL
) STRICT;

INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000');
