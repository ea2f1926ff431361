//! Containment's kept state: one row, replaced whole (the last node to save wins).

use crate::db::Exec;
use crate::PgStore;
use rempart_store::{GuardStore, StoreError};

impl GuardStore for PgStore {
    fn load_guard(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.pool
            .get()?
            .row(
                "SELECT state FROM guard_state WHERE id = 1",
                &[],
                "read guard state",
            )?
            .map(|r| {
                r.try_get(0)
                    .map_err(|_| StoreError::Corrupt("containment's state"))
            })
            .transpose()
    }

    fn save_guard(&self, state: &[u8], at: i64) -> Result<(), StoreError> {
        self.pool
            .get()?
            .exec(
                "INSERT INTO guard_state (id, state, saved_at) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, saved_at = EXCLUDED.saved_at",
                &[&state, &at],
                "save guard state",
            )
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tokens::tests::store;

    #[test]
    fn the_guard_state_is_kept_whole() {
        let (s, _db) = store();
        assert_eq!(s.load_guard().unwrap(), None);
        s.save_guard(b"first", 10).unwrap();
        assert_eq!(s.load_guard().unwrap().as_deref(), Some(&b"first"[..]));
        s.save_guard(b"second state", 20).unwrap();
        assert_eq!(
            s.load_guard().unwrap().as_deref(),
            Some(&b"second state"[..])
        );
        s.save_guard(b"", 30).unwrap();
        assert_eq!(s.load_guard().unwrap().as_deref(), Some(&b""[..]));
    }
}
