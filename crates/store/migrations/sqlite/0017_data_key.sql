-- Encryption at rest (item 61): one row per data key in use, with a value
-- sealed under it that opens only with that key (a wrong key stops the start).
CREATE TABLE data_key (
    id            INTEGER PRIMARY KEY,
    check_value   BLOB    NOT NULL,
    created_at_us INTEGER NOT NULL
);
