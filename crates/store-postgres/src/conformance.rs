//! The conformance suite of `rempart-store`, on PostgreSQL: each check on new files and keys
//! databases of its own, dropped afterwards.
#![allow(clippy::unwrap_used)]

use crate::testdb::TestDb;
use crate::{PgKeyStore, PgStore};
use rempart_store_conformance::Fixture;
use std::sync::Arc;

fn open() -> Fixture {
    let (files, keys) = (TestDb::new(), TestDb::new());
    PgStore::init(&files.url).unwrap();
    PgKeyStore::init(&keys.url).unwrap();
    Fixture {
        store: Arc::new(PgStore::open(&files.url).unwrap()),
        keys: Arc::new(PgKeyStore::open(&keys.url).unwrap()),
        guard: Box::new((files, keys)),
    }
}

rempart_store_conformance::conformance_tests!(open);
