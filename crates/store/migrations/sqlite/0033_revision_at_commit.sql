-- PostgreSQL counts the data's revision at each transaction's commit from
-- this migration on (see postgres/0033). SQLite's writers go one at a
-- time, its triggers are as they were; the number is kept the same on
-- both so that a backup restores from one to the other.
SELECT 1;
