-- The software each system runs (items 62, 68): one row per component,
-- keyed by its normalised vendor, product and place, so that importing a
-- sheet again updates rather than doubles. The support-end date is the
-- person's (manual) or the release data's (feed); `warned` is the support
-- state last alerted for the current date, so that each step alerts once.
CREATE TABLE component (
    id             INTEGER PRIMARY KEY,
    system_id      INTEGER NOT NULL REFERENCES system (id),
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
    created_at_us  INTEGER NOT NULL,
    created_by     TEXT    NOT NULL,
    updated_at_us  INTEGER NOT NULL,
    updated_by     TEXT    NOT NULL,
    UNIQUE (system_id, ukey)
) STRICT;
CREATE INDEX component_support_end ON component (support_end);

-- Release data imported by the office (endoflife.date): products and
-- their cycles, replaced product by product at each import.
CREATE TABLE eol_product (
    name           TEXT    PRIMARY KEY,
    label          TEXT    NOT NULL,
    aliases        TEXT    NOT NULL,       -- JSON array of names
    cpes           TEXT    NOT NULL,       -- JSON array of [vendor, product]
    imported_at_us INTEGER NOT NULL
) STRICT;

CREATE TABLE eol_release (
    product  TEXT NOT NULL REFERENCES eol_product (name),
    cycle    TEXT NOT NULL,
    released TEXT,
    eol      TEXT,
    latest   TEXT,
    PRIMARY KEY (product, cycle)
) STRICT;

-- Every feed file imported: what it was, and what it changed.
CREATE TABLE feed_import (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    sha256         TEXT    NOT NULL,
    records        INTEGER NOT NULL,
    changed        INTEGER NOT NULL,
    skipped        INTEGER NOT NULL,
    imported_at_us INTEGER NOT NULL,
    imported_by    TEXT    NOT NULL
) STRICT;

CREATE TRIGGER component_insert_revision AFTER INSERT ON component BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER component_update_revision AFTER UPDATE ON component BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER component_delete_revision AFTER DELETE ON component BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
