-- Principals as records (accounts) and the requests a second operator approves; what binds a
-- token's use (scopes, client addresses, a DPoP key), tagged with its other fields.
CREATE TABLE accounts (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    agency TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    subject TEXT,
    tag BLOB
);
CREATE TABLE account_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    agency TEXT NOT NULL,
    role TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_from TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    approved INTEGER,
    tag BLOB
);
CREATE UNIQUE INDEX account_requests_pending ON account_requests (name) WHERE approved IS NULL;
ALTER TABLE tokens ADD COLUMN bounds TEXT NOT NULL DEFAULT '';
