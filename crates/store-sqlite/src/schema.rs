//! Versioned migrations (the `.sql` files under `migrations/`), applied in one transaction
//! when a database is opened.

use crate::conn::{db, init_conn, init_writer};
use crate::pool::Pool;
use rempart_store::StoreError;
use rusqlite::{params, Connection};
use std::path::Path;

/// `vault.db`: files, blind indexes, tokens, principals, the outbox, verification codes.
pub(crate) const VAULT_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/vault/0001_files.sql"),
    include_str!("../migrations/vault/0002_audit_log.sql"),
    include_str!("../migrations/vault/0003_checkpoints.sql"),
    include_str!("../migrations/vault/0004_index_position.sql"),
    include_str!("../migrations/vault/0005_subtrees.sql"),
    include_str!("../migrations/vault/0006_caseloads.sql"),
    include_str!("../migrations/vault/0007_outbox.sql"),
    include_str!("../migrations/vault/0008_facts_tags.sql"),
    include_str!("../migrations/vault/0009_decoys.sql"),
    include_str!("../migrations/vault/0010_alerts.sql"),
    include_str!("../migrations/vault/0011_exports.sql"),
    include_str!("../migrations/vault/0012_incidents.sql"),
    include_str!("../migrations/vault/0013_incident_agency.sql"),
    include_str!("../migrations/vault/0014_breach_response.sql"),
    include_str!("../migrations/vault/0015_verification_codes.sql"),
    include_str!("../migrations/vault/0016_export_markers.sql"),
    include_str!("../migrations/vault/0017_accounts.sql"),
];

/// `audit.db`: the audit log, in a database of its own so that appending read entries does not
/// change `vault.db` (whose readers would otherwise reload their page caches after every commit).
pub(crate) const AUDIT_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/audit/0001_log.sql"),
    include_str!("../migrations/audit/0002_index_moves_out.sql"),
];

/// `audit-index.db`: the per-person index of the log, derived data written without fsync (a
/// crash may lose its last batches, which are indexed again from the log).
pub(crate) const INDEX_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/index/0001_persons.sql"),
    include_str!("../migrations/index/0002_principal_days.sql"),
];

/// `guard.db`: containment's kept state, in a database of its own so that saving it does not
/// change `vault.db` (whose readers would reload their page caches after every commit).
pub(crate) const GUARD_MIGRATIONS: &[&str] = &[include_str!("../migrations/guard/0001_state.sql")];

/// `keys.db`: wrapped per-person data keys.
pub(crate) const KEY_MIGRATIONS: &[&str] = &[include_str!("../migrations/keys/0001_data_keys.sql")];
pub(crate) fn migrate(pool: &Pool, migrations: &[&str]) -> Result<(), StoreError> {
    let mut w = pool.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin migration"))?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .map_err(db("create schema_migrations"))?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(db("read schema version"))?;
    let supported = migrations.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(db("apply migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            params![i as i64 + 1],
        )
        .map_err(db("record migration"))?;
    }
    tx.commit().map_err(db("commit migration"))
}

pub(crate) fn open_pool(dir: &Path, file: &str, migrations: &[&str]) -> Result<Pool, StoreError> {
    open_pool_with(dir, file, migrations, init_conn, init_writer)
}

pub(crate) fn open_pool_with(
    dir: &Path,
    file: &str,
    migrations: &[&str],
    init: fn(&Connection) -> rusqlite::Result<()>,
    init_writer: fn(&Connection) -> rusqlite::Result<()>,
) -> Result<Pool, StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::NotInitialised(format!(
            "data directory {} does not exist; run `rempart init --data {}` first",
            dir.display(),
            dir.display()
        )));
    }
    let pool = Pool::new(dir.join(file), init, init_writer).map_err(db("open database"))?;
    migrate(&pool, migrations)?;
    Ok(pool)
}

/// The schema version of a database file, 0 when there is none yet.
pub(crate) fn schema_version(path: &Path) -> i64 {
    if !path.exists() {
        return 0;
    }
    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}
