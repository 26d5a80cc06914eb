-- Identity (checklist items 1-7, 36-41, 64, 65). Times: microseconds since
-- the Unix epoch, UTC. Booleans: 0 or 1.

-- Ward departments and vendor companies.
CREATE TABLE organisation (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('department', 'vendor')),
    contact       TEXT    NOT NULL DEFAULT '',
    created_at_us BIGINT NOT NULL
);

-- One row per person (item 1). The login is stored in lower case.
CREATE TABLE account (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login                  TEXT    NOT NULL UNIQUE,
    display_name           TEXT    NOT NULL,
    email                  TEXT    NOT NULL,
    role                   TEXT    NOT NULL CHECK (role IN ('admin', 'security-officer', 'department', 'vendor', 'auditor')),
    organisation_id        BIGINT REFERENCES organisation (id),
    password_hash          TEXT    NOT NULL,  -- argon2id PHC string
    password_changed_at_us BIGINT NOT NULL,
    must_change_password   BOOLEAN NOT NULL DEFAULT FALSE,
    failed_count           BIGINT NOT NULL DEFAULT 0,
    locked_until_us        BIGINT,
    disabled_at_us         BIGINT,
    totp_secret            TEXT,              -- base32; set at enrolment
    totp_enabled           BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step         BIGINT NOT NULL DEFAULT 0,  -- RFC 6238 5.2: no code is accepted twice
    last_signin_at_us      BIGINT,
    last_signin_addr       TEXT,
    -- bumped on a change of role or organisation, a disable or a password
    -- reset: every session of the old generation ends at its next request
    session_generation     BIGINT NOT NULL DEFAULT 0,
    created_at_us          BIGINT NOT NULL,
    updated_at_us          BIGINT NOT NULL
);

CREATE TABLE password_history (
    account_id    BIGINT NOT NULL REFERENCES account (id),
    password_hash TEXT    NOT NULL,
    created_at_us BIGINT NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, created_at_us);

CREATE TABLE recovery_code (
    account_id BIGINT NOT NULL REFERENCES account (id),
    code_hash  TEXT    NOT NULL,              -- SHA-256, hex
    used_at_us BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

-- The account ledger (ID管理簿, items 3, 7): who changed what, when, and why.
CREATE TABLE account_ledger (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES account (id),
    at_us       BIGINT NOT NULL,
    actor_login TEXT    NOT NULL,
    change      TEXT    NOT NULL,
    before      TEXT    NOT NULL DEFAULT '',
    after       TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL
);
CREATE INDEX account_ledger_account ON account_ledger (account_id, at_us);

-- Periodic access reviews (item 7), kept for the yearly report.
CREATE TABLE access_review (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reviewed_at_us BIGINT NOT NULL,
    reviewer_id    BIGINT NOT NULL REFERENCES account (id),
    reviewer_login TEXT    NOT NULL,
    accounts       BIGINT NOT NULL,
    comment        TEXT    NOT NULL
);

-- Every sign-in attempt, for throttling by address and for monitoring (item 67).
CREATE TABLE signin_attempt (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_us       BIGINT NOT NULL,
    client_addr TEXT    NOT NULL,
    login       TEXT    NOT NULL,
    success     BOOLEAN NOT NULL
);
CREATE INDEX signin_attempt_addr ON signin_attempt (client_addr, at_us);
CREATE INDEX signin_attempt_time ON signin_attempt (at_us);

-- The first-run setup token: one row, replaced at each start while no
-- administrator exists.
CREATE TABLE setup_token (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash    TEXT    NOT NULL,
    expires_at_us BIGINT NOT NULL
);
