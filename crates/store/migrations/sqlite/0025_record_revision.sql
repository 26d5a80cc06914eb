-- A record's revision, raised by every save: the office's decision names
-- the revision it was shown, and a record changed since is not approved
-- unseen.
ALTER TABLE record ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
