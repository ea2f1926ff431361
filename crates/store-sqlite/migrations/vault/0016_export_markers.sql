-- Per-recipient export markers: each a decoy file (persons.decoy = 1) made for one export,
-- written in the transaction that marks the export done.
CREATE TABLE export_markers (
    person_id TEXT PRIMARY KEY,
    export TEXT NOT NULL,
    agency TEXT NOT NULL,
    recipient TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX export_markers_of ON export_markers (export, person_id);
