-- the per-person index of the audit log is maintained in batches, behind the log.
CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
 INSERT INTO audit_meta (key, value) VALUES ('indexed_through', (SELECT COALESCE(MAX(seq), 0) FROM audit_log));
