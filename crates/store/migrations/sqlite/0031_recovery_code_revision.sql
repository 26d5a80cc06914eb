-- "My account" shows how many recovery codes are left: a code spent or
-- renewed counts as a change of the data pages show (see 0010).
CREATE TRIGGER recovery_code_insert_revision AFTER INSERT ON recovery_code BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER recovery_code_update_revision AFTER UPDATE ON recovery_code BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER recovery_code_delete_revision AFTER DELETE ON recovery_code BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END;
