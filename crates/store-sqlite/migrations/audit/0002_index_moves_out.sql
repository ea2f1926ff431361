-- the per-person index moves to `audit-index.db`, written by a thread of its own, so that the
-- log's commits never wait behind indexing (`take_old_index` copies it there before this
-- runs).
DROP TABLE audit_persons;
DELETE FROM log_meta WHERE key = 'indexed_through';
