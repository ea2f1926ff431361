//! Containment's parts shared by the nodes (`SharedGuard`), when no Redis is configured: one
//! row per principal, one per agency (`guard_principals`, `guard_agencies`). A change locks the
//! agency's row, then the principal's (always in that order, so that two nodes never wait on
//! each other in a cycle), reads both, and writes both back in the same transaction: a
//! concurrent change on another node waits for it, then sees what it wrote.

use crate::db::{in_tx, Exec, Tx};
use crate::PgStore;
use rempart_store::{PartChange, PartsChange, SharedGuard, StoreError};

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
    tx.exec(insert, &[&key], "make a containment part")?;
    tx.one(select, &[&key], "lock a containment part")?
        .try_get(0)
        .map_err(|_| StoreError::Corrupt("a containment part"))
}

/// Bounds how long a change waits for a row another node holds (a node stopped mid-change, a
/// lost connection): past it the change fails, and containment with it, closed, rather than
/// holding every request of the agency.
fn bounded(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    tx.exec(
        "SET LOCAL lock_timeout = '2s'",
        &[],
        "bound the wait for a containment part",
    )?;
    tx.exec(
        "SET LOCAL statement_timeout = '5s'",
        &[],
        "bound the wait for a containment part",
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
        in_tx(&self.pool, "change containment's parts", |tx| {
            bounded(tx)?;
            let a = locked(tx, true, agency)?;
            let p = locked(tx, false, principal)?;
            if let Some((p, a)) = change(p.as_deref(), a.as_deref()) {
                tx.exec(
                    "UPDATE guard_agencies SET part = $2, updated_at = extract(epoch from now())::bigint
                     WHERE agency = $1",
                    &[&agency, &a],
                    "write an agency's containment part",
                )?;
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
    fn a_part_held_by_a_stalled_node_fails_the_change_within_seconds() {
        let (s, db) = store();
        s.update("alice", "ML-1", &mut |_, _| Some((vec![1], vec![2])))
            .unwrap();
        // Another node holds the agency's row and does not let go.
        let mut other = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        let mut tx = other.transaction().unwrap();
        tx.query(
            "SELECT part FROM guard_agencies WHERE agency = 'ML-1' FOR UPDATE",
            &[],
        )
        .unwrap();
        let start = std::time::Instant::now();
        assert!(s.update("alice", "ML-1", &mut |_, _| None).is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        tx.rollback().unwrap();
        s.update("alice", "ML-1", &mut |_, _| None).unwrap();
    }
}
