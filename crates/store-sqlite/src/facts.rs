//! The one-time tagging of rows stored before access facts were tagged.

use crate::conn::{db, ReadTx};
use crate::files::{row_to_person, with_partners, COLUMNS};
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{FactsUpgrade, StoreError, StoredPerson, TokenRecord};
use rusqlite::{params, Connection};

impl SqliteStore {
    /// Whether rows stored before facts tags are still to be tagged (the upgrade's flag) and
    /// this process may tag them.
    fn may_bind_facts(&self, c: &Connection) -> Result<bool, StoreError> {
        let pending: i64 = c
            .query_row(
                "SELECT COALESCE((SELECT value FROM audit_meta WHERE key = 'facts_unbound'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(db("read facts flag"))?;
        Ok(pending != 0
            && self
                .facts_binding
                .load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl FactsUpgrade for SqliteStore {
    fn unbound_facts(
        &self,
        limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError> {
        let conn = self.pool.read().map_err(db("open reader"))?;
        let c = ReadTx::begin(&conn).map_err(db("begin read"))?;
        if !self.may_bind_facts(&c)? {
            return Ok((Vec::new(), Vec::new()));
        }
        let persons: Vec<StoredPerson> = {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM persons WHERE facts_tag IS NULL ORDER BY id LIMIT ?1"
                ))
                .map_err(db("prepare unbound files"))?;
            let rows = st
                .query_map(params![limit as i64], row_to_person)
                .map_err(db("unbound files"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("unbound files"))?
        };
        let persons = persons
            .into_iter()
            .map(|p| with_partners(&c, p))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens = crate::tokens::untagged(&c, limit)?;
        c.finish().map_err(db("end read"))?;
        Ok((persons, tokens))
    }

    fn trust_untagged_rows(&self) {
        self.facts_binding
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn bind_facts(
        &self,
        persons: &[(String, Vec<u8>)],
        tokens: &[(String, Vec<u8>)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin binding"))?;
        if !self.may_bind_facts(&tx)? {
            // Done already (by another process), or not this process's to do: a row untagged
            // now was not stored before.
            return Ok(());
        }
        for (id, tag) in persons {
            tx.execute(
                "UPDATE persons SET facts_tag = ?1 WHERE id = ?2 AND facts_tag IS NULL",
                params![tag, id],
            )
            .map_err(db("bind file facts"))?;
        }
        for (id, tag) in tokens {
            tx.execute(
                "UPDATE tokens SET tag = ?1 WHERE id = ?2 AND tag IS NULL",
                params![tag, id],
            )
            .map_err(db("bind token"))?;
        }
        if done {
            tx.execute(
                "UPDATE audit_meta SET value = 0 WHERE key = 'facts_unbound'",
                [],
            )
            .map_err(db("finish binding"))?;
        }
        if !persons.is_empty() || !tokens.is_empty() || done {
            outbox(&tx, std::slice::from_ref(audit))?;
        }
        tx.commit().map_err(db("commit binding"))?;
        drop(w);
        self.settle();
        Ok(())
    }
}
