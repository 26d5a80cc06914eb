-- The address each host name of a system resolved to when it was first
-- scanned (item 31-57 scans, SSRF defence): a later scan that finds the
-- name in another network stops for that host and raises an alert, until
-- the security officer confirms the new address.
CREATE TABLE scan_address (
    system_id        BIGINT NOT NULL REFERENCES system (id),
    host             TEXT   NOT NULL,
    address          TEXT   NOT NULL,
    network          TEXT   NOT NULL,
    seen_at_us       BIGINT NOT NULL,
    pending_address  TEXT,
    pending_network  TEXT,
    pending_at_us    BIGINT,
    PRIMARY KEY (system_id, host)
);
CREATE TRIGGER scan_address_revision AFTER INSERT OR UPDATE OR DELETE ON scan_address FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
