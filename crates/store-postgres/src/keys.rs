//! The key store: wrapped data keys, in a database of their own.

use crate::db::{in_tx, Exec};
use crate::pool::Pool;
use crate::schema::{check, migrate, KEYS_MIGRATIONS};
use rempart_store::{KeyStore, StoreError, StoredKey};

/// The key store, in the database at its own URL (see ARCHITECTURE.md for its grants).
pub struct PgKeyStore {
    pool: Pool,
}

impl PgKeyStore {
    /// Opens the key store of an initialised database; its schema must be this binary's.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let pool = Pool::connect(url, 8)?;
        check(&pool, KEYS_MIGRATIONS, "keys")?;
        Ok(PgKeyStore { pool })
    }

    /// Creates or upgrades the key store's schema (`rempart init`).
    pub fn init(url: &str) -> Result<(), StoreError> {
        migrate(&Pool::connect(url, 1)?, KEYS_MIGRATIONS).map(|_| ())
    }
}

fn key_of(r: &postgres::Row) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        person: r.get(0),
        master_version: u32::try_from(r.get::<_, i64>(1))
            .map_err(|_| StoreError::Corrupt("a key's master version"))?,
        wrapped: r.get(2),
    })
}

impl KeyStore for PgKeyStore {
    fn put_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        let mut sorted: Vec<&StoredKey> = keys.iter().collect();
        sorted.sort_unstable_by(|a, b| a.person.cmp(&b.person));
        in_tx(&self.pool, "insert keys", |tx| {
            for k in sorted {
                tx.exec(
                    "INSERT INTO data_keys (person_id, master_version, wrapped) VALUES ($1, $2, $3)",
                    &[&k.person, &i64::from(k.master_version), &k.wrapped],
                    "insert key",
                )?;
            }
            Ok(())
        })
    }

    fn get_key(&self, person: &str) -> Result<Option<StoredKey>, StoreError> {
        self.pool
            .get()?
            .row(
                "SELECT person_id, master_version, wrapped FROM data_keys WHERE person_id = $1",
                &[&person],
                "read key",
            )?
            .as_ref()
            .map(key_of)
            .transpose()
    }

    fn destroy_key(&self, person: &str) -> Result<bool, StoreError> {
        let n = self.pool.get()?.exec(
            "DELETE FROM data_keys WHERE person_id = $1",
            &[&person],
            "destroy key",
        )?;
        Ok(n > 0)
    }

    fn keys_below_version(&self, version: u32, limit: usize) -> Result<Vec<StoredKey>, StoreError> {
        self.pool
            .get()?
            .rows(
                "SELECT person_id, master_version, wrapped FROM data_keys WHERE master_version < $1 ORDER BY master_version, person_id LIMIT $2",
                &[&i64::from(version), &(limit as i64)],
                "scan keys",
            )?
            .iter()
            .map(key_of)
            .collect()
    }

    fn count_below_version(&self, version: u32) -> Result<u64, StoreError> {
        let n: i64 = self
            .pool
            .get()?
            .one(
                "SELECT COUNT(*) FROM data_keys WHERE master_version < $1",
                &[&i64::from(version)],
                "count keys",
            )?
            .get(0);
        Ok(n as u64)
    }

    fn rewrap_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        in_tx(&self.pool, "rewrap keys", |tx| {
            for k in keys {
                tx.exec(
                    "UPDATE data_keys SET master_version = $2, wrapped = $3 WHERE person_id = $1",
                    &[&k.person, &i64::from(k.master_version), &k.wrapped],
                    "rewrap key",
                )?;
            }
            Ok(())
        })
    }
}
