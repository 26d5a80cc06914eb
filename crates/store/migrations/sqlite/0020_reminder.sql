-- Reminders of a round's due date mailed to those who must still answer
-- (items 22, 23): one per system, round, due date and step (30, 7 and 1
-- days before, 0 once overdue), however often the daily job runs.
CREATE TABLE reminder_sent (
    system_id  INTEGER NOT NULL REFERENCES system (id),
    round      INTEGER NOT NULL,
    due_on     TEXT    NOT NULL,
    step       INTEGER NOT NULL,
    sent_at_us INTEGER NOT NULL,
    recipients INTEGER NOT NULL,
    PRIMARY KEY (system_id, round, due_on, step)
);
-- What a delivery was about when it was no alert (a reminder names its system).
ALTER TABLE notification ADD COLUMN about TEXT NOT NULL DEFAULT '';
-- Failed delivery rounds of an alert in a row: the next waits longer.
ALTER TABLE alert ADD COLUMN notify_failures INTEGER NOT NULL DEFAULT 0;
