-- Rempart's files database on PostgreSQL: everything but the wrapped data keys, which live in
-- a database of their own (migrations/keys). Integers are BIGINT (seconds since the epoch for
-- times), sealed bytes and tags BYTEA, flags BOOLEAN. No table holds plaintext personal data.
-- Every table's distribution key, for a distributed PostgreSQL, is named in ARCHITECTURE.md.

-- Files: one sealed column per category, the blind-index terms sealed (index_entries), the
-- caseload (the counsellor's login) and the tag binding the facts authorisation relies on.
-- Ids, agencies, logins and partners compare and sort byte by byte (COLLATE "C"), as on
-- SQLite, whatever the database's collation: listings page in the same order everywhere.
CREATE TABLE persons (
    id TEXT COLLATE "C" PRIMARY KEY,
    agency TEXT COLLATE "C" NOT NULL,
    dk_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    index_entries BYTEA NOT NULL,
    identity BYTEA, social_security BYTEA, agency_ids BYTEA, contact BYTEA, situation BYTEA,
    education BYTEA, professional BYTEA, followup BYTEA, legal_representatives BYTEA,
    counsellor TEXT COLLATE "C",
    facts_tag BYTEA,
    decoy BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX persons_agency ON persons (agency, id);
CREATE INDEX persons_caseload ON persons (agency, counsellor, id);
CREATE TABLE blind_index (
    kind BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    person_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, hash, person_id)
);
CREATE INDEX blind_index_person ON blind_index (person_id);
CREATE TABLE enrolments (
    person_id TEXT COLLATE "C" NOT NULL,
    partner TEXT COLLATE "C" NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (person_id, partner)
);
CREATE INDEX enrolments_partner ON enrolments (partner, person_id);

-- Tokens (their SHA-256 only), principals' suspensions, accounts and their requests.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    agency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    suspended BOOLEAN NOT NULL DEFAULT FALSE,
    revoked_at BIGINT,
    tag BYTEA,
    bounds TEXT NOT NULL DEFAULT ''
);
-- Principals compare without case (lower()), as on SQLite (COLLATE NOCASE, ASCII): a
-- principal's tokens are found, and its one suspension record kept, under lower(name).
CREATE INDEX tokens_principal ON tokens (lower(principal), id);
CREATE TABLE principals (
    name TEXT PRIMARY KEY,
    suspended BOOLEAN NOT NULL,
    since BIGINT NOT NULL,
    tag BYTEA
);
CREATE UNIQUE INDEX principals_name ON principals (lower(name));
-- Names compare without case (lower()), as on SQLite (COLLATE NOCASE, ASCII).
CREATE TABLE accounts (
    name TEXT NOT NULL,
    agency TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    subject TEXT,
    tag BYTEA
);
CREATE UNIQUE INDEX accounts_name ON accounts (lower(name));
CREATE TABLE account_requests (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    agency TEXT NOT NULL,
    role TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_from TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    approved BOOLEAN,
    tag BYTEA
);
CREATE UNIQUE INDEX account_requests_pending ON account_requests (lower(name)) WHERE approved IS NULL;

-- Containment: alerts, raised in the transaction that suspends the principal.
CREATE TABLE alerts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    agency TEXT NOT NULL,
    token TEXT NOT NULL,
    trip TEXT NOT NULL,
    signals TEXT NOT NULL,
    people TEXT NOT NULL,
    restored_at BIGINT,
    restored_by TEXT
);
CREATE INDEX alerts_open ON alerts (lower(principal)) WHERE restored_at IS NULL;
-- Containment's kept state (learned hours, baselines): one row, replaced whole.
CREATE TABLE guard_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    state BYTEA NOT NULL,
    saved_at BIGINT NOT NULL
);

