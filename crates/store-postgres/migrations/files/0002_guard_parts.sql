-- Containment shared by the nodes (when no Redis is configured): each principal's exposure
-- and each agency's, opaque bytes written by the guard. A decision locks the principal's row
-- and reads the agency's; one that changes the agency's part locks the agency's row, then the
-- principal's (always in that order), and writes both back in the same transaction
-- (src/parts.rs). Distribution key: the agency for guard_agencies, the principal for
-- guard_principals.
CREATE TABLE guard_agencies (
    agency TEXT PRIMARY KEY,
    part BYTEA,
    updated_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE guard_principals (
    principal TEXT PRIMARY KEY,
    part BYTEA,
    updated_at BIGINT NOT NULL DEFAULT 0
);
