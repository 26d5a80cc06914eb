-- Evidence files (PRODUCT.md step 3). The content lives in the database, so
-- every instance serves it, backups hold it, and no file path is ever built
-- from anything a user sent (checklist item 49).
CREATE TABLE evidence (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id      BIGINT NOT NULL REFERENCES system (id),
    round          BIGINT NOT NULL,
    number         BIGINT NOT NULL,
    original_name  TEXT    NOT NULL,       -- as the uploader named it; data, never a path
    content_type   TEXT    NOT NULL,       -- decided from the content
    size           BIGINT NOT NULL,
    sha256         TEXT    NOT NULL,
    expires_on     TEXT,                   -- YYYY-MM-DD, optional
    uploaded_at_us BIGINT NOT NULL,
    uploaded_by    TEXT    NOT NULL
);
CREATE INDEX evidence_item ON evidence (system_id, round, number);

CREATE TABLE evidence_content (
    evidence_id BIGINT PRIMARY KEY REFERENCES evidence (id),
    content     BYTEA    NOT NULL
);
