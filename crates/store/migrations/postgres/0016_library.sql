-- Each organisation's library of documents (ISMS certificate, contact
-- chart, diagnosis report, procedures): uploaded once, in revisions, and
-- linked to any number of items of the systems the organisation answers.
-- A link follows the newest revision unless pinned to one; links carry
-- into the next round as rows, the content stays where it is.
CREATE TABLE document (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisation (id),
    title           TEXT   NOT NULL,
    created_at_us   BIGINT NOT NULL,
    created_by      TEXT   NOT NULL,
    deleted_at_us   BIGINT                       -- removed from the library (never while linked to an approved answer)
);
CREATE INDEX document_organisation ON document (organisation_id);

CREATE TABLE document_revision (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id    BIGINT NOT NULL REFERENCES document (id),
    revision       BIGINT NOT NULL,
    original_name  TEXT   NOT NULL,           -- as the uploader named it; data, never a path
    content_type   TEXT   NOT NULL,           -- decided from the content
    size           BIGINT NOT NULL,
    sha256         TEXT   NOT NULL,
    expires_on     TEXT,                      -- YYYY-MM-DD, optional
    uploaded_at_us BIGINT NOT NULL,
    uploaded_by    TEXT   NOT NULL,
    UNIQUE (document_id, revision)
);

CREATE TABLE document_content (
    revision_id BIGINT PRIMARY KEY REFERENCES document_revision (id),
    content     BYTEA NOT NULL
);

CREATE TABLE document_link (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id     BIGINT NOT NULL REFERENCES document (id),
    system_id       BIGINT NOT NULL REFERENCES system (id),
    round           BIGINT NOT NULL,
    number          BIGINT NOT NULL,
    pinned_revision BIGINT,                       -- NULL: the newest revision
    linked_at_us    BIGINT NOT NULL,
    linked_by       TEXT   NOT NULL,
    UNIQUE (document_id, system_id, round, number)
);
CREATE INDEX document_link_item ON document_link (system_id, round, number);

CREATE TRIGGER document_revision AFTER INSERT OR UPDATE OR DELETE ON document FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER document_revision_revision AFTER INSERT OR UPDATE OR DELETE ON document_revision FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER document_link_revision AFTER INSERT OR UPDATE OR DELETE ON document_link FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
