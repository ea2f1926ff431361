//! The outbox of `vault.db`: a write act puts its audit entries there in its own transaction;
//! the audit writer moves them into the log.

use crate::conn::{db, BUSY_TIMEOUT};
use crate::log::{append_canonical, meta};
use crate::pool::Pool;
use rempart_audit::AuditEntry;
use rempart_store::StoreError;
use rusqlite::{params, Connection};

/// Appends entries inside `tx`: each gets the next sequence number, its leaf and its
/// per-person index rows.
/// Puts the entries of a write act into the outbox of `vault.db`, in the act's transaction.
pub(crate) fn outbox(
    tx: &rusqlite::Transaction<'_>,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    let mut ins = tx
        .prepare_cached("INSERT INTO audit_outbox (entry) VALUES (?1)")
        .map_err(db("prepare audit outbox"))?;
    for e in entries {
        ins.execute(params![e.canonical()])
            .map_err(db("audit outbox"))?;
    }
    Ok(())
}

/// The entries of the outbox not yet in the log (`> through`), in order, with the last id.
pub(crate) fn outbox_after(vault: &Pool, through: i64) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
    let c = vault.read().map_err(db("open reader"))?;
    let mut st = c
        .prepare_cached("SELECT id, entry FROM audit_outbox WHERE id > ?1 ORDER BY id")
        .map_err(db("prepare audit outbox"))?;
    let mut rows = st.query(params![through]).map_err(db("audit outbox"))?;
    let (mut out, mut last) = (Vec::new(), through);
    while let Some(r) = rows.next().map_err(db("audit outbox"))? {
        last = r.get(0).map_err(db("audit outbox"))?;
        out.push(r.get(1).map_err(db("audit outbox"))?);
    }
    Ok((out, last))
}

/// An entry as the log stores it, encoded by the thread that hands it over, with its index keys
/// (the persons it names and its principal's day: [`AuditEntry::index_keys`]).
pub(crate) struct Encoded {
    pub(crate) bytes: Vec<u8>,
    pub(crate) persons: Vec<String>,
}

impl Encoded {
    pub(crate) fn new(e: &AuditEntry) -> Encoded {
        Encoded {
            bytes: e.canonical(),
            persons: e.index_keys(),
        }
    }
}

/// What one transaction of the log appended.
pub(crate) struct Appended {
    /// When the outbox was read: the last outbox id now in the log (the rows up to it may be
    /// deleted).
    pub(crate) outbox_through: Option<i64>,
    /// The persons of the outbox entries moved, in order; they come first.
    pub(crate) moved_persons: Vec<Vec<String>>,
    /// The position of the first entry appended (`None` when nothing was).
    pub(crate) first: Option<i64>,
}

/// In the log's transaction `tx`: appends the outbox entries not yet moved (when `drain`),
/// then `entries`.
pub(crate) fn append_with_outbox(
    tx: &rusqlite::Transaction<'_>,
    vault: &Pool,
    entries: &[Encoded],
    drain: bool,
) -> Result<Appended, StoreError> {
    let mut out = Appended {
        outbox_through: None,
        moved_persons: Vec::new(),
        first: None,
    };
    if drain {
        let through = meta(tx, "outbox_through")?;
        let (moved, last) = outbox_after(vault, through)?;
        if last > through {
            for b in &moved {
                // Written by this store: an entry that does not decode is refused, not logged.
                let e =
                    AuditEntry::parse(b).map_err(|_| StoreError::Corrupt("audit outbox entry"))?;
                out.moved_persons.push(e.index_keys());
            }
            out.first = append_canonical(tx, moved.iter().map(Vec::as_slice))?;
            tx.execute(
                "UPDATE log_meta SET value = ?1 WHERE key = 'outbox_through'",
                params![last],
            )
            .map_err(db("advance audit outbox"))?;
        }
        out.outbox_through = Some(last);
    }
    let first = append_canonical(tx, entries.iter().map(|e| e.bytes.as_slice()))?;
    out.first = out.first.or(first);
    Ok(out)
}

/// Whether the outbox holds rows after `through` (read without a write lock).
pub(crate) fn outbox_holds_after(vault: &Pool, through: i64) -> Result<bool, StoreError> {
    vault
        .read()
        .map_err(db("open reader"))?
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit_outbox WHERE id > ?1)")
        .and_then(|mut st| st.query_row(params![through], |r| r.get(0)))
        .map_err(db("audit outbox"))
}

/// Deletes the outbox rows already in the log, unless `vault.db` is being written (by this
/// process or another): then it returns `false` and the writer thread tries again later. The
/// writer thread never waits for `vault.db`, so that reads keep being recorded during a long
/// import.
pub(crate) fn prune_outbox(vault: &Pool, through: i64) -> Result<bool, StoreError> {
    let Some(w) = vault.try_write() else {
        return Ok(false);
    };
    w.busy_timeout(std::time::Duration::ZERO)
        .map_err(db("prune audit outbox"))?;
    let done = w.execute("DELETE FROM audit_outbox WHERE id <= ?1", params![through]);
    w.busy_timeout(BUSY_TIMEOUT)
        .map_err(db("prune audit outbox"))?;
    match done {
        Ok(_) => Ok(true),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(e) => Err(db("prune audit outbox")(e)),
    }
}

/// Makes the outbox's next ids larger than every id the log has taken from it. They are after a
/// normal run; after `vault.db` alone was restored from an older copy, the outbox would reuse
/// ids the log considers moved, and their entries would never be moved.
pub(crate) fn outbox_ids_after_log(vault: &Pool, log: &Pool) -> Result<(), StoreError> {
    let through = meta(&*log.read().map_err(db("open reader"))?, "outbox_through")?;
    let next = |c: &Connection| -> Result<i64, StoreError> {
        c.query_row(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_outbox'), 0)",
            [],
            |r| r.get(0),
        )
        .map_err(db("read outbox sequence"))
    };
    // The usual case, read without taking vault.db's write lock.
    if next(&*vault.read().map_err(db("open reader"))?)? >= through {
        return Ok(());
    }
    let mut w = vault.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin outbox sequence"))?;
    let next = next(&tx)?;
    if next < through {
        tracing::warn!(
            through,
            next,
            "vault.db is older than audit.db (restored from a copy?): outbox ids moved past the log's"
        );
        tx.execute(
            "DELETE FROM sqlite_sequence WHERE name = 'audit_outbox'",
            [],
        )
        .map_err(db("outbox sequence"))?;
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('audit_outbox', ?1)",
            params![through],
        )
        .map_err(db("outbox sequence"))?;
    }
    tx.commit().map_err(db("commit outbox sequence"))
}

/// Moves what the outbox holds into the log (at opening: entries a crash left there).
pub(crate) fn drain_outbox(vault: &Pool, log: &Pool) -> Result<(), StoreError> {
    // The usual case, read without taking either write lock: an empty outbox.
    let empty: bool = vault
        .read()
        .map_err(db("open reader"))?
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM audit_outbox)", [], |r| {
            r.get(0)
        })
        .map_err(db("audit outbox"))?;
    if empty {
        return Ok(());
    }
    let last = {
        let mut w = log.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin audit"))?;
        let appended = append_with_outbox(&tx, vault, &[], true)?;
        tx.commit().map_err(db("commit audit"))?;
        appended.outbox_through.unwrap_or(0)
    };
    // Left for the writer thread if vault.db is busy.
    prune_outbox(vault, last).map(|_| ())
}
