//! Point reads, alone (each in a transaction of its own) or in an explicit snapshot: one read
//! transaction on one connection, held by its owner until dropped.

use crate::accounts::account;
use crate::conn::db;
use crate::files::get_person;
use crate::pool::Pooled;
use crate::tokens::{by_hash, by_id, principal};
use crate::SqliteStore;
use rempart_store::{
    AccountRecord, PrincipalRecord, Reads, Snapshot, Snapshots, StoreError, StoredPerson,
    TokenRecord,
};

impl Reads for SqliteStore {
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        get_person(&*self.pool.read().map_err(db("open reader"))?, id)
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        by_hash(&*self.pool.read().map_err(db("open reader"))?, hash)
    }

    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        principal(&*self.pool.read().map_err(db("open reader"))?, name)
    }

    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        account(&*self.pool.read().map_err(db("open reader"))?, name)
    }

    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        by_id(&*self.pool.read().map_err(db("open reader"))?, id)
    }
}

/// A reader connection of `vault.db` inside one read transaction. SQLite takes the snapshot
/// at the first read, not at `BEGIN`: nothing is read in between.
struct SqliteSnapshot<'a> {
    conn: Option<Pooled<'a>>,
}

impl SqliteSnapshot<'_> {
    fn conn(&self) -> Result<&Pooled<'_>, StoreError> {
        self.conn
            .as_ref()
            .ok_or(StoreError::Corrupt("snapshot ended"))
    }
}

impl Drop for SqliteSnapshot<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            // A read transaction has nothing to keep; a connection that cannot end it is
            // closed rather than handed back inside a transaction.
            if c.execute_batch("ROLLBACK").is_err() || !c.is_autocommit() {
                c.discard();
            }
        }
    }
}

impl Reads for SqliteSnapshot<'_> {
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        get_person(&**self.conn()?, id)
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        by_hash(&**self.conn()?, hash)
    }

    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        principal(&**self.conn()?, name)
    }

    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        account(&**self.conn()?, name)
    }

    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        by_id(&**self.conn()?, id)
    }
}

impl Snapshots for SqliteStore {
    fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        let conn = self.pool.read().map_err(db("open reader"))?;
        conn.execute_batch("BEGIN DEFERRED")
            .map_err(db("begin read snapshot"))?;
        Ok(Box::new(SqliteSnapshot { conn: Some(conn) }))
    }
}
