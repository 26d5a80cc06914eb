-- Systems, applicability overrides, answers and their history (PRODUCT.md
-- steps 2, 3, 5).
CREATE TABLE system (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    description          TEXT    NOT NULL DEFAULT '',
    department_id        INTEGER NOT NULL REFERENCES organisation (id),
    vendor_id            INTEGER REFERENCES organisation (id),
    phase                TEXT    NOT NULL CHECK (phase IN ('building', 'pre_production', 'production', 'retired')),
    uses_servers         INTEGER NOT NULL,
    web_system           INTEGER NOT NULL,
    external_service     INTEGER NOT NULL,
    ismap_number         TEXT    NOT NULL DEFAULT '',
    service_name         TEXT    NOT NULL DEFAULT '',
    service_region       TEXT    NOT NULL DEFAULT '',
    confidentiality_high INTEGER NOT NULL,
    integrity_high       INTEGER NOT NULL,
    availability_high    INTEGER NOT NULL,
    urls                 TEXT    NOT NULL DEFAULT '',   -- one per line
    hosts                TEXT    NOT NULL DEFAULT '',   -- one per line
    catalog_version_id   INTEGER NOT NULL REFERENCES catalog_version (id),
    status               TEXT    NOT NULL CHECK (status IN ('not_started', 'answering', 'submitted', 'returned', 'approved')),
    round                INTEGER NOT NULL DEFAULT 1,
    created_at_us        INTEGER NOT NULL,
    updated_at_us        INTEGER NOT NULL
) STRICT;
CREATE INDEX system_vendor ON system (vendor_id);
CREATE INDEX system_department ON system (department_id);

-- The officer's decision that one requirement does (not) apply to one system.
CREATE TABLE applicability_override (
    system_id   INTEGER NOT NULL REFERENCES system (id),
    number      INTEGER NOT NULL,
    applies     INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    actor_login TEXT    NOT NULL,
    at_us       INTEGER NOT NULL,
    PRIMARY KEY (system_id, number)
) STRICT;

-- The current answer per system, round and requirement.
CREATE TABLE answer (
    system_id            INTEGER NOT NULL REFERENCES system (id),
    round                INTEGER NOT NULL,
    number               INTEGER NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('done', 'partial', 'not_done', 'not_applicable')),
    measures             TEXT    NOT NULL,
    planned_date         TEXT,                         -- YYYY-MM-DD
    reason               TEXT    NOT NULL,
    review               TEXT    NOT NULL CHECK (review IN ('pending', 'approved', 'returned')),
    review_comment       TEXT    NOT NULL DEFAULT '',
    revised_after_return INTEGER NOT NULL DEFAULT 0,
    revision             INTEGER NOT NULL,
    updated_at_us        INTEGER NOT NULL,
    updated_by           TEXT    NOT NULL,
    PRIMARY KEY (system_id, round, number)
) STRICT;

-- Every revision of an answer and every decision, never changed.
CREATE TABLE answer_event (
    id           INTEGER PRIMARY KEY,
    system_id    INTEGER NOT NULL REFERENCES system (id),
    round        INTEGER NOT NULL,
    number       INTEGER NOT NULL,               -- 0 for events of the whole system
    kind         TEXT    NOT NULL,               -- answer, approve, return, submit, review_finished
    status       TEXT    NOT NULL DEFAULT '',
    measures     TEXT    NOT NULL DEFAULT '',
    planned_date TEXT,
    reason       TEXT    NOT NULL DEFAULT '',
    comment      TEXT    NOT NULL DEFAULT '',
    actor_login  TEXT    NOT NULL,
    at_us        INTEGER NOT NULL
) STRICT;
CREATE INDEX answer_event_system ON answer_event (system_id, round, number, id);
