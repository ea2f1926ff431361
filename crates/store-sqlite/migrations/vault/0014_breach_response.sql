-- Breach response. What an incident is about beyond an access (a stolen key, a stolen copy of
-- the database, a leaked file), when it was discovered, and what its author says of it.
ALTER TABLE incidents ADD COLUMN kind TEXT NOT NULL DEFAULT 'access';
ALTER TABLE incidents ADD COLUMN key_version INTEGER;
ALTER TABLE incidents ADD COLUMN copy_as_of INTEGER;
ALTER TABLE incidents ADD COLUMN discovered_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
-- The people of an incident once fixed (at opening for a stolen key or a leaked file, when the
-- notices are prepared otherwise): pseudonymous ids and category names only.
CREATE TABLE incident_people (
    incident TEXT NOT NULL REFERENCES incidents (id),
    person TEXT NOT NULL,
    categories TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (incident, person)
) WITHOUT ROWID;
CREATE INDEX incident_people_person ON incident_people (person, incident);
-- Notifications made to the supervisory authority (art. 33), in phases.
CREATE TABLE incident_filings (
    incident TEXT NOT NULL REFERENCES incidents (id),
    phase INTEGER NOT NULL,
    filed_at INTEGER NOT NULL,
    filed_by TEXT NOT NULL,
    reference TEXT NOT NULL,
    late_reason TEXT,
    PRIMARY KEY (incident, phase)
) WITHOUT ROWID;
-- The notices to people (art. 34): a batch per incident, approved by the DPO, and the outbox
-- of its messages. No address and no text: both are made from the sealed file when a message
-- leaves.
CREATE TABLE notice_batches (
    incident TEXT PRIMARY KEY REFERENCES incidents (id),
    prepared_by TEXT NOT NULL,
    prepared_at INTEGER NOT NULL,
    language TEXT NOT NULL,
    approved_by TEXT,
    approved_at INTEGER
) WITHOUT ROWID;
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    incident TEXT NOT NULL REFERENCES incidents (id),
    person TEXT NOT NULL,
    recipient INTEGER NOT NULL,
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    sent_at INTEGER
) WITHOUT ROWID;
CREATE INDEX notices_of ON notices (incident, status, id);
