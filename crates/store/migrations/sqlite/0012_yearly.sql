-- Item 68: the state of the measures is reported to the ward when the
-- system is built and at least once a year. Each system's report falls due
-- at the end of its report month (the configured default unless set
-- here); the vendor or the department signs off the year's review of the
-- administrator accounts and of the logs; the security office records the
-- report as received.
CREATE TABLE system_report_month (
    system_id INTEGER PRIMARY KEY REFERENCES system (id),
    month     INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12)
) STRICT;

CREATE TABLE review_signoff (
    id          INTEGER PRIMARY KEY,
    system_id   INTEGER NOT NULL REFERENCES system (id),
    year        INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('admin_accounts', 'logs')),
    comment     TEXT    NOT NULL,
    actor_login TEXT    NOT NULL,
    at_us       INTEGER NOT NULL
) STRICT;
CREATE INDEX review_signoff_system ON review_signoff (system_id, year, id);

CREATE TABLE yearly_report (
    system_id   INTEGER NOT NULL REFERENCES system (id),
    year        INTEGER NOT NULL,
    received_by TEXT    NOT NULL,
    received_at_us INTEGER NOT NULL,
    PRIMARY KEY (system_id, year)
) STRICT;
CREATE TRIGGER system_report_month_insert_revision AFTER INSERT ON system_report_month BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER system_report_month_update_revision AFTER UPDATE ON system_report_month BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER system_report_month_delete_revision AFTER DELETE ON system_report_month BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER review_signoff_insert_revision AFTER INSERT ON review_signoff BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER yearly_report_insert_revision AFTER INSERT ON yearly_report BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER yearly_report_delete_revision AFTER DELETE ON yearly_report BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
