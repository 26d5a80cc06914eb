-- Records are reviewed like answers: the office approves a record or
-- returns it with a note; a change by those who keep it sets it back to
-- pending, and `changed_after_approval` says it had been approved.
ALTER TABLE record ADD COLUMN review_state TEXT NOT NULL DEFAULT 'pending';  -- pending | approved | returned
ALTER TABLE record ADD COLUMN review_note TEXT NOT NULL DEFAULT '';
ALTER TABLE record ADD COLUMN reviewed_by TEXT;
ALTER TABLE record ADD COLUMN reviewed_at_us BIGINT;
ALTER TABLE record ADD COLUMN changed_after_approval BOOLEAN NOT NULL DEFAULT FALSE;

-- Every state a record and a component had, so that a report shows them
-- as they stood on its date: one row per change, `removed` for the end.
CREATE TABLE record_version (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id BIGINT  NOT NULL,
    system_id BIGINT  NOT NULL REFERENCES system (id),
    at_us     BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    fields    TEXT    NOT NULL,        -- sealed JSON object (its own seal)
    title     TEXT    NOT NULL,
    removed   BOOLEAN NOT NULL
);
CREATE INDEX record_version_system ON record_version (system_id, record_id, id);
-- No rows for the records already kept: their fields are sealed for the
-- record table and cannot be copied here by SQL; a record without versions
-- has stood as it is since its updated_at_us.

CREATE TABLE component_version (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_id BIGINT  NOT NULL,
    system_id    BIGINT  NOT NULL REFERENCES system (id),
    at_us        BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,
    product      TEXT    NOT NULL,
    vendor       TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    runs_on      TEXT    NOT NULL,
    support_end  TEXT,
    reason       TEXT    NOT NULL,
    removed      BOOLEAN NOT NULL
);
CREATE INDEX component_version_system ON component_version (system_id, component_id, id);
INSERT INTO component_version (component_id, system_id, at_us, kind, product, vendor, version, runs_on, support_end, reason, removed)
    SELECT id, system_id, updated_at_us, kind, product, vendor, version, runs_on, support_end, reason, FALSE FROM component ORDER BY id;

-- Documents of the keeper's library behind a record: the contract, the
-- disposal certificate and its photographs.
CREATE TABLE record_document (
    record_id   BIGINT NOT NULL REFERENCES record (id) ON DELETE CASCADE,
    document_id BIGINT NOT NULL REFERENCES document (id),
    PRIMARY KEY (record_id, document_id)
);
CREATE INDEX record_document_document ON record_document (document_id);
