-- Evidence files (PRODUCT.md step 3). The content lives in the database, so
-- every instance serves it, backups hold it, and no file path is ever built
-- from anything a user sent (checklist item 49).
CREATE TABLE evidence (
    id             INTEGER PRIMARY KEY,
    system_id      INTEGER NOT NULL REFERENCES system (id),
    round          INTEGER NOT NULL,
    number         INTEGER NOT NULL,
    original_name  TEXT    NOT NULL,       -- as the uploader named it; data, never a path
    content_type   TEXT    NOT NULL,       -- decided from the content
    size           INTEGER NOT NULL,
    sha256         TEXT    NOT NULL,
    expires_on     TEXT,                   -- YYYY-MM-DD, optional
    uploaded_at_us INTEGER NOT NULL,
    uploaded_by    TEXT    NOT NULL
) STRICT;
CREATE INDEX evidence_item ON evidence (system_id, round, number);

CREATE TABLE evidence_content (
    evidence_id INTEGER PRIMARY KEY REFERENCES evidence (id),
    content     BLOB    NOT NULL
) STRICT;
