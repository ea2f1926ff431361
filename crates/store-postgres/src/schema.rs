//! Versioned migrations (the `.sql` files under `migrations/`): applied by `rempart init`, in
//! one transaction under an advisory lock (two nodes starting at once apply them once); checked
//! when a store is opened, which applies nothing, so that the application's role needs no right
//! to change the schema.

use crate::pool::{db, Pool};
use rempart_store::StoreError;

/// The files database: everything but the keys.
pub(crate) const FILES_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/files/0001_schema.sql"),
    include_str!("../migrations/files/0002_guard_parts.sql"),
    include_str!("../migrations/files/0003_shared_auth.sql"),
    include_str!("../migrations/files/0004_node_agreement.sql"),
];

/// The keys database.
pub(crate) const KEYS_MIGRATIONS: &[&str] =
    &[include_str!("../migrations/keys/0001_data_keys.sql")];

/// The advisory lock taken while migrating (an arbitrary constant, Rempart's own).
const MIGRATION_LOCK: i64 = 0x0052_454d_5041_5254;

/// Applies the migrations not applied yet; returns the version reached.
pub(crate) fn migrate(pool: &Pool, migrations: &[&str]) -> Result<i64, StoreError> {
    let mut c = pool.get()?;
    let mut tx = c.client.transaction().map_err(db("begin migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db("lock the schema"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .map_err(db("create schema_migrations"))?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(db("read schema version"))?
        .get(0);
    let supported = migrations.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql).map_err(db("apply migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, extract(epoch from now())::bigint)",
            &[&(i as i64 + 1)],
        )
        .map_err(db("record migration"))?;
    }
    tx.commit().map_err(db("commit migration"))?;
    Ok(supported)
}

/// Checks that the database's schema is the one this binary writes: not initialised, older
/// (`rempart init` upgrades it) and newer are errors that say what to do.
pub(crate) fn check(pool: &Pool, migrations: &[&str], what: &str) -> Result<(), StoreError> {
    let mut c = pool.get()?;
    let exists: bool = c
        .client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .map_err(db("read schema version"))?
        .get(0);
    let current: i64 = if exists {
        c.client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .map_err(db("read schema version"))?
            .get(0)
    } else {
        0
    };
    let supported = migrations.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    if current < supported {
        return Err(StoreError::NotInitialised(format!(
            "the {what} database is at schema version {current}, this binary needs {supported}: run `rempart init --database …` with a role that may change the schema"
        )));
    }
    Ok(())
}
