-- Incidents (what a breach covers) and their timelines: the register of art. 33(5) GDPR.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    opened_at INTEGER NOT NULL,
    opened_by TEXT NOT NULL,
    principals TEXT NOT NULL,
    tokens TEXT NOT NULL,
    clients TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    status TEXT NOT NULL
);
CREATE TABLE incident_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident TEXT NOT NULL REFERENCES incidents (id),
    at INTEGER NOT NULL,
    by_whom TEXT NOT NULL,
    what TEXT NOT NULL
);
CREATE INDEX incident_events_of ON incident_events (incident, seq);
