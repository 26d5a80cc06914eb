-- PostgreSQL counts the data's revision at each transaction's commit from
-- this migration on, through data_revision_pending (see postgres/0033).
-- SQLite's writers go one at a time and its triggers are as they were: the
-- table is here so that both databases hold the same tables, and a backup
-- restores from one to the other.
CREATE TABLE data_revision_pending (
    id INTEGER PRIMARY KEY
);
