-- signed checkpoints of the audit log (also written to the witness outside the database).
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    checkpoint BLOB NOT NULL
);