-- Exports and their markers.
CREATE TABLE exports (
    id TEXT PRIMARY KEY,
    agency TEXT NOT NULL,
    recipient TEXT NOT NULL,
    purpose TEXT NOT NULL,
    requester TEXT NOT NULL,
    people BIGINT NOT NULL,
    ids TEXT NOT NULL,
    state TEXT NOT NULL,
    approver TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE export_markers (
    person_id TEXT PRIMARY KEY,
    export TEXT NOT NULL,
    agency TEXT NOT NULL,
    recipient TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX export_markers_of ON export_markers (export, person_id);

-- Incidents, their timelines, people, filings, notices.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    opened_at BIGINT NOT NULL,
    opened_by TEXT NOT NULL,
    principals TEXT NOT NULL,
    tokens TEXT NOT NULL,
    clients TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT,
    status TEXT NOT NULL,
    agency TEXT NOT NULL DEFAULT 'LOCAL',
    kind TEXT NOT NULL DEFAULT 'access',
    key_version BIGINT,
    copy_as_of BIGINT,
    discovered_at BIGINT NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT '',
    -- For a stolen copy or key: how many files the attacker held (a count, as on SQLite).
    held BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE incident_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident TEXT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    by_whom TEXT NOT NULL,
    what TEXT NOT NULL
);
CREATE INDEX incident_events_of ON incident_events (incident, seq);
CREATE TABLE incident_people (
    incident TEXT NOT NULL REFERENCES incidents (id),
    person TEXT NOT NULL,
    categories TEXT NOT NULL,
    first BIGINT NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (incident, person)
);
CREATE INDEX incident_people_person ON incident_people (person, incident);
CREATE TABLE incident_filings (
    incident TEXT NOT NULL REFERENCES incidents (id),
    phase BIGINT NOT NULL,
    filed_at BIGINT NOT NULL,
    filed_by TEXT NOT NULL,
    reference TEXT NOT NULL,
    late_reason TEXT,
    PRIMARY KEY (incident, phase)
);
CREATE TABLE notice_batches (
    incident TEXT PRIMARY KEY REFERENCES incidents (id),
    prepared_by TEXT NOT NULL,
    prepared_at BIGINT NOT NULL,
    language TEXT NOT NULL,
    approved_by TEXT,
    approved_at BIGINT
);
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    incident TEXT NOT NULL REFERENCES incidents (id),
    person TEXT NOT NULL,
    recipient BIGINT NOT NULL,
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    sent_at BIGINT
);
CREATE INDEX notices_of ON notices (incident, status, id);
-- `seq` orders the rows under one lookup key, oldest first (SQLite's rowid).
CREATE TABLE verification_codes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lookup BYTEA NOT NULL,
    serial BYTEA NOT NULL,
    recipient BYTEA NOT NULL,
    sent_on TEXT NOT NULL,
    agency TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX verification_codes_lookup ON verification_codes (lookup, seq);

-- The audit log. One order across every node: `audit_head` holds the length of the log, and
-- an append locks it (SELECT … FOR UPDATE) in the transaction that inserts the entries, so
-- that positions are given out one transaction at a time, without gaps, in commit order.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    len BIGINT NOT NULL
);
INSERT INTO audit_head (id, len) VALUES (1, 0);
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    entry BYTEA NOT NULL,
    leaf BYTEA NOT NULL
);
-- The roots of the aligned perfect subtrees of 2^8 leaves and more, written with the leaves.
CREATE TABLE audit_nodes (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    checkpoint BYTEA NOT NULL
);
-- The per-person index of the log (a person's id, or `@principal/DAY`), written in the
-- transaction that appends the entries.
CREATE TABLE audit_persons (
    person_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (person_id, seq)
);
CREATE INDEX audit_persons_seq ON audit_persons (seq);
-- Which node signs checkpoints: a lease, taken and renewed in the database; a node whose
-- lease has lapsed stops signing.
CREATE TABLE audit_lease (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Rows stored before facts were tagged: none on PostgreSQL, whose schema starts with tags.
