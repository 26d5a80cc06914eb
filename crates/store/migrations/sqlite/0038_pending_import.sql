-- An answer workbook uploaded, read and previewed, waiting for its
-- person's confirmation: one an account. It was kept in the session,
-- which every request of the person reads (up to megabytes of answers),
-- and one a session: a person signing in again and again kept one in each.
CREATE TABLE pending_import (
    account_id    INTEGER NOT NULL PRIMARY KEY REFERENCES account (id),
    system_id     INTEGER NOT NULL,
    changes       TEXT    NOT NULL,       -- the preview, as the web layer wrote it (JSON)
    created_at_us INTEGER NOT NULL
);
