-- Notification of alerts (items 22, 23): when an alert was last sent, who
-- holds it while sending (several instances), and every delivery attempt.
ALTER TABLE alert ADD COLUMN notified_at_us INTEGER;
ALTER TABLE alert ADD COLUMN notify_claimed_us INTEGER;
CREATE TABLE notification (
    id         INTEGER PRIMARY KEY,
    alert_id   INTEGER REFERENCES alert (id),   -- NULL: a test message
    channel    TEXT    NOT NULL,                -- mail, webhook
    recipient  TEXT    NOT NULL,                -- roles and a count, or the webhook's host; never an address
    at_us      INTEGER NOT NULL,
    ok         INTEGER NOT NULL,
    error      TEXT    NOT NULL
);
CREATE INDEX notification_at ON notification (at_us);
