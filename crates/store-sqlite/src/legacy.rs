//! Layouts of earlier versions, moved into the current one at opening.

use crate::conn::{db, init_log};
use crate::pool::Pool;
use crate::{AUDIT_FILE, VAULT_FILE};
use rempart_store::StoreError;
use rusqlite::{params, Connection};
use std::path::Path;

/// Moves the log of an installation made before `audit.db` (migrations 2–5 of `vault.db`) into
/// `audit.db`, then drops it from `vault.db`. Two transactions, in that order, each one
/// idempotent: a crash in between leaves both copies, and the next opening finishes the move.
/// Its per-person index is dropped: the indexer builds it again from the log.
pub(crate) fn move_log_out(dir: &Path, vault: &Pool) -> Result<(), StoreError> {
    let legacy: bool = vault
        .read()
        .map_err(db("open reader"))?
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_log'",
            [],
            |r| r.get(0),
        )
        .map_err(db("look for an older audit log"))?;
    if !legacy {
        return Ok(());
    }
    let mut c = Connection::open(dir.join(AUDIT_FILE)).map_err(db("open audit log"))?;
    init_log(&c).map_err(db("open audit log"))?;
    c.execute(
        "ATTACH DATABASE ?1 AS v",
        params![dir.join(VAULT_FILE).to_string_lossy()],
    )
    .map_err(db("attach the file store"))?;
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit log move"))?;
    tx.execute_batch(
        "INSERT OR IGNORE INTO main.audit_log (seq, entry, leaf) SELECT seq, entry, leaf FROM v.audit_log;
         INSERT OR IGNORE INTO main.audit_checkpoints (size, checkpoint) SELECT size, checkpoint FROM v.audit_checkpoints;
         INSERT OR IGNORE INTO main.audit_nodes (level, idx, hash) SELECT level, idx, hash FROM v.audit_nodes;",
    )
    .map_err(db("move the audit log"))?;
    tx.commit().map_err(db("commit audit log move"))?;
    c.execute_batch("DETACH DATABASE v")
        .map_err(db("detach the file store"))?;
    drop(c);
    let mut w = vault.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit log move"))?;
    tx.execute_batch(
        "DROP TABLE audit_log; DROP TABLE audit_checkpoints; DROP TABLE audit_nodes; DROP TABLE audit_persons;
         DELETE FROM audit_meta WHERE key = 'indexed_through';",
    )
    .map_err(db("drop the moved audit log"))?;
    tx.commit().map_err(db("commit audit log move"))
}
