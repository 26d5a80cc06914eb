-- Reminders of a due date mailed to those who must act (items 22, 23, 68):
-- one per kind (a round's answers, a yearly report), system, round (or
-- year), due date and step (30, 7 and 1 days before, 0 once overdue),
-- however often the daily job runs.
CREATE TABLE reminder_sent (
    kind       TEXT    NOT NULL,
    system_id  INTEGER NOT NULL REFERENCES system (id),
    round      INTEGER NOT NULL,
    due_on     TEXT    NOT NULL,
    step       INTEGER NOT NULL,
    sent_at_us INTEGER NOT NULL,
    recipients INTEGER NOT NULL,
    PRIMARY KEY (kind, system_id, round, due_on, step)
);
-- What a delivery was about when it was no alert (a reminder names its system).
ALTER TABLE notification ADD COLUMN about TEXT NOT NULL DEFAULT '';
-- Failed delivery rounds of an alert in a row: the next waits longer.
ALTER TABLE alert ADD COLUMN notify_failures INTEGER NOT NULL DEFAULT 0;
