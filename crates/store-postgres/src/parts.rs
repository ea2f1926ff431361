//! Containment's parts shared by the nodes (`SharedGuard`), when no Redis is configured: one
//! row per principal, one per agency (`guard_principals`, `guard_agencies`).
//!
//! A change first locks the principal's row alone and reads the agency's as committed: most
//! decisions (people in the caseload) leave the agency's part as it was, and then only the
//! principal's is written, so that the principals of one agency do not wait on each other.
//! A change that writes the agency's part is made again in a second transaction that locks the
//! agency's row, then the principal's (always in that order, and the first transaction holds
//! no agency row, so that two nodes never wait on each other in a cycle), reads both and
//! writes both back: a concurrent change on another node waits for it, then sees what it
//! wrote. A change that leaves the agency's part read it after its principal's row was
//! locked; it is then as if made before the agency's next change, which it does not affect.

use crate::db::{in_tx, Exec, Tx};
use crate::PgStore;
use rempart_store::{PartChange, PartsChange, SharedGuard, StoreError};

fn part(row: &postgres::Row) -> Result<Option<Vec<u8>>, StoreError> {
    row.try_get(0)
        .map_err(|_| StoreError::Corrupt("a containment part"))
}

/// Locks `key`'s row of `table` (made when missing) and reads its part.
fn locked(tx: &mut Tx<'_>, agency_table: bool, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let (insert, select) = if agency_table {
        (
            "INSERT INTO guard_agencies (agency) VALUES ($1) ON CONFLICT (agency) DO NOTHING",
            "SELECT part FROM guard_agencies WHERE agency = $1 FOR UPDATE",
        )
    } else {
        (
            "INSERT INTO guard_principals (principal) VALUES ($1) ON CONFLICT (principal) DO NOTHING",
            "SELECT part FROM guard_principals WHERE principal = $1 FOR UPDATE",
        )
    };
    // The row is there but for a principal's or agency's first change: one round trip.
    if let Some(row) = tx.row(select, &[&key], "lock a containment part")? {
        return part(&row);
    }
    tx.exec(insert, &[&key], "make a containment part")?;
    part(&tx.one(select, &[&key], "lock a containment part")?)
}

/// An agency's part as committed, not locked.
fn agency_part(tx: &mut Tx<'_>, agency: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match tx.row(
        "SELECT part FROM guard_agencies WHERE agency = $1",
        &[&agency],
        "read an agency's containment part",
    )? {
        Some(row) => part(&row),
        None => Ok(None),
    }
}

/// Bounds how long a change waits for a row another node holds (a node stopped mid-change, a
/// lost connection): past it the change fails, and containment with it, closed, rather than
/// holding every request of the agency (or every check of an address). And reads each
/// statement's own snapshot (`READ COMMITTED`, whatever the database's default), as the order
/// of the changes (module documentation) needs: the first statement of the transaction.
pub(crate) fn bounded(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    tx.batch(
        "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; \
         SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '5s'",
        "bound the wait for a shared count",
    )
}

fn write_agency(tx: &mut Tx<'_>, agency: &str, part: &[u8]) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE guard_agencies SET part = $2, updated_at = extract(epoch from now())::bigint
         WHERE agency = $1",
        &[&agency, &part],
        "write an agency's containment part",
    )
    .map(|_| ())
}

fn write_principal(tx: &mut Tx<'_>, principal: &str, part: &[u8]) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE guard_principals SET part = $2, updated_at = extract(epoch from now())::bigint
         WHERE principal = $1",
        &[&principal, &part],
        "write a principal's containment part",
    )
    .map(|_| ())
}

