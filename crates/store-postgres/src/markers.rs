//! Export markers: inserted with their files (decoys) in the transaction that marks their
//! export done. The export's state changes by one conditional `UPDATE` first: of two nodes
//! running the same export, the second waits for the first's row lock, finds the state changed
//! and writes nothing.

use crate::db::{in_tx, Exec};
use crate::log::append_entries;
use crate::PgStore;
use rempart_audit::AuditEntry;
use rempart_store::{MarkerRecord, MarkerStore, NewPerson, StoreError};

fn marker_of(r: &postgres::Row) -> MarkerRecord {
    MarkerRecord {
        person: r.get(0),
        export: r.get(1),
        agency: r.get(2),
        recipient: r.get(3),
        at: r.get(4),
    }
}

impl MarkerStore for PgStore {
    fn run_export_with_markers(
        &self,
        id: &str,
        from: &str,
        to: &str,
        files: &[NewPerson],
        markers: &[MarkerRecord],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "run export", |tx| {
            let n = tx.exec(
                "UPDATE exports SET state = $1 WHERE id = $2 AND state = $3",
                &[&to, &id, &from],
                "change export",
            )?;
            if n == 0 {
                return Ok(false);
            }
            crate::files::insert_rows(tx, files)?;
            for m in markers {
                tx.exec(
                    "INSERT INTO export_markers (person_id, export, agency, recipient, at) VALUES ($1, $2, $3, $4, $5)",
                    &[&m.person, &m.export, &m.agency, &m.recipient, &m.at],
                    "insert marker",
                )?;
            }
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn marker(&self, person: &str) -> Result<Option<MarkerRecord>, StoreError> {
        Ok(self
            .pool
            .get()?
            .row(
                "SELECT person_id, export, agency, recipient, at FROM export_markers WHERE person_id = $1",
                &[&person],
                "read marker",
            )?
            .as_ref()
            .map(marker_of))
    }

    fn export_markers(&self, export: &str) -> Result<Vec<MarkerRecord>, StoreError> {
        Ok(self
            .pool
            .get()?
            .rows(
                "SELECT person_id, export, agency, recipient, at FROM export_markers WHERE export = $1 ORDER BY person_id",
                &[&export],
                "read markers",
            )?
            .iter()
            .map(marker_of)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::exports::tests::{entry, export, store};
    use crate::testdb::TestDb;
    use rempart_store::{AuditLog, ExportStore};

    fn person(id: &str, agency: &str) -> NewPerson {
        NewPerson {
            id: id.into(),
            agency: agency.into(),
            counsellor: Some("c.a".into()),
            dk_version: 1,
            fields: vec![
                (rempart_domain::Category::Identity, vec![1, 2, 3]),
                (rempart_domain::Category::Contact, vec![4, 5]),
            ],
            index: vec![(1, [9; 32])],
            now: 100,
            facts_tag: vec![id.as_bytes()[0]; 32],
            decoy: false,
        }
    }

    fn marker_file(id: &str) -> NewPerson {
        NewPerson {
            counsellor: None,
            decoy: true,
            index: vec![(1, [id.as_bytes()[0]; 32])],
            ..person(id, "ML-1")
        }
    }

    fn record(id: &str) -> MarkerRecord {
        MarkerRecord {
            person: id.into(),
            export: "exp_1".into(),
            agency: "ML-1".into(),
            recipient: "AFPA".into(),
            at: 20,
        }
    }

    /// A file as stored: (agency, counsellor, decoy, identity, contact, index entries).
    type FileRow = (
        String,
        Option<String>,
        bool,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Vec<u8>,
    );

    fn file(s: &PgStore, id: &str) -> Option<FileRow> {
        s.pool
            .get()
            .unwrap()
            .row(
                "SELECT agency, counsellor, decoy, identity, contact, index_entries FROM persons WHERE id = $1",
                &[&id],
                "test",
            )
            .unwrap()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
    }

    fn indexed(s: &PgStore, kind: i64, hash: [u8; 32]) -> Vec<String> {
        s.pool
            .get()
            .unwrap()
            .rows(
                "SELECT person_id FROM blind_index WHERE kind = $1 AND hash = $2 ORDER BY person_id",
                &[&kind, &&hash[..]],
                "test",
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    #[test]
    fn an_export_runs_once_with_its_markers() {
        let (_db, s) = store();
        in_tx(&s.pool, "test", |tx| {
            crate::files::insert_rows(tx, &[person("a", "ML-1")])
        })
        .unwrap();
        s.insert_export(&export("exp_1", "ready"), &entry())
            .unwrap();
        let len = s.audit_len().unwrap();
        // A marker whose id is taken: the whole run is refused, nothing written.
        assert!(s
            .run_export_with_markers(
                "exp_1",
                "ready",
                "done",
                &[marker_file("m"), marker_file("a")],
                &[record("m"), record("a")],
                &entry(),
            )
            .is_err());
        assert_eq!(s.export("exp_1").unwrap().unwrap().state, "ready");
        assert!(file(&s, "m").is_none());
        assert!(s.marker("m").unwrap().is_none());
        assert!(indexed(&s, 1, [b'm'; 32]).is_empty());
        assert_eq!(
            s.audit_len().unwrap(),
            len,
            "the entry went with the failed run"
        );

        assert!(s
            .run_export_with_markers(
                "exp_1",
                "ready",
                "done",
                &[marker_file("n"), marker_file("m")],
                &[record("n"), record("m")],
                &entry(),
            )
            .unwrap());
        assert_eq!(s.audit_len().unwrap(), len + 1);
        assert_eq!(s.export("exp_1").unwrap().unwrap().state, "done");
        let (agency, counsellor, decoy, identity, contact, entries) = file(&s, "m").unwrap();
        assert_eq!(agency, "ML-1");
        assert_eq!(counsellor, None);
        assert!(decoy);
        assert_eq!(identity, Some(vec![1, 2, 3]));
        assert_eq!(contact, Some(vec![4, 5]));
        let mut want = vec![1u8];
        want.extend_from_slice(&[b'm'; 32]);
        assert_eq!(entries, want, "the index entries kept in the row");
        assert!(!file(&s, "a").unwrap().2, "a real file is no decoy");
        assert_eq!(s.marker("m").unwrap(), Some(record("m")));
        assert_eq!(s.marker("a").unwrap(), None, "a real file is no marker");
        assert_eq!(
            s.export_markers("exp_1").unwrap(),
            vec![record("m"), record("n")],
            "in file id order"
        );
        assert!(s.export_markers("exp_2").unwrap().is_empty());
        assert_eq!(indexed(&s, 1, [b'm'; 32]), ["m"]);
        let enrolled: i64 = s
            .pool
            .get()
            .unwrap()
            .one("SELECT COUNT(*) FROM enrolments", &[], "test")
            .unwrap()
            .get(0);
        assert_eq!(enrolled, 0, "a marker is enrolled with nobody");

        // Once: a second run writes nothing.
        assert!(!s
            .run_export_with_markers(
                "exp_1",
                "ready",
                "done",
                &[marker_file("o")],
                &[record("o")],
                &entry(),
            )
            .unwrap());
        assert!(file(&s, "o").is_none());
        assert!(s.marker("o").unwrap().is_none());
        assert_eq!(s.audit_len().unwrap(), len + 1);
        // No such export: nothing either.
        assert!(!s
            .run_export_with_markers(
                "exp_9",
                "ready",
                "done",
                &[marker_file("p")],
                &[record("p")],
                &entry(),
            )
            .unwrap());
        assert!(file(&s, "p").is_none());
    }

    #[test]
    fn of_two_nodes_running_one_export_one_writes_its_markers() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        for i in 0..10 {
            a.insert_export(&export(&format!("exp_{i}"), "ready"), &entry())
                .unwrap();
        }
        let ran: Vec<usize> = std::thread::scope(|sc| {
            let hs: Vec<_> = [(&a, "a"), (&b, "b")]
                .into_iter()
                .map(|(st, node)| {
                    sc.spawn(move || {
                        (0..10)
                            .filter(|i| {
                                let exp = format!("exp_{i}");
                                let id = format!("{node}{i}");
                                let m = MarkerRecord {
                                    export: exp.clone(),
                                    ..record(&id)
                                };
                                st.run_export_with_markers(
                                    &exp,
                                    "ready",
                                    "done",
                                    &[marker_file(&id)],
                                    &[m],
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
        assert_eq!(ran.iter().sum::<usize>(), 10);
        for i in 0..10 {
            assert_eq!(
                a.export_markers(&format!("exp_{i}")).unwrap().len(),
                1,
                "the markers of one run only"
            );
        }
        let files: i64 = a
            .pool
            .get()
            .unwrap()
            .one("SELECT COUNT(*) FROM persons", &[], "test")
            .unwrap()
            .get(0);
        assert_eq!(files, 10);
        assert_eq!(a.audit_len().unwrap(), 20);
    }
}
