-- Catalog versions (PRODUCT.md step 1). A version is never changed after
-- import; a system stays on the version it was assessed against.
CREATE TABLE catalog_version (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    catalog_key    TEXT    NOT NULL,       -- catalog.id of the file
    title          TEXT    NOT NULL,
    label          TEXT    NOT NULL,       -- catalog.version of the file, or the importer's label
    source_sha256  TEXT    NOT NULL UNIQUE,
    imported_at_us BIGINT NOT NULL,
    imported_by    TEXT    NOT NULL,
    document       TEXT    NOT NULL        -- the catalog as imported, YAML
);

CREATE TABLE requirement (
    version_id     BIGINT NOT NULL REFERENCES catalog_version (id),
    number         INTEGER NOT NULL,
    source_id      TEXT    NOT NULL,
    source_title   TEXT    NOT NULL,
    major          TEXT    NOT NULL,
    middle         TEXT    NOT NULL,
    condition_note TEXT,
    text           TEXT    NOT NULL,
    applies_when   TEXT    NOT NULL,
    checks         TEXT    NOT NULL,       -- space-separated scanner check ids
    self_met       BOOLEAN NOT NULL,
    evidence_hint  TEXT    NOT NULL,
    PRIMARY KEY (version_id, number)
);
