-- Which organisation keeps a record: a vendor changes or removes only its
-- own organisation's records of a system (the department that owns the
-- system, any). The records kept so far are their creator's organisation's
-- (none for one made at the console).
ALTER TABLE record ADD COLUMN organisation_id BIGINT REFERENCES organisation (id);
UPDATE record SET organisation_id = (SELECT a.organisation_id FROM account a WHERE a.login = record.created_by);
