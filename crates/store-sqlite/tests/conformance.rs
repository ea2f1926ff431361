//! The storage conformance suite, on SQLite: each check on a new data directory.

use rempart_store_conformance::Fixture;
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use std::sync::Arc;

fn open() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Fixture {
        store: Arc::new(SqliteStore::open(dir.path()).expect("open the store")),
        keys: Arc::new(SqliteKeyStore::open(dir.path()).expect("open the key store")),
        guard: Box::new(dir),
    }
}

rempart_store_conformance::conformance_tests!(open);
