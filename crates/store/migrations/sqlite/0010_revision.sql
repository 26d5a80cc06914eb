-- One number that every change to the data signed-in pages show counts up
-- (accounts, organisations, catalogs, systems and what hangs off them,
-- alerts, scans). A request reads it once, and what it reads of these
-- tables can be kept in memory until the number moves
-- (`mamori_store::revision`). Triggers keep it, so a change made by any
-- process or instance counts, whatever code made it. The audit log, the
-- sign-in attempts and the sessions are not counted: they change with
-- every request, and no page keeps them.
CREATE TABLE data_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO data_revision (id, n) VALUES (1, 0);
CREATE TRIGGER organisation_insert_revision AFTER INSERT ON organisation BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER organisation_update_revision AFTER UPDATE ON organisation BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER organisation_delete_revision AFTER DELETE ON organisation BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER account_insert_revision AFTER INSERT ON account BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER account_update_revision AFTER UPDATE ON account BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER account_delete_revision AFTER DELETE ON account BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER catalog_version_insert_revision AFTER INSERT ON catalog_version BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER catalog_version_update_revision AFTER UPDATE ON catalog_version BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER catalog_version_delete_revision AFTER DELETE ON catalog_version BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER requirement_insert_revision AFTER INSERT ON requirement BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER requirement_update_revision AFTER UPDATE ON requirement BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER requirement_delete_revision AFTER DELETE ON requirement BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER system_insert_revision AFTER INSERT ON system BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER system_update_revision AFTER UPDATE ON system BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER system_delete_revision AFTER DELETE ON system BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER applicability_override_insert_revision AFTER INSERT ON applicability_override BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER applicability_override_update_revision AFTER UPDATE ON applicability_override BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER applicability_override_delete_revision AFTER DELETE ON applicability_override BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER answer_insert_revision AFTER INSERT ON answer BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER answer_update_revision AFTER UPDATE ON answer BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER answer_delete_revision AFTER DELETE ON answer BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER answer_event_insert_revision AFTER INSERT ON answer_event BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER answer_event_update_revision AFTER UPDATE ON answer_event BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER answer_event_delete_revision AFTER DELETE ON answer_event BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER evidence_insert_revision AFTER INSERT ON evidence BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER evidence_update_revision AFTER UPDATE ON evidence BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER evidence_delete_revision AFTER DELETE ON evidence BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER alert_insert_revision AFTER INSERT ON alert BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER alert_update_revision AFTER UPDATE ON alert BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER alert_delete_revision AFTER DELETE ON alert BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scan_run_insert_revision AFTER INSERT ON scan_run BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scan_run_update_revision AFTER UPDATE ON scan_run BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER scan_run_delete_revision AFTER DELETE ON scan_run BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
