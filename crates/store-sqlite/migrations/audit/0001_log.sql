-- entries in a total order and their Merkle leaves; the per-person index, ordered by stretch
-- of the log first (`bucket` = seq >> BUCKET_BITS) so that a batch of new entries lands in the
-- few pages of the current stretch; signed checkpoints; the roots of the aligned perfect
-- subtrees of 2^8 leaves and more; positions (`indexed_through`, `outbox_through`).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    leaf BLOB NOT NULL
);
CREATE TABLE audit_persons (
    bucket INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (bucket, person_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    checkpoint BLOB NOT NULL
);
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO log_meta (key, value) VALUES ('indexed_through', 0), ('outbox_through', 0);
