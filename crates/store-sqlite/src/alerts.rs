//! Containment's alerts in `vault.db`, raised in the transaction that suspends the principal.

use crate::conn::db;
use crate::outbox::outbox;
use crate::tokens::change;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{AlertRecord, AlertStore, PrincipalRecord, StoreError, TokenChange};
use rusqlite::{params, OptionalExtension};

const COLUMNS: &str =
    "id, at, principal, role, agency, token, trip, signals, people, restored_at, restored_by";

fn row_to_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRecord> {
    let people: String = r.get(8)?;
    Ok(AlertRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        principal: r.get(2)?,
        role: r.get(3)?,
        agency: r.get(4)?,
        token: r.get(5)?,
        trip: r.get(6)?,
        signals: r.get(7)?,
        people: people
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        restored_at: r.get(9)?,
        restored_by: r.get(10)?,
    })
}

/// Records `alert` inside `tx`.
pub(crate) fn insert(
    tx: &rusqlite::Transaction<'_>,
    alert: &AlertRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO alerts (id, at, principal, role, agency, token, trip, signals, people, restored_at, restored_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            alert.id,
            alert.at,
            alert.principal,
            alert.role,
            alert.agency,
            alert.token,
            alert.trip,
            alert.signals,
            alert.people.join(" "),
            alert.restored_at,
            alert.restored_by
        ],
    )
    .map_err(db("insert alert"))?;
    Ok(())
}

impl AlertStore for SqliteStore {
    fn raise_alert(
        &self,
        alert: &AlertRecord,
        principal: &PrincipalRecord,
        changes: &[TokenChange],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin alert"))?;
        change(&tx, Some(principal), changes)?;
        insert(&tx, alert)?;
        outbox(&tx, audit)?;
        tx.commit().map_err(db("commit alert"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alerts WHERE ?1 IS NULL OR seq < (SELECT seq FROM alerts WHERE id = ?1) ORDER BY seq DESC LIMIT ?2"
            ))
            .map_err(db("alerts"))?;
        let rows = st
            .query_map(params![before, limit], row_to_alert)
            .map_err(db("alerts"))?;
        rows.collect::<Result<_, _>>().map_err(db("alerts"))
    }

    fn alert(&self, id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            &format!("SELECT {COLUMNS} FROM alerts WHERE id = ?1"),
            params![id],
            row_to_alert,
        )
        .optional()
        .map_err(db("alert"))
    }
}
