-- files (one sealed column per category), blind indexes, tokens.
CREATE TABLE persons (
    id TEXT PRIMARY KEY,
    agency TEXT NOT NULL,
    dk_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    index_entries BLOB NOT NULL,
    identity BLOB, social_security BLOB, agency_ids BLOB, contact BLOB, situation BLOB,
    education BLOB, professional BLOB, followup BLOB, legal_representatives BLOB
);
CREATE INDEX persons_agency ON persons (agency, id);
CREATE TABLE blind_index (
    kind INTEGER NOT NULL,
    hash BLOB NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (kind, hash, person_id)
) WITHOUT ROWID;
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    agency TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    suspended INTEGER NOT NULL DEFAULT 0
);
