-- The data's revision (0010) is counted when a transaction commits, no
-- longer when each statement ends. Counted at a statement's end, the first
-- change a transaction made took the one row of data_revision and held it
-- to the commit: any transaction that changed a counted table and then
-- waited for a row (release data filling the components of several
-- systems, one system after another) could wait for one that held that
-- row's system and waited for data_revision in turn, a deadlock that
-- PostgreSQL broke by aborting one of them. Every writer of counted
-- tables also waited, from its first change, for every other's commit.
-- Now the row is taken at the commit, once per transaction (the setting
-- mamori.data_counted marks it counted, and goes with the transaction),
-- when nothing more is waited for. PostgreSQL's deferred triggers are
-- row triggers: each changed row queues one, and all but the first find
-- the transaction counted already.
CREATE OR REPLACE FUNCTION count_data_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('mamori.data_counted', true) IS DISTINCT FROM 'yes' THEN
        UPDATE data_revision SET n = n + 1 WHERE id = 1;
        PERFORM set_config('mamori.data_counted', 'yes', true);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER account_revision ON account;
CREATE CONSTRAINT TRIGGER account_revision AFTER INSERT OR UPDATE OR DELETE ON account DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER alert_revision ON alert;
CREATE CONSTRAINT TRIGGER alert_revision AFTER INSERT OR UPDATE OR DELETE ON alert DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER answer_event_revision ON answer_event;
CREATE CONSTRAINT TRIGGER answer_event_revision AFTER INSERT OR UPDATE OR DELETE ON answer_event DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER answer_revision ON answer;
CREATE CONSTRAINT TRIGGER answer_revision AFTER INSERT OR UPDATE OR DELETE ON answer DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER applicability_override_revision ON applicability_override;
CREATE CONSTRAINT TRIGGER applicability_override_revision AFTER INSERT OR UPDATE OR DELETE ON applicability_override DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER catalog_version_revision ON catalog_version;
CREATE CONSTRAINT TRIGGER catalog_version_revision AFTER INSERT OR UPDATE OR DELETE ON catalog_version DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER component_revision ON component;
CREATE CONSTRAINT TRIGGER component_revision AFTER INSERT OR UPDATE OR DELETE ON component DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER document_link_revision ON document_link;
CREATE CONSTRAINT TRIGGER document_link_revision AFTER INSERT OR UPDATE OR DELETE ON document_link DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER document_revision ON document;
CREATE CONSTRAINT TRIGGER document_revision AFTER INSERT OR UPDATE OR DELETE ON document DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER document_revision_revision ON document_revision;
CREATE CONSTRAINT TRIGGER document_revision_revision AFTER INSERT OR UPDATE OR DELETE ON document_revision DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER evidence_revision ON evidence;
CREATE CONSTRAINT TRIGGER evidence_revision AFTER INSERT OR UPDATE OR DELETE ON evidence DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER item_party_revision ON item_party;
CREATE CONSTRAINT TRIGGER item_party_revision AFTER INSERT OR UPDATE OR DELETE ON item_party DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER organisation_revision ON organisation;
CREATE CONSTRAINT TRIGGER organisation_revision AFTER INSERT OR UPDATE OR DELETE ON organisation DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER part_submission_revision ON part_submission;
CREATE CONSTRAINT TRIGGER part_submission_revision AFTER INSERT OR UPDATE OR DELETE ON part_submission DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER record_revision ON record;
CREATE CONSTRAINT TRIGGER record_revision AFTER INSERT OR UPDATE OR DELETE ON record DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER recovery_code_revision ON recovery_code;
CREATE CONSTRAINT TRIGGER recovery_code_revision AFTER INSERT OR UPDATE OR DELETE ON recovery_code DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER requirement_revision ON requirement;
CREATE CONSTRAINT TRIGGER requirement_revision AFTER INSERT OR UPDATE OR DELETE ON requirement DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER review_signoff_revision ON review_signoff;
CREATE CONSTRAINT TRIGGER review_signoff_revision AFTER INSERT OR UPDATE OR DELETE ON review_signoff DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER scan_address_revision ON scan_address;
CREATE CONSTRAINT TRIGGER scan_address_revision AFTER INSERT OR UPDATE OR DELETE ON scan_address DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER scan_run_revision ON scan_run;
CREATE CONSTRAINT TRIGGER scan_run_revision AFTER INSERT OR UPDATE OR DELETE ON scan_run DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER system_report_month_revision ON system_report_month;
CREATE CONSTRAINT TRIGGER system_report_month_revision AFTER INSERT OR UPDATE OR DELETE ON system_report_month DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER system_revision ON system;
CREATE CONSTRAINT TRIGGER system_revision AFTER INSERT OR UPDATE OR DELETE ON system DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER vuln_match_revision ON vuln_match;
CREATE CONSTRAINT TRIGGER vuln_match_revision AFTER INSERT OR UPDATE OR DELETE ON vuln_match DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
DROP TRIGGER yearly_report_revision ON yearly_report;
CREATE CONSTRAINT TRIGGER yearly_report_revision AFTER INSERT OR UPDATE OR DELETE ON yearly_report DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision();
