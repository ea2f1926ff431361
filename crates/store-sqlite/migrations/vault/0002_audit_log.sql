-- the audit log (entries in a total order, their Merkle leaves) and its per-person index.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    leaf BLOB NOT NULL
);
CREATE TABLE audit_persons (
    person_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (person_id, seq)
) WITHOUT ROWID;
