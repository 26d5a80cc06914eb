-- The data's revision (0010) is counted when a transaction commits, no
-- longer when each statement ends. Counted at a statement's end, the first
-- change a transaction made took the one row of data_revision and held it
-- to the commit: any transaction that changed a counted table and then
-- waited for a row (release data filling the components of several
-- systems, one system after another) could wait for one that held that
-- row's system and waited for data_revision in turn, a deadlock that
-- PostgreSQL broke by aborting one of them. Every writer of counted tables
-- also waited, from its first change, for every other's commit.
--
-- Now the first counted statement of a transaction marks it (the setting
-- mamori.data_counted, which goes with the transaction) and leaves one row
-- in data_revision_pending; that row's deferred trigger counts the
-- revision at the commit, when nothing more is waited for, and removes
-- the row. One deferred event per transaction, whatever number of rows it
-- changes (a restore changes every row). The statement triggers of 0010
-- and after call the function as before.
CREATE TABLE data_revision_pending (
    id BIGSERIAL PRIMARY KEY
);

CREATE OR REPLACE FUNCTION count_data_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('mamori.data_counted', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('mamori.data_counted', 'yes', true);
        INSERT INTO data_revision_pending DEFAULT VALUES;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION count_data_revision_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_revision SET n = n + 1 WHERE id = 1;
    DELETE FROM data_revision_pending WHERE id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER data_revision_at_commit AFTER INSERT ON data_revision_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_data_revision_at_commit();
