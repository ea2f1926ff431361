//! Authentication's counts shared by the nodes, when no Redis is configured: failed credential
//! checks per key (`auth_failures`, a row each, changed under its row lock) and the proofs of
//! possession already used (`proofs_seen`, whose primary key lets one insert alone win). Rows
//! past their time count as absent, and are deleted now and then, a bounded batch at a time.

use crate::db::{in_tx, Exec};
use crate::parts::bounded;
use crate::PgStore;
use rempart_store::{PartChange, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};

/// One call in this many also deletes rows past their time.
const PRUNE_EVERY: u64 = 256;
/// Rows deleted at most by one pruning.
const PRUNE_BATCH: i64 = 1_000;

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Deletes, now and then, rows past their time: a bounded batch, skipping rows another node
/// holds (two nodes pruning at once never wait on each other), checked again as deleted (a row
/// renewed meanwhile stays). A failure is logged: the change it follows is made already.
fn prune(store: &PgStore, now: i64) {
    if !CALLS
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PRUNE_EVERY)
    {
        return;
    }
    let pruned = in_tx(&store.pool, "delete counts past their time", |tx| {
        bounded(tx)?;
        for delete in [
            "DELETE FROM auth_failures WHERE keep_until <= $1 AND key IN
             (SELECT key FROM auth_failures WHERE keep_until <= $1 LIMIT $2
              FOR UPDATE SKIP LOCKED)",
            "DELETE FROM proofs_seen WHERE keep_until <= $1 AND key IN
             (SELECT key FROM proofs_seen WHERE keep_until <= $1 LIMIT $2
              FOR UPDATE SKIP LOCKED)",
        ] {
            tx.exec(
                delete,
                &[&now, &PRUNE_BATCH],
                "delete counts past their time",
            )?;
        }
        Ok(())
    });
    if let Err(e) = pruned {
        tracing::warn!(error = %e, "shared authentication counts past their time could not be deleted");
    }
}

pub(crate) fn failures(
    store: &PgStore,
    key: &str,
    now: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    match store.pool.get()?.row(
        "SELECT part FROM auth_failures WHERE key = $1 AND keep_until > $2",
        &[&key, &now],
        "read failed checks",
    )? {
        None => Ok(None),
        Some(r) => r
            .try_get(0)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("failed checks")),
    }
}

pub(crate) fn update_failures(
    store: &PgStore,
    key: &str,
    now: i64,
    keep_until: i64,
    change: &mut PartChange<'_>,
) -> Result<(), StoreError> {
    const LOCK: &str = "SELECT part, keep_until FROM auth_failures WHERE key = $1 FOR UPDATE";
    in_tx(&store.pool, "count a failed check", |tx| {
        bounded(tx)?;
        let row = match tx.row(LOCK, &[&key], "lock failed checks")? {
            Some(row) => row,
            None => {
                tx.exec(
                    "INSERT INTO auth_failures (key, part, keep_until) VALUES ($1, '', 0)
                     ON CONFLICT (key) DO NOTHING",
                    &[&key],
                    "count a failed check",
                )?;
                tx.one(LOCK, &[&key], "lock failed checks")?
            }
        };
        let part: Vec<u8> = row
            .try_get(0)
            .map_err(|_| StoreError::Corrupt("failed checks"))?;
        let until: i64 = row
            .try_get(1)
            .map_err(|_| StoreError::Corrupt("failed checks"))?;
        let current = (until > now).then_some(part.as_slice());
        if let Some(new) = change(current) {
            tx.exec(
                "UPDATE auth_failures SET part = $2, keep_until = $3 WHERE key = $1",
                &[&key, &new, &keep_until],
                "count a failed check",
            )?;
        }
        Ok(())
    })?;
    prune(store, now);
    Ok(())
}

pub(crate) fn first_use(
    store: &PgStore,
    key: &str,
    now: i64,
    keep_until: i64,
) -> Result<bool, StoreError> {
    let first = store
        .pool
        .get()?
        .row(
            "INSERT INTO proofs_seen (key, keep_until) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET keep_until = EXCLUDED.keep_until
             WHERE proofs_seen.keep_until <= $3
             RETURNING 1",
            &[&key, &keep_until, &now],
            "record a proof",
        )?
        .is_some();
    prune(store, now);
    Ok(first)
}
