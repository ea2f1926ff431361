//! Exports in `vault.db`, each change with its audit entry.

use crate::conn::db;
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{ExportRecord, ExportStore, StoreError};
use rusqlite::{params, OptionalExtension};

impl ExportStore for SqliteStore {
    fn insert_export(&self, e: &ExportRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin export"))?;
        tx.execute(
            "INSERT INTO exports (id, agency, recipient, purpose, requester, people, ids, state, approver, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![e.id, e.agency, e.recipient, e.purpose, e.requester, e.people as i64, e.ids.join(" "), e.state, e.approver, e.created_at],
        )
        .map_err(db("insert export"))?;
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit export"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn export(&self, id: &str) -> Result<Option<ExportRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            "SELECT id, agency, recipient, purpose, requester, people, state, approver, created_at, ids FROM exports WHERE id = ?1",
            params![id],
            |r| {
                Ok(ExportRecord {
                    id: r.get(0)?,
                    agency: r.get(1)?,
                    recipient: r.get(2)?,
                    purpose: r.get(3)?,
                    requester: r.get(4)?,
                    people: r.get::<_, i64>(5)? as u64,
                    state: r.get(6)?,
                    approver: r.get(7)?,
                    created_at: r.get(8)?,
                    ids: r
                        .get::<_, String>(9)?
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
            },
        )
        .optional()
        .map_err(db("read export"))
    }

    fn move_export(
        &self,
        id: &str,
        from: &str,
        to: &str,
        approver: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin export change"))?;
        let n = tx
            .execute(
                "UPDATE exports SET state = ?1, approver = COALESCE(?2, approver) WHERE id = ?3 AND state = ?4",
                params![to, approver, id, from],
            )
            .map_err(db("change export"))?;
        if n == 0 {
            return Ok(false);
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit export change"))?;
        drop(w);
        self.settle();
        Ok(true)
    }
}
