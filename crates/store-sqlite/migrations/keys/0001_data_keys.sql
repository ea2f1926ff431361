-- wrapped per-person data keys.
CREATE TABLE data_keys (
    person_id TEXT PRIMARY KEY,
    master_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX data_keys_version ON data_keys (master_version, person_id);
