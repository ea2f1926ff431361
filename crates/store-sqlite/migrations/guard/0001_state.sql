-- Containment's kept state (counts, learned hours, baselines): one row, replaced whole.
CREATE TABLE guard_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state BLOB NOT NULL,
    saved_at INTEGER NOT NULL
);
