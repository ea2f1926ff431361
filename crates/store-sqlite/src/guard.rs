//! Containment's kept state in `guard.db`: one row, replaced whole.

use crate::conn::db;
use crate::SqliteStore;
use rempart_store::{GuardStore, StoreError};
use rusqlite::{params, OptionalExtension};

impl GuardStore for SqliteStore {
    fn load_guard(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let c = self.guard.read().map_err(db("open reader"))?;
        c.query_row("SELECT state FROM guard_state WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db("read guard state"))
    }

    fn save_guard(&self, state: &[u8], at: i64) -> Result<(), StoreError> {
        let w = self.guard.write();
        w.execute(
            "INSERT INTO guard_state (id, state, saved_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
            params![state, at],
        )
        .map_err(db("save guard state"))?;
        Ok(())
    }
}
