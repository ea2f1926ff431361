-- the facts authorisation relies on are tagged with a key from the key file (a file's agency,
-- counsellor and enrolments; a token's every field), tokens can be revoked, and principals
-- suspended. Rows stored before get their tags once (`facts_unbound`), by a process holding
-- the key; from then on an untagged row was written without it.
ALTER TABLE persons ADD COLUMN facts_tag BLOB;
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
ALTER TABLE tokens ADD COLUMN tag BLOB;
CREATE INDEX tokens_principal ON tokens (principal, id);
CREATE TABLE principals (
    name TEXT PRIMARY KEY,
    suspended INTEGER NOT NULL,
    since INTEGER NOT NULL,
    tag BLOB
);
INSERT INTO audit_meta (key, value) VALUES ('facts_unbound', (SELECT (SELECT COUNT(*) FROM persons) + (SELECT COUNT(*) FROM tokens) > 0));
