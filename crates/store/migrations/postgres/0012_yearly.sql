-- Item 68: the state of the measures is reported to the ward when the
-- system is built and at least once a year. Each system's report falls due
-- at the end of its report month (the configured default unless set
-- here); the vendor or the department signs off the year's review of the
-- administrator accounts and of the logs; the security office records the
-- report as received.
CREATE TABLE system_report_month (
    system_id BIGINT PRIMARY KEY REFERENCES system (id),
    month     BIGINT NOT NULL CHECK (month BETWEEN 1 AND 12)
);

CREATE TABLE review_signoff (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id   BIGINT NOT NULL REFERENCES system (id),
    year        BIGINT NOT NULL,
    kind        TEXT   NOT NULL CHECK (kind IN ('admin_accounts', 'logs')),
    comment     TEXT   NOT NULL,
    actor_login TEXT   NOT NULL,
    at_us       BIGINT NOT NULL
);
CREATE INDEX review_signoff_system ON review_signoff (system_id, year, id);

CREATE TABLE yearly_report (
    system_id   BIGINT NOT NULL REFERENCES system (id),
    year        BIGINT NOT NULL,
    received_by TEXT   NOT NULL,
    received_at_us BIGINT NOT NULL,
    PRIMARY KEY (system_id, year)
);
CREATE TRIGGER system_report_month_revision AFTER INSERT OR UPDATE OR DELETE ON system_report_month FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER review_signoff_revision AFTER INSERT OR UPDATE OR DELETE ON review_signoff FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER yearly_report_revision AFTER INSERT OR UPDATE OR DELETE ON yearly_report FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
