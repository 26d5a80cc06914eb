-- An open alert is found by its key: its subject, or for a system's alert
-- the system's number and the topic. Found by the subject alone, which
-- names the system, a renamed system's next occurrence opened another
-- alert beside the one still open under the old name.
ALTER TABLE alert ADD COLUMN subject_key TEXT;
UPDATE alert SET subject_key = subject;
CREATE INDEX alert_open_key ON alert (kind, subject_key, acknowledged_at_us);
