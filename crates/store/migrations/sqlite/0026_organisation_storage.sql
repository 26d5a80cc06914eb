-- The organisation that stored each evidence file (its answering party),
-- so that what one organisation stores, evidence and library together,
-- is held to its quota. Files stored before this are not attributed.
ALTER TABLE evidence ADD COLUMN organisation_id INTEGER REFERENCES organisation (id);
CREATE INDEX evidence_organisation ON evidence (organisation_id);
