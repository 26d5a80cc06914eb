-- Several parties answer one system (the department, the builder, the
-- maintenance vendor, the cloud provider). `vendor_id` stays the builder;
-- an unassigned maintenance or cloud party falls to the builder, and a
-- system without any vendor is answered by its department
-- (`mamori_core::parties`).
ALTER TABLE system ADD COLUMN maintenance_id INTEGER REFERENCES organisation (id);
ALTER TABLE system ADD COLUMN cloud_id INTEGER REFERENCES organisation (id);
CREATE INDEX system_maintenance ON system (maintenance_id);
CREATE INDEX system_cloud ON system (cloud_id);

-- The officer's move of one item of one system to another party than the
-- catalog's default.
CREATE TABLE item_party (
    system_id   INTEGER NOT NULL REFERENCES system (id),
    number      INTEGER NOT NULL,
    party       TEXT    NOT NULL CHECK (party IN ('department', 'builder', 'maintenance', 'cloud')),
    actor_login TEXT    NOT NULL,
    at_us       INTEGER NOT NULL,
    PRIMARY KEY (system_id, number)
) STRICT;

-- Each organisation submits its part of a round; the system goes to review
-- when every part is in. A part reopened by a return loses its row.
CREATE TABLE part_submission (
    system_id       INTEGER NOT NULL REFERENCES system (id),
    round           INTEGER NOT NULL,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    actor_login     TEXT    NOT NULL,
    at_us           INTEGER NOT NULL,
    PRIMARY KEY (system_id, round, organisation_id)
) STRICT;

CREATE TRIGGER item_party_insert_revision AFTER INSERT ON item_party BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER item_party_update_revision AFTER UPDATE ON item_party BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER item_party_delete_revision AFTER DELETE ON item_party BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER part_submission_insert_revision AFTER INSERT ON part_submission BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER part_submission_update_revision AFTER UPDATE ON part_submission BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER part_submission_delete_revision AFTER DELETE ON part_submission BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
