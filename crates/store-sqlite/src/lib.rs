//! Rempart's embedded storage: every trait of `rempart-store` on SQLite, in one data
//! directory. `vault.db` holds the files, blind indexes, tokens and the outbox of write acts'
//! audit entries; `audit.db` the audit log; `audit-index.db` its per-person index (derived);
//! `keys.db` the wrapped data keys ([`SqliteKeyStore`]). WAL mode, `secure_delete`, versioned
//! migrations (`migrations/*/*.sql`) applied on open. One module per capability.
//!
//! ```
//! use rempart_store::{KeyStore, StoredKey};
//! use rempart_store_sqlite::SqliteKeyStore;
//! let dir = tempfile::tempdir().unwrap();
//! let keys = SqliteKeyStore::open(dir.path()).unwrap();
//! keys.put_keys(&[StoredKey { person: "p1".into(), master_version: 1, wrapped: vec![1; 60] }]).unwrap();
//! assert!(keys.destroy_key("p1").unwrap());
//! assert!(keys.get_key("p1").unwrap().is_none());
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod accounts;
mod alerts;
mod codes;
mod conn;
mod exports;
mod facts;
mod files;
mod group;
mod guard;
mod incidents;
mod index;
mod keys;
mod legacy;
mod log;
mod markers;
mod notices;
mod outbox;
mod pool;
mod schema;
mod snapshot;
mod tokens;

#[cfg(test)]
mod tests;

pub use keys::SqliteKeyStore;

use crate::conn::{db, init_log};
use crate::group::GroupCommit;
use crate::index::{index_in_step, open_index};
use crate::legacy::move_log_out;
use crate::log::catch_up_nodes;
use crate::outbox::{drain_outbox, outbox_ids_after_log};
use crate::pool::Pool;
use crate::schema::{
    open_pool, open_pool_with, schema_version, AUDIT_MIGRATIONS, GUARD_MIGRATIONS, VAULT_MIGRATIONS,
};
use rempart_store::StoreError;
use std::path::Path;
use std::sync::Arc;

/// File name of the file store inside the data directory.
pub const VAULT_FILE: &str = "vault.db";
/// File name of the key store inside the data directory.
pub const KEYS_FILE: &str = "keys.db";
/// File name of the audit log inside the data directory.
pub const AUDIT_FILE: &str = "audit.db";
/// File name of the audit log's per-person index inside the data directory (derived from the
/// log, rebuilt from it when missing or out of step).
pub const AUDIT_INDEX_FILE: &str = "audit-index.db";
/// File name of containment's kept state inside the data directory.
pub const GUARD_FILE: &str = "guard.db";

/// The file store in `DIR/vault.db`, the audit log in `DIR/audit.db` and its per-person index
/// in `DIR/audit-index.db`.
pub struct SqliteStore {
    pub(crate) pool: Arc<Pool>,
    pub(crate) log: Arc<Pool>,
    pub(crate) index: Arc<Pool>,
    pub(crate) guard: Arc<Pool>,
    pub(crate) audit: GroupCommit,
    /// This process applied the migration that introduced facts tags (or was told to trust
    /// the untagged rows): it may tag the rows stored before.
    pub(crate) facts_binding: std::sync::atomic::AtomicBool,
}

impl SqliteStore {
    /// Opens (and migrates) the file store of an existing data directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // Rows stored before access facts were tagged may be tagged only by the process that
        // applies the migration which introduced tags (8): a flag in the database alone could
        // be set again by someone who writes it, to have forged rows tagged.
        let tags_before = schema_version(&dir.join(VAULT_FILE)) < 8;
        let pool = Arc::new(open_pool(dir, VAULT_FILE, VAULT_MIGRATIONS)?);
        let index = Arc::new(open_index(dir)?);
        // Before the log's migration 2 drops the index it held.
        // The index an older audit.db held (persons only, no principal keys) is not copied:
        // its migration drops it, and the indexer builds the index again from the log.
        let log = Arc::new(open_pool_with(
            dir,
            AUDIT_FILE,
            AUDIT_MIGRATIONS,
            init_log,
            init_log,
        )?);
        move_log_out(dir, &pool)?;
        catch_up_nodes(&log)?;
        // Entries of write acts left in the outbox by a crash go into the log before anything
        // else happens.
        drain_outbox(&pool, &log)?;
        outbox_ids_after_log(&pool, &log)?;
        index_in_step(&index, &log)?;
        let audit = GroupCommit::start(log.clone(), pool.clone(), index.clone());
        let guard = Arc::new(open_pool(dir, GUARD_FILE, GUARD_MIGRATIONS)?);
        Ok(SqliteStore {
            pool,
            log,
            index,
            guard,
            audit,
            facts_binding: std::sync::atomic::AtomicBool::new(tags_before),
        })
    }

    /// After a write act committed with its entries in the outbox: waits until the audit
    /// writer has moved them into the log. A failure is reported in the server's log, not to
    /// the caller: the act and its entries are durable, and the writer retries.
    pub(crate) fn settle(&self) {
        if let Err(e) = self.audit.drain() {
            tracing::error!(error = %e, "audit entries wait in the outbox");
        }
    }

    /// Writes the WAL back into the main file and truncates it (for backups and tests).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        for pool in [&self.pool, &self.log, &self.index, &self.guard] {
            pool.write()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .map_err(db("checkpoint"))?;
        }
        Ok(())
    }
}
