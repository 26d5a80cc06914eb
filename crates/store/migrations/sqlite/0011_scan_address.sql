-- The address each host name of a system resolved to when it was first
-- scanned (item 31-57 scans, SSRF defence): a later scan that finds the
-- name in another network stops for that host and raises an alert, until
-- the security officer confirms the new address.
CREATE TABLE scan_address (
    system_id        INTEGER NOT NULL REFERENCES system (id),
    host             TEXT    NOT NULL,
    address          TEXT    NOT NULL,
    network          TEXT    NOT NULL,
    seen_at_us       INTEGER NOT NULL,
    pending_address  TEXT,
    pending_network  TEXT,
    pending_at_us    INTEGER,
    PRIMARY KEY (system_id, host)
) STRICT;
CREATE TRIGGER scan_address_insert_revision AFTER INSERT ON scan_address BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scan_address_update_revision AFTER UPDATE ON scan_address BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scan_address_delete_revision AFTER DELETE ON scan_address BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
