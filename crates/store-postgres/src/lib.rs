//! Rempart's production storage: the traits of `rempart-store` on PostgreSQL. The files, the
//! audit log and everything else live in one database (the "files" database); the wrapped
//! data keys in another ([`PgKeyStore`]), reached with other credentials, so that a dump of the
//! files database holds no key. Pooled connections, statements prepared once per connection,
//! versioned migrations (`migrations/*/*.sql`) applied by `rempart init` and checked at
//! start-up. Every write act commits its audit entries in its own transaction; reads hand
//! theirs to the node's group-commit writer. One module per capability.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod accounts;
mod agreement;
mod alerts;
mod codes;
mod db;
mod exports;
mod facts;
mod files;
mod group;
mod guard;
mod incidents;
mod index;
mod keys;
mod log;
mod markers;
mod notices;
mod parts;
mod pool;
mod schema;
mod shared_auth;
mod snapshot;
mod tokens;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod testdb;

pub use keys::PgKeyStore;

use crate::group::GroupCommit;
use crate::pool::Pool;
use crate::schema::{check, migrate, FILES_MIGRATIONS};
use rempart_store::StoreError;
use std::sync::Arc;

/// Connections each node keeps to the files database, at most.
const POOL_SIZE: u32 = 32;

/// The files database: every store trait but the keys.
pub struct PgStore {
    pub(crate) pool: Arc<Pool>,
    pub(crate) audit: GroupCommit,
}

impl PgStore {
    /// Opens the files database at `url` (`postgres://…`); its schema must be this binary's
    /// (`rempart init --database …` makes it so).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let pool = Arc::new(Pool::connect(url, POOL_SIZE)?);
        check(&pool, FILES_MIGRATIONS, "files")?;
        Ok(PgStore {
            audit: GroupCommit::start(pool.clone()),
            pool,
        })
    }

    /// Creates or upgrades the schema of the files database (`rempart init`).
    pub fn init(url: &str) -> Result<(), StoreError> {
        migrate(&Pool::connect(url, 1)?, FILES_MIGRATIONS).map(|_| ())
    }
}
