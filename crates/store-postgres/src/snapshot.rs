//! Point reads, alone (each on a pooled connection, in a statement of its own) or in an
//! explicit snapshot: one `REPEATABLE READ` read-only transaction on one connection, held by
//! its owner until dropped.

use crate::accounts::account;
use crate::files::get_person;
use crate::pool::Client;
use crate::tokens::{principal, token_by_hash, token_by_id};
use crate::PgStore;
use rempart_store::{
    AccountRecord, PrincipalRecord, Reads, Snapshot, Snapshots, StoreError, StoredPerson,
    TokenRecord,
};
use std::cell::RefCell;

impl Reads for PgStore {
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        get_person(&mut self.pool.get()?, id)
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        token_by_hash(&mut self.pool.get()?, hash)
    }

    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        principal(&mut self.pool.get()?, name)
    }

    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        account(&mut self.pool.get()?, name)
    }

    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        token_by_id(&mut self.pool.get()?, id)
    }
}

/// A pooled connection inside one read-only `REPEATABLE READ` transaction: PostgreSQL takes
/// the snapshot at the first statement, not at `BEGIN`; nothing is read in between.
struct PgSnapshot {
    conn: RefCell<Option<Client>>,
}

impl PgSnapshot {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn.borrow_mut();
        f(c.as_mut().ok_or(StoreError::Corrupt("snapshot ended"))?)
    }
}

impl Drop for PgSnapshot {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.get_mut().take() {
            // A read transaction has nothing to keep; a connection that cannot end it is
            // closed rather than handed back inside a transaction.
            if c.client.batch_execute("ROLLBACK").is_err() {
                c.broken = true;
            }
        }
    }
}

impl Reads for PgSnapshot {
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        self.with(|c| get_person(c, id))
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|c| token_by_hash(c, hash))
    }

    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.with(|c| principal(c, name))
    }

    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.with(|c| account(c, name))
    }

    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|c| token_by_id(c, id))
    }
}

impl Snapshots for PgStore {
    fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        let mut conn = self.pool.get()?;
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(crate::pool::db("begin read snapshot"))?;
        Ok(Box::new(PgSnapshot {
            conn: RefCell::new(Some(conn)),
        }))
    }
}
