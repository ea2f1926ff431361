-- the audit log moves to `audit.db` (the tables of migrations 2–5 are moved there and dropped
-- by `move_log_out`). A write act puts its entries here, in its own transaction; the audit
-- writer moves them into the log. AUTOINCREMENT: ids are never reused once moved rows are
-- deleted.
CREATE TABLE audit_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry BLOB NOT NULL
);
