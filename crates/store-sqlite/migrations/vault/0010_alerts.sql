-- Containment's alerts: raised in the transaction that suspends the principal, closed in the
-- one that restores it.
CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at INTEGER NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    agency TEXT NOT NULL,
    token TEXT NOT NULL,
    trip TEXT NOT NULL,
    signals TEXT NOT NULL,
    people TEXT NOT NULL,
    restored_at INTEGER,
    restored_by TEXT
);
CREATE INDEX alerts_open ON alerts (principal) WHERE restored_at IS NULL;
