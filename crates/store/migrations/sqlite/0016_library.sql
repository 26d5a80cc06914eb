-- Each organisation's library of documents (ISMS certificate, contact
-- chart, diagnosis report, procedures): uploaded once, in revisions, and
-- linked to any number of items of the systems the organisation answers.
-- A link follows the newest revision unless pinned to one; links carry
-- into the next round as rows, the content stays where it is.
CREATE TABLE document (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    title           TEXT   NOT NULL,
    created_at_us   INTEGER NOT NULL,
    created_by      TEXT   NOT NULL,
    deleted_at_us   INTEGER                       -- removed from the library (never while linked to an approved answer)
) STRICT;
CREATE INDEX document_organisation ON document (organisation_id);

CREATE TABLE document_revision (
    id             INTEGER PRIMARY KEY,
    document_id    INTEGER NOT NULL REFERENCES document (id),
    revision       INTEGER NOT NULL,
    original_name  TEXT   NOT NULL,           -- as the uploader named it; data, never a path
    content_type   TEXT   NOT NULL,           -- decided from the content
    size           INTEGER NOT NULL,
    sha256         TEXT   NOT NULL,
    expires_on     TEXT,                      -- YYYY-MM-DD, optional
    uploaded_at_us INTEGER NOT NULL,
    uploaded_by    TEXT   NOT NULL,
    UNIQUE (document_id, revision)
) STRICT;

CREATE TABLE document_content (
    revision_id INTEGER PRIMARY KEY REFERENCES document_revision (id),
    content     BLOB NOT NULL
) STRICT;

CREATE TABLE document_link (
    id              INTEGER PRIMARY KEY,
    document_id     INTEGER NOT NULL REFERENCES document (id),
    system_id       INTEGER NOT NULL REFERENCES system (id),
    round           INTEGER NOT NULL,
    number          INTEGER NOT NULL,
    pinned_revision INTEGER,                       -- NULL: the newest revision
    linked_at_us    INTEGER NOT NULL,
    linked_by       TEXT   NOT NULL,
    UNIQUE (document_id, system_id, round, number)
) STRICT;
CREATE INDEX document_link_item ON document_link (system_id, round, number);

CREATE TRIGGER document_insert_revision AFTER INSERT ON document BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_update_revision AFTER UPDATE ON document BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_delete_revision AFTER DELETE ON document BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_revision_insert_revision AFTER INSERT ON document_revision BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_revision_update_revision AFTER UPDATE ON document_revision BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_revision_delete_revision AFTER DELETE ON document_revision BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_link_insert_revision AFTER INSERT ON document_link BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_link_update_revision AFTER UPDATE ON document_link BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER document_link_delete_revision AFTER DELETE ON document_link BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
