//! What every node of an installation must agree on, recorded where they all read it (the files
//! database): where containment counts and with which budgets, as a fingerprint per name in
//! `node_agreement`, recorded by the first node that starts (an insert one node alone wins) and
//! compared by every other at its start, so that a node configured apart (another Redis or
//! prefix, other budgets, containment off) is found out rather than counting apart.

use crate::db::{in_tx, Exec};
use crate::pool::Pool;
use crate::schema::{check, FILES_MIGRATIONS};
use crate::PgStore;
use rempart_store::StoreError;

impl PgStore {
    /// In the files database at `url`: records `fingerprint` under `name` when nothing is
    /// recorded, or whatever is when `replace`; returns what was recorded before the call
    /// (`fingerprint` itself when it is the first).
    pub fn agree(
        url: &str,
        name: &str,
        fingerprint: &str,
        replace: bool,
    ) -> Result<String, StoreError> {
        let pool = Pool::connect(url, 1)?;
        check(&pool, FILES_MIGRATIONS, "files")?;
        in_tx(&pool, "record what the nodes agree on", |tx| {
            tx.exec(
                "INSERT INTO node_agreement (name, fingerprint, recorded_at)
                 VALUES ($1, $2, extract(epoch from now())::bigint)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &fingerprint],
                "record what the nodes agree on",
            )?;
            let before: String = tx
                .one(
                    "SELECT fingerprint FROM node_agreement WHERE name = $1 FOR UPDATE",
                    &[&name],
                    "read what the nodes agree on",
                )?
                .try_get(0)
                .map_err(|_| StoreError::Corrupt("node_agreement"))?;
            if before != fingerprint && replace {
                tx.exec(
                    "UPDATE node_agreement SET fingerprint = $2,
                     recorded_at = extract(epoch from now())::bigint WHERE name = $1",
                    &[&name, &fingerprint],
                    "record what the nodes agree on",
                )?;
            }
            Ok(before)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::tokens::tests::store;
    use crate::PgStore;

    #[test]
    fn the_first_node_records_the_others_compare_and_a_replace_wins() {
        let (_store, db) = store();
        let agree =
            |fp: &str, replace: bool| PgStore::agree(&db.url, "containment", fp, replace).unwrap();
        assert_eq!(agree("aaa", false), "aaa", "the first records");
        assert_eq!(agree("aaa", false), "aaa");
        assert_eq!(
            agree("bbb", false),
            "aaa",
            "another is told, and records nothing"
        );
        assert_eq!(agree("aaa", false), "aaa");
        assert_eq!(
            agree("bbb", true),
            "aaa",
            "a replace is told what it replaced"
        );
        assert_eq!(agree("aaa", false), "bbb");
        assert_eq!(
            PgStore::agree(&db.url, "other", "ccc", false).unwrap(),
            "ccc",
            "one record per name"
        );
    }
}
