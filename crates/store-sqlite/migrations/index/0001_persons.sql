-- the persons of each entry, ordered by stretch of the log first (`bucket` = seq >>
-- BUCKET_BITS) so that a batch of new entries lands in the few pages of the current stretch;
-- the last entry indexed and its leaf (to tell whether the log is still the one indexed).
CREATE TABLE persons (
    bucket INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (bucket, person_id, seq)
) WITHOUT ROWID;
CREATE TABLE position (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL,
    leaf BLOB
);
INSERT INTO position (id, through, leaf) VALUES (1, 0, NULL);
