-- Steps of the review told by mail (items 22, 23): items returned (to the
-- organisation whose items came back, with their numbers), a system's last
-- part submitted (to the security office), a round approved (to every
-- organisation that answered it). Written in the transaction of the step
-- itself; the notifier claims each and mails it once. `organisation_id`
-- NULL: the security office.
CREATE TABLE workflow_notice (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('returned', 'submitted', 'approved')),
    system_id       INTEGER NOT NULL REFERENCES system (id),
    round           INTEGER NOT NULL,
    organisation_id INTEGER REFERENCES organisation (id),
    items           TEXT    NOT NULL DEFAULT '',
    created_at_us   INTEGER NOT NULL,
    sent_at_us      INTEGER,
    claimed_us      INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workflow_notice_created ON workflow_notice (created_at_us);
-- A delivery attempt of a notice says which step it told of.
ALTER TABLE notification ADD COLUMN notice TEXT NOT NULL DEFAULT '';
