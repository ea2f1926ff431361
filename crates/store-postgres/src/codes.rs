//! Verification codes. Rows under one lookup key are read oldest first, in the order of
//! `seq` (SQLite's rowid).

use crate::db::{in_tx, Exec, Tx};
use crate::PgStore;
use rempart_store::{CodeRecord, CodeStore, StoreError};

/// Inserts `codes` within `tx`, in order: for a write that stores codes with something else
/// in one transaction (the messages they are printed on).
pub(crate) fn insert_codes_in(tx: &mut Tx<'_>, codes: &[CodeRecord]) -> Result<(), StoreError> {
    for c in codes {
        tx.exec(
            "INSERT INTO verification_codes (lookup, serial, recipient, sent_on, agency, message_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&c.lookup, &c.serial, &c.recipient, &c.sent_on, &c.agency, &c.message_id, &c.created_at],
            "insert verification code",
        )?;
    }
    Ok(())
}

impl CodeStore for PgStore {
    fn insert_codes(&self, codes: &[CodeRecord]) -> Result<(), StoreError> {
        if codes.is_empty() {
            return Ok(());
        }
        in_tx(&self.pool, "insert verification codes", |tx| {
            insert_codes_in(tx, codes)
        })
    }

    fn codes(&self, lookup: &[u8]) -> Result<Vec<CodeRecord>, StoreError> {
        Ok(self
            .pool
            .get()?
            .rows(
                "SELECT lookup, serial, recipient, sent_on, agency, message_id, created_at FROM verification_codes WHERE lookup = $1 ORDER BY seq",
                &[&lookup],
                "read verification codes",
            )?
            .iter()
            .map(|r| CodeRecord {
                lookup: r.get(0),
                serial: r.get(1),
                recipient: r.get(2),
                sent_on: r.get(3),
                agency: r.get(4),
                message_id: r.get(5),
                created_at: r.get(6),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::exports::tests::store;

    fn code(lookup: u8, serial: &[u8], message_id: &str) -> CodeRecord {
        CodeRecord {
            lookup: vec![lookup; 32],
            serial: serial.to_vec(),
            recipient: vec![lookup ^ 0xff; 32],
            sent_on: "2026-03-02".into(),
            agency: "ML-075-13".into(),
            message_id: message_id.into(),
            created_at: 1_772_400_000,
        }
    }

    #[test]
    fn codes_are_kept_whole_and_found_by_lookup_oldest_first() {
        let (_db, s) = store();
        assert!(s.codes(&[1; 32]).unwrap().is_empty());
        let a = code(1, &[7; 16], "msg_1");
        let b = code(2, &[8; 16], "");
        s.insert_codes(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(s.codes(&[1; 32]).unwrap(), vec![a.clone()]);
        assert_eq!(s.codes(&[2; 32]).unwrap(), vec![b]);
        assert!(s.codes(&[1; 31]).unwrap().is_empty());
        assert!(s.codes(&[]).unwrap().is_empty());
        let again = code(1, &[9; 3], "msg_2");
        s.insert_codes(std::slice::from_ref(&again)).unwrap();
        let third = code(1, &[], "msg_3");
        s.insert_codes(std::slice::from_ref(&third)).unwrap();
        assert_eq!(s.codes(&[1; 32]).unwrap(), vec![a, again, third]);
        s.insert_codes(&[]).unwrap();
    }

    #[test]
    fn codes_inserted_in_another_write_go_with_it() {
        let (_db, s) = store();
        // Committed with the write.
        in_tx(&s.pool, "test", |tx| {
            insert_codes_in(tx, &[code(3, &[1], "m")])
        })
        .unwrap();
        assert_eq!(s.codes(&[3; 32]).unwrap().len(), 1);
        // Rolled back with it.
        let failed: Result<(), StoreError> = in_tx(&s.pool, "test", |tx| {
            insert_codes_in(tx, &[code(4, &[1], "m")])?;
            Err(StoreError::Conflict("the write"))
        });
        assert!(failed.is_err());
        assert!(s.codes(&[4; 32]).unwrap().is_empty());
    }
}
