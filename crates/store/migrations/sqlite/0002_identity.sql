-- Identity (checklist items 1-7, 36-41, 64, 65). Times: microseconds since
-- the Unix epoch, UTC. Booleans: 0 or 1.

-- Ward departments and vendor companies.
CREATE TABLE organisation (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('department', 'vendor')),
    contact       TEXT    NOT NULL DEFAULT '',
    created_at_us INTEGER NOT NULL
) STRICT;

-- One row per person (item 1). The login is stored in lower case.
CREATE TABLE account (
    id                     INTEGER PRIMARY KEY,
    login                  TEXT    NOT NULL UNIQUE,
    display_name           TEXT    NOT NULL,
    email                  TEXT    NOT NULL,
    role                   TEXT    NOT NULL CHECK (role IN ('admin', 'security-officer', 'department', 'vendor', 'auditor')),
    organisation_id        INTEGER REFERENCES organisation (id),
    password_hash          TEXT    NOT NULL,  -- argon2id PHC string
    password_changed_at_us INTEGER NOT NULL,
    must_change_password   INTEGER NOT NULL DEFAULT 0,
    failed_count           INTEGER NOT NULL DEFAULT 0,
    locked_until_us        INTEGER,
    disabled_at_us         INTEGER,
    totp_secret            TEXT,              -- base32; set at enrolment
    totp_enabled           INTEGER NOT NULL DEFAULT 0,
    totp_last_step         INTEGER NOT NULL DEFAULT 0,  -- RFC 6238 5.2: no code is accepted twice
    last_signin_at_us      INTEGER,
    last_signin_addr       TEXT,
    -- bumped on a change of role or organisation, a disable or a password
    -- reset: every session of the old generation ends at its next request
    session_generation     INTEGER NOT NULL DEFAULT 0,
    created_at_us          INTEGER NOT NULL,
    updated_at_us          INTEGER NOT NULL
) STRICT;

CREATE TABLE password_history (
    account_id    INTEGER NOT NULL REFERENCES account (id),
    password_hash TEXT    NOT NULL,
    created_at_us INTEGER NOT NULL
) STRICT;
CREATE INDEX password_history_account ON password_history (account_id, created_at_us);

CREATE TABLE recovery_code (
    account_id INTEGER NOT NULL REFERENCES account (id),
    code_hash  TEXT    NOT NULL,              -- SHA-256, hex
    used_at_us INTEGER,
    PRIMARY KEY (account_id, code_hash)
) STRICT;

-- The account ledger (ID管理簿, items 3, 7): who changed what, when, and why.
CREATE TABLE account_ledger (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES account (id),
    at_us       INTEGER NOT NULL,
    actor_login TEXT    NOT NULL,
    change      TEXT    NOT NULL,
    before      TEXT    NOT NULL DEFAULT '',
    after       TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL
) STRICT;
CREATE INDEX account_ledger_account ON account_ledger (account_id, at_us);

-- Periodic access reviews (item 7), kept for the yearly report.
CREATE TABLE access_review (
    id             INTEGER PRIMARY KEY,
    reviewed_at_us INTEGER NOT NULL,
    reviewer_id    INTEGER NOT NULL REFERENCES account (id),
    reviewer_login TEXT    NOT NULL,
    accounts       INTEGER NOT NULL,
    comment        TEXT    NOT NULL
) STRICT;

-- Every sign-in attempt, for throttling by address and for monitoring (item 67).
CREATE TABLE signin_attempt (
    id          INTEGER PRIMARY KEY,
    at_us       INTEGER NOT NULL,
    client_addr TEXT    NOT NULL,
    login       TEXT    NOT NULL,
    success     INTEGER NOT NULL
) STRICT;
CREATE INDEX signin_attempt_addr ON signin_attempt (client_addr, at_us);
CREATE INDEX signin_attempt_time ON signin_attempt (at_us);

-- The first-run setup token: one row, replaced at each start while no
-- administrator exists.
CREATE TABLE setup_token (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash    TEXT    NOT NULL,
    expires_at_us INTEGER NOT NULL
) STRICT;
