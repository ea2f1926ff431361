//! Exports, each change with its audit entry in its transaction. A change of state is one
//! conditional `UPDATE` (`… WHERE state = from`): of two nodes moving the same export, the
//! second waits for the first's row lock, then finds the state changed and moves nothing.

use crate::db::{in_tx, Exec};
use crate::log::append_entries;
use crate::PgStore;
use rempart_audit::AuditEntry;
use rempart_store::{ExportRecord, ExportStore, StoreError};

/// The words of a column that holds a space-separated list.
pub(crate) fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn export_of(r: &postgres::Row) -> Result<ExportRecord, StoreError> {
    Ok(ExportRecord {
        id: r.get(0),
        agency: r.get(1),
        recipient: r.get(2),
        purpose: r.get(3),
        requester: r.get(4),
        people: u64::try_from(r.get::<_, i64>(5))
            .map_err(|_| StoreError::Corrupt("an export's count of people"))?,
        state: r.get(6),
        approver: r.get(7),
        created_at: r.get(8),
        ids: words(r.get(9)),
    })
}

impl ExportStore for PgStore {
    fn insert_export(&self, e: &ExportRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        let people = i64::try_from(e.people)
            .map_err(|_| StoreError::Corrupt("an export's count of people"))?;
        let ids = e.ids.join(" ");
        in_tx(&self.pool, "record export", |tx| {
            tx.exec(
                "INSERT INTO exports (id, agency, recipient, purpose, requester, people, ids, state, approver, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[&e.id, &e.agency, &e.recipient, &e.purpose, &e.requester, &people, &ids, &e.state, &e.approver, &e.created_at],
                "insert export",
            )?;
            append_entries(tx, std::slice::from_ref(audit))
        })
    }

    fn export(&self, id: &str) -> Result<Option<ExportRecord>, StoreError> {
        self.pool
            .get()?
            .row(
                "SELECT id, agency, recipient, purpose, requester, people, state, approver, created_at, ids FROM exports WHERE id = $1",
                &[&id],
                "read export",
            )?
            .as_ref()
            .map(export_of)
            .transpose()
    }

    fn move_export(
        &self,
        id: &str,
        from: &str,
        to: &str,
        approver: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "change export", |tx| {
            let n = tx.exec(
                "UPDATE exports SET state = $1, approver = COALESCE($2, approver) WHERE id = $3 AND state = $4",
                &[&to, &approver, &id, &from],
                "change export",
            )?;
            if n == 0 {
                return Ok(false);
            }
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::TestDb;
    use rempart_store::AuditLog;

    /// A new database, initialised, and a store on it.
    pub(crate) fn store() -> (TestDb, PgStore) {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let s = PgStore::open(&db.url).unwrap();
        (db, s)
    }

    /// An entry naming person "a".
    pub(crate) fn entry() -> AuditEntry {
        AuditEntry {
            time: 1,
            principal: "c".into(),
            token_id: "t".into(),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action: rempart_audit::Action::Update,
            persons: vec!["a".into()],
            categories: vec![],
            purpose: None,
            client: None,
            request_id: None,
            outcome: rempart_audit::Outcome::Allowed,
            detail: None,
        }
    }

    pub(crate) fn export(id: &str, state: &str) -> ExportRecord {
        ExportRecord {
            id: id.into(),
            agency: "ML-1".into(),
            recipient: "AFPA".into(),
            purpose: "partner_service".into(),
            requester: "op".into(),
            people: 2,
            ids: vec!["a".into(), "b".into()],
            state: state.into(),
            approver: None,
            created_at: 10,
        }
    }

    #[test]
    fn an_export_is_kept_whole_and_moves_only_from_its_state() {
        let (_db, s) = store();
        assert!(s.export("exp_1").unwrap().is_none());
        let e = export("exp_1", "awaiting_approval");
        s.insert_export(&e, &entry()).unwrap();
        assert_eq!(s.audit_len().unwrap(), 1, "inserted with its entry");
        assert_eq!(s.export("exp_1").unwrap(), Some(e.clone()));
        assert!(s.insert_export(&e, &entry()).is_err(), "one id, one export");
        assert_eq!(s.audit_len().unwrap(), 1, "no entry without the act");

        assert!(!s
            .move_export("exp_1", "ready", "done", None, &entry())
            .unwrap());
        assert!(!s
            .move_export("exp_2", "awaiting_approval", "ready", None, &entry())
            .unwrap());
        assert_eq!(s.audit_len().unwrap(), 1, "no move, no entry");
        assert!(s
            .move_export("exp_1", "awaiting_approval", "ready", Some("op2"), &entry())
            .unwrap());
        assert_eq!(s.audit_len().unwrap(), 2);
        // A move without an approver keeps the one recorded.
        assert!(s
            .move_export("exp_1", "ready", "done", None, &entry())
            .unwrap());
        let back = s.export("exp_1").unwrap().unwrap();
        assert_eq!(back.state, "done");
        assert_eq!(back.approver.as_deref(), Some("op2"));
        assert_eq!(back.ids, ["a", "b"]);
        assert_eq!(s.audit_len().unwrap(), 3);
    }

    #[test]
    fn an_export_with_no_ids_reads_back_empty() {
        let (_db, s) = store();
        let e = ExportRecord {
            ids: vec![],
            people: 0,
            ..export("exp_1", "ready")
        };
        s.insert_export(&e, &entry()).unwrap();
        assert_eq!(s.export("exp_1").unwrap(), Some(e));
    }

    #[test]
    fn of_two_nodes_moving_one_export_one_moves_it() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        for i in 0..20 {
            a.insert_export(&export(&format!("exp_{i}"), "awaiting_approval"), &entry())
                .unwrap();
        }
        let won: Vec<usize> = std::thread::scope(|sc| {
            let hs: Vec<_> = [&a, &b]
                .into_iter()
                .map(|st| {
                    sc.spawn(move || {
                        (0..20)
                            .filter(|i| {
                                st.move_export(
                                    &format!("exp_{i}"),
                                    "awaiting_approval",
                                    "ready",
                                    Some("op2"),
                                    &entry(),
                                )
                                .unwrap()
                            })
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(won.iter().sum::<usize>(), 20);
        assert_eq!(a.audit_len().unwrap(), 40, "one entry per move made");
    }
}
