-- Events purged past the retention (item 29), kept as the compressed JSON
-- Lines archive the purge wrote, in the same transaction as the removal:
-- every instance can read it, and backups carry it.
CREATE TABLE audit_archive (
    name          TEXT    PRIMARY KEY,   -- audit-FROM-THROUGH.jsonl.gz
    from_seq      BIGINT NOT NULL,
    through_seq   BIGINT NOT NULL,
    sha256        TEXT    NOT NULL,
    bytes         BYTEA    NOT NULL,
    created_at_us BIGINT NOT NULL
);
