-- Wrapped per-person data keys, in a database of their own (or a schema with its own role):
-- a dump of the files database, taken with the application's credentials, holds none.
CREATE TABLE data_keys (
    person_id TEXT PRIMARY KEY,
    master_version BIGINT NOT NULL,
    wrapped BYTEA NOT NULL
);
CREATE INDEX data_keys_version ON data_keys (master_version, person_id);
