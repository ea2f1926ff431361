-- the roots of the log's aligned perfect subtrees of 2^8 leaves and more (derived from the
-- leaves, written with them), for proofs and checkpoints in O(log n).
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
