-- Systems, applicability overrides, answers and their history (PRODUCT.md
-- steps 2, 3, 5).
CREATE TABLE system (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    description          TEXT    NOT NULL DEFAULT '',
    department_id        BIGINT NOT NULL REFERENCES organisation (id),
    vendor_id            BIGINT REFERENCES organisation (id),
    phase                TEXT    NOT NULL CHECK (phase IN ('building', 'pre_production', 'production', 'retired')),
    uses_servers         BOOLEAN NOT NULL,
    web_system           BOOLEAN NOT NULL,
    external_service     BOOLEAN NOT NULL,
    ismap_number         TEXT    NOT NULL DEFAULT '',
    service_name         TEXT    NOT NULL DEFAULT '',
    service_region       TEXT    NOT NULL DEFAULT '',
    confidentiality_high BOOLEAN NOT NULL,
    integrity_high       BOOLEAN NOT NULL,
    availability_high    BOOLEAN NOT NULL,
    urls                 TEXT    NOT NULL DEFAULT '',   -- one per line
    hosts                TEXT    NOT NULL DEFAULT '',   -- one per line
    catalog_version_id   BIGINT NOT NULL REFERENCES catalog_version (id),
    status               TEXT    NOT NULL CHECK (status IN ('not_started', 'answering', 'submitted', 'returned', 'approved')),
    round                BIGINT NOT NULL DEFAULT 1,
    created_at_us        BIGINT NOT NULL,
    updated_at_us        BIGINT NOT NULL
);
CREATE INDEX system_vendor ON system (vendor_id);
CREATE INDEX system_department ON system (department_id);

-- The officer's decision that one requirement does (not) apply to one system.
CREATE TABLE applicability_override (
    system_id   BIGINT NOT NULL REFERENCES system (id),
    number      BIGINT NOT NULL,
    applies     BOOLEAN NOT NULL,
    reason      TEXT    NOT NULL,
    actor_login TEXT    NOT NULL,
    at_us       BIGINT NOT NULL,
    PRIMARY KEY (system_id, number)
);

-- The current answer per system, round and requirement.
CREATE TABLE answer (
    system_id            BIGINT NOT NULL REFERENCES system (id),
    round                BIGINT NOT NULL,
    number               BIGINT NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('done', 'partial', 'not_done', 'not_applicable')),
    measures             TEXT    NOT NULL,
    planned_date         TEXT,                         -- YYYY-MM-DD
    reason               TEXT    NOT NULL,
    review               TEXT    NOT NULL CHECK (review IN ('pending', 'approved', 'returned')),
    review_comment       TEXT    NOT NULL DEFAULT '',
    revised_after_return BOOLEAN NOT NULL DEFAULT FALSE,
    revision             BIGINT NOT NULL,
    updated_at_us        BIGINT NOT NULL,
    updated_by           TEXT    NOT NULL,
    PRIMARY KEY (system_id, round, number)
);

-- Every revision of an answer and every decision, never changed.
CREATE TABLE answer_event (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id    BIGINT NOT NULL REFERENCES system (id),
    round        BIGINT NOT NULL,
    number       BIGINT NOT NULL,               -- 0 for events of the whole system
    kind         TEXT    NOT NULL,               -- answer, approve, return, submit, review_finished
    status       TEXT    NOT NULL DEFAULT '',
    measures     TEXT    NOT NULL DEFAULT '',
    planned_date TEXT,
    reason       TEXT    NOT NULL DEFAULT '',
    comment      TEXT    NOT NULL DEFAULT '',
    actor_login  TEXT    NOT NULL,
    at_us        BIGINT NOT NULL
);
CREATE INDEX answer_event_system ON answer_event (system_id, round, number, id);
