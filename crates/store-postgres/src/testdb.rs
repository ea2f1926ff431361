//! A database of its own for each test, on the PostgreSQL the machine runs, dropped at the end.

#![allow(clippy::unwrap_used)]

use postgres::NoTls;

/// The server tests use: `REMPART_TEST_POSTGRES`, or the local one.
pub(crate) fn server() -> String {
    std::env::var("REMPART_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database, dropped when this is.
pub(crate) struct TestDb {
    pub(crate) name: String,
    pub(crate) url: String,
}

impl TestDb {
    pub(crate) fn new() -> TestDb {
        let server = server();
        let mut admin = postgres::Client::connect(&server, NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed at {server} (set REMPART_TEST_POSTGRES to another): {e}; start it with `service postgresql start`"
            )
        });
        let name =
            format!("rempart_test_{}", std::process::id()) + &format!("_{:x}", rand_suffix());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = match server.rfind('/') {
            Some(i) => format!("{}/{name}", &server[..i]),
            None => unreachable!("a URL with a database"),
        };
        TestDb { name, url }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    h.finish()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&server(), NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
