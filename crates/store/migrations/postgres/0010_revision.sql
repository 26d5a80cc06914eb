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
    n BIGINT NOT NULL
);
INSERT INTO data_revision (id, n) VALUES (1, 0);

CREATE FUNCTION count_data_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_revision SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER organisation_revision AFTER INSERT OR UPDATE OR DELETE ON organisation FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER account_revision AFTER INSERT OR UPDATE OR DELETE ON account FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER catalog_version_revision AFTER INSERT OR UPDATE OR DELETE ON catalog_version FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER requirement_revision AFTER INSERT OR UPDATE OR DELETE ON requirement FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER system_revision AFTER INSERT OR UPDATE OR DELETE ON system FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER applicability_override_revision AFTER INSERT OR UPDATE OR DELETE ON applicability_override FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER answer_revision AFTER INSERT OR UPDATE OR DELETE ON answer FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER answer_event_revision AFTER INSERT OR UPDATE OR DELETE ON answer_event FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER evidence_revision AFTER INSERT OR UPDATE OR DELETE ON evidence FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER alert_revision AFTER INSERT OR UPDATE OR DELETE ON alert FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER scan_run_revision AFTER INSERT OR UPDATE OR DELETE ON scan_run FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
