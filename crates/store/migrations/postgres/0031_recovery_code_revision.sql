-- "My account" shows how many recovery codes are left: a code spent or
-- renewed counts as a change of the data pages show (see 0010).
CREATE TRIGGER recovery_code_revision AFTER INSERT OR UPDATE OR DELETE ON recovery_code FOR EACH STATEMENT EXECUTE FUNCTION count_data_revision();
