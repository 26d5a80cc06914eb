-- Which organisation keeps a record: a vendor changes or removes only its
-- own organisation's records of a system (the department that owns the
-- system, any). A record kept so far is its creator's organisation's if
-- the creator has not moved to another since it was added (the account
-- ledger says); else, and for one made at the console, no organisation's:
-- the department's to change.
ALTER TABLE record ADD COLUMN organisation_id INTEGER REFERENCES organisation (id);
UPDATE record SET organisation_id = (
    SELECT a.organisation_id FROM account a
    WHERE a.login = record.created_by
      AND NOT EXISTS (
          SELECT 1 FROM account_ledger l
          WHERE l.account_id = a.id AND l.change = 'organisation' AND l.at_us > record.created_at_us
      )
);
