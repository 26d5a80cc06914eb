-- A catalog file uploaded, read and previewed, waiting for its officer's
-- confirmation: one an account. It was kept in the session (as YAML, up
-- to megabytes from a workbook of 10 MB), which every request of the
-- officer reads, and one a session.
CREATE TABLE pending_catalog (
    account_id    INTEGER NOT NULL PRIMARY KEY REFERENCES account (id),
    yaml          TEXT    NOT NULL,
    created_at_us INTEGER NOT NULL
);
