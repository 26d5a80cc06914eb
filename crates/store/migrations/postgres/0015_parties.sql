-- Several parties answer one system (the department, the builder, the
-- maintenance vendor, the cloud provider). `vendor_id` stays the builder;
-- an unassigned maintenance or cloud party falls to the builder, and a
-- system without any vendor is answered by its department
-- (`mamori_core::parties`).
ALTER TABLE system ADD COLUMN maintenance_id BIGINT REFERENCES organisation (id);
ALTER TABLE system ADD COLUMN cloud_id BIGINT REFERENCES organisation (id);
CREATE INDEX system_maintenance ON system (maintenance_id);
CREATE INDEX system_cloud ON system (cloud_id);

-- The officer's move of one item of one system to another party than the
-- catalog's default.
CREATE TABLE item_party (
    system_id   BIGINT NOT NULL REFERENCES system (id),
    number      BIGINT NOT NULL,
    party       TEXT   NOT NULL CHECK (party IN ('department', 'builder', 'maintenance', 'cloud')),
    actor_login TEXT   NOT NULL,
    at_us       BIGINT NOT NULL,
    PRIMARY KEY (system_id, number)
);

-- Each organisation submits its part of a round; the system goes to review
-- when every part is in. A part reopened by a return loses its row.
CREATE TABLE part_submission (
    system_id       BIGINT NOT NULL REFERENCES system (id),
    round           BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisation (id),
    actor_login     TEXT   NOT NULL,
    at_us           BIGINT NOT NULL,
    PRIMARY KEY (system_id, round, organisation_id)
);

CREATE TRIGGER item_party_revision AFTER INSERT OR UPDATE OR DELETE ON item_party FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
CREATE TRIGGER part_submission_revision AFTER INSERT OR UPDATE OR DELETE ON part_submission FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
