-- Exports of files to a recipient; a large one waits for a second operator's approval.
CREATE TABLE exports (
    id TEXT PRIMARY KEY,
    agency TEXT NOT NULL,
    recipient TEXT NOT NULL,
    purpose TEXT NOT NULL,
    requester TEXT NOT NULL,
    people INTEGER NOT NULL,
    ids TEXT NOT NULL,
    state TEXT NOT NULL,
    approver TEXT,
    created_at INTEGER NOT NULL
);
