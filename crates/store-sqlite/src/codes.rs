//! Verification codes in `vault.db`.

use crate::conn::db;
use crate::SqliteStore;
use rempart_store::{CodeRecord, CodeStore, StoreError};
use rusqlite::params;

/// Inserts `codes` within `tx`: for a write that stores codes with something else in one
/// transaction (the messages they are printed on).
pub(crate) fn insert_codes_in(
    tx: &rusqlite::Transaction<'_>,
    codes: &[CodeRecord],
) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO verification_codes (lookup, serial, recipient, sent_on, agency, message_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db("insert verification code"))?;
    for c in codes {
        st.execute(params![
            c.lookup,
            c.serial,
            c.recipient,
            c.sent_on,
            c.agency,
            c.message_id,
            c.created_at
        ])
        .map_err(db("insert verification code"))?;
    }
    Ok(())
}

impl CodeStore for SqliteStore {
    fn insert_codes(&self, codes: &[CodeRecord]) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin verification codes"))?;
        insert_codes_in(&tx, codes)?;
        tx.commit().map_err(db("commit verification codes"))
    }

    fn codes(&self, lookup: &[u8]) -> Result<Vec<CodeRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT lookup, serial, recipient, sent_on, agency, message_id, created_at FROM verification_codes WHERE lookup = ?1 ORDER BY rowid",
            )
            .map_err(db("read verification codes"))?;
        let rows = st
            .query_map(params![lookup], |r| {
                Ok(CodeRecord {
                    lookup: r.get(0)?,
                    serial: r.get(1)?,
                    recipient: r.get(2)?,
                    sent_on: r.get(3)?,
                    agency: r.get(4)?,
                    message_id: r.get(5)?,
                    created_at: r.get(6)?,
                })
            })
            .map_err(db("read verification codes"))?
            .collect::<Result<_, _>>()
            .map_err(db("read verification codes"));
        rows
    }
}
