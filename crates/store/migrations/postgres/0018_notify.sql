-- Notification of alerts (items 22, 23): when an alert was last sent, who
-- holds it while sending (several instances), and every delivery attempt.
ALTER TABLE alert ADD COLUMN notified_at_us BIGINT;
ALTER TABLE alert ADD COLUMN notify_claimed_us BIGINT;
CREATE TABLE notification (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   BIGINT REFERENCES alert (id),
    channel    TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    at_us      BIGINT  NOT NULL,
    ok         BOOLEAN NOT NULL,
    error      TEXT    NOT NULL
);
CREATE INDEX notification_at ON notification (at_us);
