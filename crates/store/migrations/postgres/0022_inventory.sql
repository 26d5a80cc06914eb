-- The software each system runs (items 62, 68): one row per component,
-- keyed by its normalised vendor, product and place, so that importing a
-- sheet again updates rather than doubles. The support-end date is the
-- person's (manual) or the release data's (feed); `warned` is the support
-- state last alerted for the current date, so that each step alerts once.
CREATE TABLE component (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id      BIGINT NOT NULL REFERENCES system (id),
    ukey           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    product        TEXT    NOT NULL,
    vendor         TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    runs_on        TEXT    NOT NULL,
    cpe            TEXT,
    support_end    TEXT,                   -- YYYY-MM-DD, the last day of support
    support_source TEXT,                   -- manual | feed
    feed_product   TEXT,                   -- the release data's product and cycle behind a feed date
    feed_cycle     TEXT,
    latest         TEXT,                   -- the cycle's newest version, from the release data
    reason         TEXT    NOT NULL,
    warned         TEXT,                   -- ending | ended, alerted for this support_end
    created_at_us  BIGINT NOT NULL,
    created_by     TEXT    NOT NULL,
    updated_at_us  BIGINT NOT NULL,
    updated_by     TEXT    NOT NULL,
    UNIQUE (system_id, ukey)
);
CREATE INDEX component_support_end ON component (support_end);

-- Release data imported by the office (endoflife.date): products and
-- their cycles, replaced product by product at each import.
CREATE TABLE eol_product (
    name           TEXT    PRIMARY KEY,
    label          TEXT    NOT NULL,
    aliases        TEXT    NOT NULL,       -- JSON array of names
    cpes           TEXT    NOT NULL,       -- JSON array of [vendor, product]
    imported_at_us BIGINT NOT NULL
);

CREATE TABLE eol_release (
    product  TEXT NOT NULL REFERENCES eol_product (name),
    cycle    TEXT NOT NULL,
    released TEXT,
    eol      TEXT,
    latest   TEXT,
    PRIMARY KEY (product, cycle)
);

-- Every feed file imported: what it was, and what it changed.
CREATE TABLE feed_import (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    sha256         TEXT    NOT NULL,
    records        BIGINT NOT NULL,
    changed        BIGINT NOT NULL,
    skipped        BIGINT NOT NULL,
    imported_at_us BIGINT NOT NULL,
    imported_by    TEXT    NOT NULL
);


-- Vulnerability advisories the office imports (item 63: JVN iPedia / MyJVN,
-- NVD), one row per source and id, replaced when the source changed it;
-- the products it affects as JSON, and their names as rows to look
-- components up by.
CREATE TABLE advisory (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source         TEXT    NOT NULL,       -- jvn | nvd
    ident          TEXT    NOT NULL,       -- JVNDB-2023-012345, CVE-2023-44487
    title          TEXT    NOT NULL,
    link           TEXT    NOT NULL,
    cvss           DOUBLE PRECISION,
    cves           TEXT    NOT NULL,       -- JSON array of CVE ids
    modified       TEXT    NOT NULL,       -- as the source says; unchanged, not imported again
    affected       TEXT    NOT NULL,       -- JSON array of products and version ranges
    imported_at_us BIGINT NOT NULL,
    UNIQUE (source, ident)
);

CREATE TABLE advisory_product (
    advisory_id BIGINT NOT NULL REFERENCES advisory (id),
    name        TEXT    NOT NULL           -- normalised product, and vendor with product
);
CREATE INDEX advisory_product_name ON advisory_product (name);
CREATE INDEX advisory_product_advisory ON advisory_product (advisory_id);

-- A component an advisory affects, and what the office or the vendor
-- decided about it (対応済 / 影響なし, with the reason).
CREATE TABLE vuln_match (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisory_id     BIGINT NOT NULL REFERENCES advisory (id),
    component_id    BIGINT NOT NULL REFERENCES component (id),
    system_id       BIGINT NOT NULL REFERENCES system (id),
    matched_by      TEXT    NOT NULL,      -- cpe | name
    version_checked BOOLEAN NOT NULL,      -- 0: the advisory gives no versions
    state           TEXT    NOT NULL,      -- open | fixed | not_affected
    reason          TEXT    NOT NULL,
    found_at_us     BIGINT NOT NULL,
    decided_at_us   BIGINT,
    decided_by      TEXT,
    alerted_at_us   BIGINT,                   -- the alert of a new match was raised
    UNIQUE (advisory_id, component_id)
);
CREATE INDEX vuln_match_system ON vuln_match (system_id);
CREATE INDEX vuln_match_component ON vuln_match (component_id);


-- The facts behind the checklist's reporting duties (items 8, 10-13,
-- 19-21, 69-79): contracts, the contact chart, where the system runs, the
-- cloud provider's certifications and terms, backups, disposal, domains.
-- Each kind's fields as JSON, sealed (the contact chart holds names and
-- telephone numbers); the date it is watched by in clear, for the warnings.
CREATE TABLE record (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id     BIGINT NOT NULL REFERENCES system (id),
    kind          TEXT    NOT NULL,
    fields        TEXT    NOT NULL,        -- sealed JSON object
    title         TEXT    NOT NULL,        -- the kind's naming field, for lists and alerts (not personal)
    due_on        TEXT,                    -- YYYY-MM-DD the record needs attention by
    warned        TEXT,                    -- ending | ended, alerted for this due_on
    created_at_us BIGINT NOT NULL,
    created_by    TEXT    NOT NULL,
    updated_at_us BIGINT NOT NULL,
    updated_by    TEXT    NOT NULL
);
CREATE INDEX record_system ON record (system_id, kind);
CREATE INDEX record_due ON record (due_on);

-- The ISMAP cloud service list the office imports (the published file),
-- replaced whole at each import; the records' ISMAP numbers are checked
-- against it.
CREATE TABLE ismap_service (
    number         TEXT    PRIMARY KEY,    -- normalised: C21-0001-1
    service        TEXT    NOT NULL,
    provider       TEXT    NOT NULL,
    imported_at_us BIGINT NOT NULL
);

CREATE TRIGGER component_revision AFTER INSERT OR UPDATE OR DELETE ON component FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER vuln_match_revision AFTER INSERT OR UPDATE OR DELETE ON vuln_match FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER record_revision AFTER INSERT OR UPDATE OR DELETE ON record FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
