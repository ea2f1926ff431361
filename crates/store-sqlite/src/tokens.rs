//! Tokens and principals' suspensions in `vault.db`: reads, and changes made only when the
//! row still holds the tag the change was computed from.

use crate::conn::db;
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{PrincipalRecord, StoreError, TokenChange, TokenRecord, TokenStore};
use rusqlite::{params, Connection, OptionalExtension};

const TOKEN_COLUMNS: &str =
    "id, hash, principal, role, agency, created_at, expires_at, suspended, revoked_at, tag, bounds";

fn row_to_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<TokenRecord, StoreError>> {
    let h: Vec<u8> = r.get(1)?;
    let Ok(hash) = <[u8; 32]>::try_from(h.as_slice()) else {
        return Ok(Err(StoreError::Corrupt("token hash length")));
    };
    Ok(Ok(TokenRecord {
        id: r.get(0)?,
        hash,
        principal: r.get(2)?,
        role: r.get(3)?,
        agency: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        suspended: r.get(7)?,
        revoked_at: r.get(8)?,
        tag: r.get(9)?,
        bounds: r.get(10)?,
    }))
}

fn query(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<TokenRecord>, StoreError> {
    let mut st = c.prepare_cached(sql).map_err(db("prepare tokens"))?;
    let rows = st.query_map(p, row_to_token).map_err(db("read tokens"))?;
    rows.map(|r| r.map_err(db("read tokens")).and_then(|t| t))
        .collect()
}

/// The token whose hash is `hash`.
pub(crate) fn by_hash(c: &Connection, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
    Ok(query(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"),
        params![&hash[..]],
    )?
    .pop())
}

/// The token whose public id is `id`.
pub(crate) fn by_id(c: &Connection, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    Ok(query(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"),
        params![id],
    )?
    .pop())
}

/// Every token that can be read, by creation time: a row that cannot (a hash of the wrong
/// length, a text where a number goes, written by hand) is skipped, so that one such row does
/// not stop the listing, revocation or suspension of the others.
pub(crate) fn all(c: &Connection) -> Result<Vec<TokenRecord>, StoreError> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"
        ))
        .map_err(db("prepare tokens"))?;
    let rows = st.query_map([], row_to_token).map_err(db("read tokens"))?;
    Ok(rows.filter_map(|r| r.ok().and_then(Result::ok)).collect())
}

/// Up to `limit` tokens without a tag.
pub(crate) fn untagged(c: &Connection, limit: usize) -> Result<Vec<TokenRecord>, StoreError> {
    query(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tag IS NULL ORDER BY id LIMIT ?1"),
        params![limit as i64],
    )
}

/// Whether the principal holds a suspended token that is not revoked (its suspension, even
/// if its record was deleted by hand).
pub(crate) fn suspended_tokens(c: &Connection, name: &str) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM tokens WHERE principal = ?1 COLLATE NOCASE AND suspended = 1 AND revoked_at IS NULL)",
        params![name],
        |r| r.get(0),
    )
    .map_err(db("read suspension"))
}

/// A principal's suspension record.
pub(crate) fn principal(c: &Connection, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
    c.prepare_cached(
        "SELECT name, suspended, since, tag FROM principals WHERE name = ?1 COLLATE NOCASE",
    )
    .map_err(db("prepare principal"))?
    .query_row(params![name], |r| {
        Ok(PrincipalRecord {
            name: r.get(0)?,
            suspended: r.get(1)?,
            since: r.get(2)?,
            tag: r.get(3)?,
        })
    })
    .optional()
    .map_err(db("read principal"))
}

/// Applies `changes` (each only where the row holds its expected tag) and the principal's
/// record; `Conflict` if a row changed meanwhile, or if the principal has a token that
/// `changes` does not name.
pub(crate) fn change(
    tx: &rusqlite::Transaction<'_>,
    principal: Option<&PrincipalRecord>,
    changes: &[TokenChange],
) -> Result<(), StoreError> {
    for ch in changes {
        let n = tx
            .execute(
                "UPDATE tokens SET suspended = ?1, revoked_at = ?2, tag = ?3, expires_at = ?6 WHERE id = ?4 AND tag IS ?5",
                params![ch.suspended, ch.revoked_at, ch.tag, ch.id, ch.expected, ch.expires_at],
            )
            .map_err(db("change token"))?;
        if n == 0 {
            return Err(StoreError::Conflict("a token"));
        }
    }
    if let Some(p) = principal {
        let tokens: i64 = tx
            .query_row(
                // Logins are compared without case: tokens made before logins were lower-cased
                // keep the case they were typed in.
                "SELECT COUNT(*) FROM tokens WHERE principal = ?1 COLLATE NOCASE",
                params![p.name],
                |r| r.get(0),
            )
            .map_err(db("count tokens"))?;
        if tokens as usize != changes.len() {
            return Err(StoreError::Conflict("the principal's tokens"));
        }
        tx.execute(
            "INSERT INTO principals (name, suspended, since, tag) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET suspended = excluded.suspended, since = excluded.since, tag = excluded.tag",
            params![p.name, p.suspended, p.since, p.tag],
        )
        .map_err(db("record principal"))?;
    }
    Ok(())
}

impl TokenStore for SqliteStore {
    fn insert_token(&self, t: &TokenRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin token insert"))?;
        if principal(&tx, &t.principal)?.is_some_and(|p| p.suspended)
            || suspended_tokens(&tx, &t.principal)?
        {
            return Err(StoreError::PrincipalSuspended);
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.execute(
            "INSERT INTO tokens (id, hash, principal, role, agency, created_at, expires_at, suspended, revoked_at, tag, bounds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![t.id, &t.hash[..], t.principal, t.role, t.agency, t.created_at, t.expires_at, t.suspended, t.revoked_at, t.tag, t.bounds],
        )
        .map_err(db("insert token"))?;
        tx.commit().map_err(db("commit token insert"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        all(&c)
    }

    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin token change"))?;
        change(&tx, principal, changes)?;
        if let Some(p) = principal.filter(|p| !p.suspended) {
            tx.execute(
                "UPDATE alerts SET restored_at = ?1, restored_by = ?2 WHERE principal = ?3 COLLATE NOCASE AND restored_at IS NULL",
                params![p.since, audit.principal, p.name],
            )
            .map_err(db("close alerts"))?;
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit token change"))?;
        drop(w);
        self.settle();
        Ok(())
    }
}
