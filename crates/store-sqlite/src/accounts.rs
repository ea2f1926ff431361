//! Accounts and their requests in `vault.db`, each change with its alert and audit entry, and
//! written only over the row (and tag) it was decided from.

use crate::alerts::insert as insert_alert;
use crate::conn::db;
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{AccountRecord, AccountRequest, AccountStore, AlertRecord, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

const ACCOUNT_COLUMNS: &str =
    "name, agency, role, disabled, created_by, created_at, approved_by, approved_at, tag, subject";
const REQUEST_COLUMNS: &str = "id, kind, name, agency, role, requested_by, requested_from, requested_at, decided_by, decided_at, approved, tag";

fn row_to_account(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        name: r.get(0)?,
        agency: r.get(1)?,
        role: r.get(2)?,
        disabled: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        approved_by: r.get(6)?,
        approved_at: r.get(7)?,
        tag: r.get(8)?,
        subject: r.get(9)?,
    })
}

fn row_to_request(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRequest> {
    Ok(AccountRequest {
        id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        agency: r.get(3)?,
        role: r.get(4)?,
        requested_by: r.get(5)?,
        requested_from: r.get(6)?,
        requested_at: r.get(7)?,
        decided_by: r.get(8)?,
        decided_at: r.get(9)?,
        approved: r.get(10)?,
        tag: r.get(11)?,
    })
}

/// The account named `name` (without case).
pub(crate) fn account(c: &Connection, name: &str) -> Result<Option<AccountRecord>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?1"
    ))
    .map_err(db("prepare account"))?
    .query_row(params![name], row_to_account)
    .optional()
    .map_err(db("read account"))
}

/// Writes `a` inside `tx` if its row still holds `expected` (`None`: no row).
fn put(
    tx: &rusqlite::Transaction<'_>,
    a: &AccountRecord,
    expected: Option<&[u8]>,
) -> Result<(), StoreError> {
    let n = match expected {
        None => tx
            .execute(
                "INSERT INTO accounts (name, agency, role, disabled, created_by, created_at, approved_by, approved_at, tag, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (name) DO NOTHING",
                params![a.name, a.agency, a.role, a.disabled, a.created_by, a.created_at, a.approved_by, a.approved_at, a.tag, a.subject],
            )
            .map_err(db("insert account"))?,
        Some(tag) => tx
            .execute(
                "UPDATE accounts SET agency = ?2, role = ?3, disabled = ?4, created_by = ?5, created_at = ?6, approved_by = ?7, approved_at = ?8, tag = ?9, subject = ?11 WHERE name = ?1 AND tag = ?10",
                params![a.name, a.agency, a.role, a.disabled, a.created_by, a.created_at, a.approved_by, a.approved_at, a.tag, tag, a.subject],
            )
            .map_err(db("change account"))?,
    };
    if n == 0 {
        return Err(StoreError::Conflict("the account changed meanwhile"));
    }
    Ok(())
}

impl AccountStore for SqliteStore {
    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"
            ))
            .map_err(db("accounts"))?;
        let rows = st.query_map([], row_to_account).map_err(db("accounts"))?;
        Ok(rows.filter_map(Result::ok).collect())
    }

    fn account_requests(&self) -> Result<Vec<AccountRequest>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM account_requests ORDER BY seq DESC"
            ))
            .map_err(db("account requests"))?;
        let rows = st
            .query_map([], row_to_request)
            .map_err(db("account requests"))?;
        Ok(rows.filter_map(Result::ok).collect())
    }

    fn account_request(&self, id: &str) -> Result<Option<AccountRequest>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM account_requests WHERE id = ?1"),
            params![id],
            row_to_request,
        )
        .optional()
        .map_err(db("account request"))
    }

    fn request_account(
        &self,
        q: &AccountRequest,
        alert: &AlertRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.in_write("record account request", |tx| {
            tx.execute(
                "INSERT INTO account_requests (id, kind, name, agency, role, requested_by, requested_from, requested_at, decided_by, decided_at, approved, tag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![q.id, q.kind, q.name, q.agency, q.role, q.requested_by, q.requested_from, q.requested_at, q.decided_by, q.decided_at, q.approved, q.tag],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::Conflict("a request for this principal is pending")
                }
                e => db("record account request")(e),
            })?;
            insert_alert(tx, alert)?;
            outbox(tx, std::slice::from_ref(audit))
        })
    }

    fn decide_account_request(
        &self,
        d: &AccountRequest,
        expected: &[u8],
        account: Option<(&AccountRecord, Option<&[u8]>)>,
        alert: &AlertRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.in_write("decide account request", |tx| {
            let n = tx
                .execute(
                    "UPDATE account_requests SET decided_by = ?2, decided_at = ?3, approved = ?4, tag = ?5 WHERE id = ?1 AND approved IS NULL AND tag = ?6",
                    params![d.id, d.decided_by, d.decided_at, d.approved, d.tag, expected],
                )
                .map_err(db("decide account request"))?;
            if n == 0 {
                return Err(StoreError::Conflict("the request is no longer pending"));
            }
            if let Some((a, expected)) = account {
                put(tx, a, expected)?;
            }
            insert_alert(tx, alert)?;
            outbox(tx, std::slice::from_ref(audit))
        })
    }

    fn put_account(
        &self,
        a: &AccountRecord,
        expected: Option<&[u8]>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.in_write("write account", |tx| {
            put(tx, a, expected)?;
            outbox(tx, std::slice::from_ref(audit))
        })
    }
}
