//! The key store in `keys.db`: wrapped data keys, destroyed beyond recovery.

use crate::conn::db;
use crate::pool::Pool;
use crate::schema::{open_pool, KEY_MIGRATIONS};
use crate::KEYS_FILE;
use rempart_store::{KeyStore, StoreError, StoredKey};
use rusqlite::{params, OptionalExtension};
use std::path::Path;

/// The key store in `DIR/keys.db`.
pub struct SqliteKeyStore {
    pool: Pool,
}

impl SqliteKeyStore {
    /// Opens (and migrates) the key store of an existing data directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Ok(SqliteKeyStore {
            pool: open_pool(dir, KEYS_FILE, KEY_MIGRATIONS)?,
        })
    }
}

impl KeyStore for SqliteKeyStore {
    fn put_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin key insert"))?;
        {
            let mut st = tx
                .prepare_cached("INSERT INTO data_keys (person_id, master_version, wrapped) VALUES (?1, ?2, ?3)")
                .map_err(db("prepare key insert"))?;
            let mut sorted: Vec<&StoredKey> = keys.iter().collect();
            sorted.sort_unstable_by(|a, b| a.person.cmp(&b.person));
            for k in sorted {
                st.execute(params![k.person, k.master_version, k.wrapped])
                    .map_err(db("insert key"))?;
            }
        }
        tx.commit().map_err(db("commit key insert"))
    }

    fn get_key(&self, person: &str) -> Result<Option<StoredKey>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT person_id, master_version, wrapped FROM data_keys WHERE person_id = ?1",
            )
            .map_err(db("prepare key read"))?;
        st.query_row(params![person], |r| {
            Ok(StoredKey {
                person: r.get(0)?,
                master_version: r.get(1)?,
                wrapped: r.get(2)?,
            })
        })
        .optional()
        .map_err(db("read key"))
    }

    fn destroy_key(&self, person: &str) -> Result<bool, StoreError> {
        let w = self.pool.write();
        // secure_delete overwrites the freed cells; the TRUNCATE checkpoint then empties the
        // WAL, so no earlier frame holding the key survives in keys.db-wal.
        let n = w
            .execute(
                "DELETE FROM data_keys WHERE person_id = ?1",
                params![person],
            )
            .map_err(db("destroy key"))?;
        w.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(db("checkpoint key store"))?;
        Ok(n > 0)
    }

    fn keys_below_version(&self, version: u32, limit: usize) -> Result<Vec<StoredKey>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT person_id, master_version, wrapped FROM data_keys WHERE master_version < ?1 ORDER BY master_version, person_id LIMIT ?2",
            )
            .map_err(db("prepare key scan"))?;
        let rows = st
            .query_map(params![version, limit as i64], |r| {
                Ok(StoredKey {
                    person: r.get(0)?,
                    master_version: r.get(1)?,
                    wrapped: r.get(2)?,
                })
            })
            .map_err(db("scan keys"))?;
        rows.collect::<Result<_, _>>().map_err(db("scan keys"))
    }

    fn count_below_version(&self, version: u32) -> Result<u64, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            "SELECT COUNT(*) FROM data_keys WHERE master_version < ?1",
            params![version],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(db("count keys"))
    }

    fn rewrap_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin rewrap"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "UPDATE data_keys SET master_version = ?2, wrapped = ?3 WHERE person_id = ?1",
                )
                .map_err(db("prepare rewrap"))?;
            for k in keys {
                st.execute(params![k.person, k.master_version, k.wrapped])
                    .map_err(db("rewrap key"))?;
            }
        }
        tx.commit().map_err(db("commit rewrap"))
    }
}