impl SharedGuard for PgStore {
    fn update(
        &self,
        principal: &str,
        agency: &str,
        change: &mut PartsChange<'_>,
    ) -> Result<(), StoreError> {
        // The principal's row alone, while the change leaves the agency's part as it was.
        let done = in_tx(&self.pool, "change containment's parts", |tx| {
            bounded(tx)?;
            let p = locked(tx, false, principal)?;
            let a = agency_part(tx, agency)?;
            match change(p.as_deref(), a.as_deref()) {
                None => Ok(true),
                Some((p, None)) => write_principal(tx, principal, &p).map(|()| true),
                Some((_, Some(_))) => Ok(false),
            }
        })?;
        if done {
            return Ok(());
        }
        // Both rows, the agency's first.
        in_tx(&self.pool, "change containment's parts", |tx| {
            bounded(tx)?;
            let a = locked(tx, true, agency)?;
            let p = locked(tx, false, principal)?;
            if let Some((p, a)) = change(p.as_deref(), a.as_deref()) {
                if let Some(a) = a {
                    write_agency(tx, agency, &a)?;
                }
                write_principal(tx, principal, &p)?;
            }
            Ok(())
        })
    }

    fn principal_part(&self, principal: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.pool.get()?.row(
            "SELECT part FROM guard_principals WHERE principal = $1",
            &[&principal],
            "read a principal's containment part",
        )?;
        match row {
            None => Ok(None),
            Some(r) => r
                .try_get(0)
                .map_err(|_| StoreError::Corrupt("a containment part")),
        }
    }

    fn update_principal(
        &self,
        principal: &str,
        change: &mut PartChange<'_>,
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "change a principal's containment part", |tx| {
            bounded(tx)?;
            let p = locked(tx, false, principal)?;
            if let Some(p) = change(p.as_deref()) {
                write_principal(tx, principal, &p)?;
            }
            Ok(())
        })
    }

    fn reachable(&self) -> Result<(), StoreError> {
        self.pool
            .get()?
            .one("SELECT 1", &[], "reach the database")
            .map(|_| ())
    }

    fn failures(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        crate::shared_auth::failures(self, key, now)
    }

    fn update_failures(
        &self,
        key: &str,
        now: i64,
        keep_until: i64,
        change: &mut PartChange<'_>,
    ) -> Result<(), StoreError> {
        crate::shared_auth::update_failures(self, key, now, keep_until, change)
    }

    fn first_use(&self, key: &str, now: i64, keep_until: i64) -> Result<bool, StoreError> {
        crate::shared_auth::first_use(self, key, now, keep_until)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::tokens::tests::store;
    use rempart_store::SharedGuard;

    #[test]
    fn shared_counts_conform() {
        let (one, db) = store();
        let two = crate::PgStore::open(&db.url).unwrap();
        rempart_store_conformance::shared_counts_are_changed_together_and_lose_no_update(
            &one, &two,
        );
    }

    #[test]
    fn authentication_counts_conform() {
        let (one, db) = store();
        let two = crate::PgStore::open(&db.url).unwrap();
        rempart_store_conformance::authentication_counts_are_shared_and_kept_until_their_time(
            &one, &two,
        );
    }

    #[test]
    fn a_part_held_by_a_stalled_node_fails_the_change_within_seconds() {
        let (s, db) = store();
        s.update("alice", "ML-1", &mut |_, _| Some((vec![1], Some(vec![2]))))
            .unwrap();
        // Another node holds the agency's row and does not let go.
        let mut other = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        let mut tx = other.transaction().unwrap();
        tx.query(
            "SELECT part FROM guard_agencies WHERE agency = 'ML-1' FOR UPDATE",
            &[],
        )
        .unwrap();
        // A change that leaves the agency's part does not wait for its row.
        let start = std::time::Instant::now();
        s.update("alice", "ML-1", &mut |_, a| {
            assert_eq!(a, Some(&[2][..]));
            Some((vec![5], None))
        })
        .unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(s.principal_part("alice").unwrap(), Some(vec![5]));
        // One that writes it waits a bounded time, then fails.
        let start = std::time::Instant::now();
        assert!(s
            .update("alice", "ML-1", &mut |_, _| Some((vec![3], Some(vec![4]))))
            .is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(s.principal_part("alice").unwrap(), Some(vec![5]));
        tx.rollback().unwrap();
        s.update("alice", "ML-1", &mut |_, _| None).unwrap();
    }
}
