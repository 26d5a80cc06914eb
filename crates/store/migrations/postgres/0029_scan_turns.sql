-- The persons' scan requests take turns: the runs a person's requests
-- started since another of theirs was queued are counted by this index.
CREATE INDEX scan_run_requester ON scan_run (requested_by, started_at_us);
