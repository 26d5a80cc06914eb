-- Every change to a system, its answers, decisions or overrides counts up
-- its revision, so the figures computed from them can be kept until it
-- moves (the dashboard of hundreds of systems).
ALTER TABLE system ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- The dashboard's list of evidence that expires soon.
CREATE INDEX evidence_expires ON evidence (expires_on) WHERE expires_on IS NOT NULL;
