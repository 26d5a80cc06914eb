-- Review bound to a revision: a decision names the
-- revision it was made on, and the approved content is kept so a later
-- change is shown against it.
ALTER TABLE answer ADD COLUMN reviewed_revision     BIGINT;
ALTER TABLE answer ADD COLUMN approved_revision     BIGINT;
ALTER TABLE answer ADD COLUMN approved_status       TEXT;
ALTER TABLE answer ADD COLUMN approved_measures     TEXT;
ALTER TABLE answer ADD COLUMN approved_planned_date TEXT;
ALTER TABLE answer ADD COLUMN approved_reason       TEXT;
UPDATE answer SET reviewed_revision = revision WHERE review <> 'pending';

-- Secrets the server makes for itself (the key of the keyed hash of
-- unknown user IDs in the sign-in records).
CREATE TABLE server_secret (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
