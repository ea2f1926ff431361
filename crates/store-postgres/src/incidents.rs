//! Incidents and their timelines, each change with its step and its audit entry in one
//! transaction.
//!
//! A write to an incident locks its row first ([`lock_incident`]), so the writes to one
//! incident, from any node, follow each other: the timeline's order is the order they commit
//! (the audit log's), a phase of the notification is recorded once, and its people are fixed
//! once. Constraint violations that mean "already done" are found without an error
//! (`ON CONFLICT DO NOTHING` and the rows inserted), so they are reported as `Conflict`.

use crate::db::{in_tx, Exec, Tx};
use crate::exports::words;
use crate::log::append_entries;
use crate::PgStore;
use rempart_audit::AuditEntry;
use rempart_store::{
    Filing, IncidentEvent, IncidentPerson, IncidentRecord, IncidentStore, StoreError,
};

/// In `tx`: locks an incident's row until the commit (writes to it from other transactions
/// wait); `false` when there is no such incident. `FOR NO KEY UPDATE`: the rows that refer to
/// the incident (its people, notices) may still be inserted meanwhile.
pub(crate) fn lock_incident(tx: &mut Tx<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx
        .row(
            "SELECT 1 FROM incidents WHERE id = $1 FOR NO KEY UPDATE",
            &[&id],
            "find incident",
        )?
        .is_some())
}

/// Fixes an incident's people, inside `tx`: `Conflict` if one of them is already fixed for it
/// (nothing is replaced; the caller's transaction is then rolled back).
pub(crate) fn fix_people(
    tx: &mut Tx<'_>,
    id: &str,
    people: &[IncidentPerson],
) -> Result<(), StoreError> {
    if people.is_empty() {
        return Ok(());
    }
    let persons: Vec<&str> = people.iter().map(|p| p.person.as_str()).collect();
    let categories: Vec<String> = people.iter().map(|p| p.categories.join(" ")).collect();
    let firsts: Vec<i64> = people.iter().map(|p| p.first).collect();
    let lasts: Vec<i64> = people.iter().map(|p| p.last).collect();
    let n = tx.exec(
        "INSERT INTO incident_people (incident, person, categories, first, last) SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) ON CONFLICT DO NOTHING",
        &[&id, &persons, &categories, &firsts, &lasts],
        "fix incident people",
    )?;
    if n != people.len() as u64 {
        return Err(StoreError::Conflict(
            "the incident's people are already fixed",
        ));
    }
    Ok(())
}

/// Adds a step to an incident's timeline, inside `tx`.
pub(crate) fn event(tx: &mut Tx<'_>, id: &str, e: &IncidentEvent) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO incident_events (incident, at, by_whom, what) VALUES ($1, $2, $3, $4)",
        &[&id, &e.at, &e.by, &e.what],
        "record incident event",
    )
    .map(|_| ())
}

fn incident_of(r: &postgres::Row) -> Result<IncidentRecord, StoreError> {
    Ok(IncidentRecord {
        id: r.get(0),
        opened_at: r.get(1),
        opened_by: r.get(2),
        principals: words(r.get(3)),
        tokens: words(r.get(4)),
        clients: words(r.get(5)),
        since: r.get(6),
        until: r.get(7),
        status: r.get(8),
        agency: r.get(9),
        kind: r.get(10),
        key_version: r
            .get::<_, Option<i64>>(11)
            .map(u32::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("an incident's key version"))?,
        copy_as_of: r.get(12),
        discovered_at: r.get(13),
        summary: r.get(14),
        held: u64::try_from(r.get::<_, i64>(15))
            .map_err(|_| StoreError::Corrupt("an incident's count of files held"))?,
    })
}

impl IncidentStore for PgStore {
    fn insert_incident(
        &self,
        i: &IncidentRecord,
        people: &[IncidentPerson],
        first: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let held = i64::try_from(i.held)
            .map_err(|_| StoreError::Corrupt("an incident's count of files held"))?;
        let key_version = i.key_version.map(i64::from);
        let (principals, tokens, clients) = (
            i.principals.join(" "),
            i.tokens.join(" "),
            i.clients.join(" "),
        );
        in_tx(&self.pool, "record incident", |tx| {
            tx.exec(
                "INSERT INTO incidents (id, opened_at, opened_by, principals, tokens, clients, since, until, status, agency, kind, key_version, copy_as_of, discovered_at, summary, held) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &[
                    &i.id,
                    &i.opened_at,
                    &i.opened_by,
                    &principals,
                    &tokens,
                    &clients,
                    &i.since,
                    &i.until,
                    &i.status,
                    &i.agency,
                    &i.kind,
                    &key_version,
                    &i.copy_as_of,
                    &i.discovered_at,
                    &i.summary,
                    &held,
                ],
                "insert incident",
            )?;
            fix_people(tx, &i.id, people)?;
            event(tx, &i.id, first)?;
            append_entries(tx, std::slice::from_ref(audit))
        })
    }

    fn incident(
        &self,
        id: &str,
    ) -> Result<Option<(IncidentRecord, Vec<IncidentEvent>)>, StoreError> {
        let mut c = self.pool.get()?;
        let Some(r) = c.row(
            "SELECT id, opened_at, opened_by, principals, tokens, clients, since, until, status, agency, kind, key_version, copy_as_of, discovered_at, summary, held FROM incidents WHERE id = $1",
            &[&id],
            "read incident",
        )?
        else {
            return Ok(None);
        };
        let rec = incident_of(&r)?;
        let events = c
            .rows(
                "SELECT at, by_whom, what FROM incident_events WHERE incident = $1 ORDER BY seq",
                &[&id],
                "read incident events",
            )?
            .iter()
            .map(|r| IncidentEvent {
                at: r.get(0),
                by: r.get(1),
                what: r.get(2),
            })
            .collect();
        Ok(Some((rec, events)))
    }

    fn add_incident_event(
        &self,
        id: &str,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "record incident event", |tx| {
            if !lock_incident(tx, id)? {
                return Ok(false);
            }
            event(tx, id, e)?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn incident_people(&self, id: &str) -> Result<Vec<IncidentPerson>, StoreError> {
        Ok(self
            .pool
            .get()?
            .rows(
                "SELECT person, categories, first, last FROM incident_people WHERE incident = $1 ORDER BY person",
                &[&id],
                "read incident people",
            )?
            .iter()
            .map(|r| IncidentPerson {
                person: r.get(0),
                categories: words(r.get(1)),
                first: r.get(2),
                last: r.get(3),
            })
            .collect())
    }

    fn person_incidents(&self, person: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        Ok(self
            .pool
            .get()?
            .rows(
                "SELECT incident, categories FROM incident_people WHERE person = $1 ORDER BY incident",
                &[&person],
                "read person incidents",
            )?
            .iter()
            .map(|r| (r.get(0), words(r.get(1))))
            .collect())
    }

    fn add_filing(
        &self,
        id: &str,
        f: &Filing,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "record filing", |tx| {
            if !lock_incident(tx, id)? {
                return Ok(false);
            }
            let n = tx.exec(
                "INSERT INTO incident_filings (incident, phase, filed_at, filed_by, reference, late_reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (incident, phase) DO NOTHING",
                &[&id, &i64::from(f.phase), &f.filed_at, &f.filed_by, &f.reference, &f.late_reason],
                "record filing",
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(
                    "that phase of the notification is already recorded",
                ));
            }
            event(tx, id, e)?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn filings(&self, id: &str) -> Result<Vec<Filing>, StoreError> {
        self.pool
            .get()?
            .rows(
                "SELECT phase, filed_at, filed_by, reference, late_reason FROM incident_filings WHERE incident = $1 ORDER BY phase",
                &[&id],
                "read filings",
            )?
            .iter()
            .map(|r| {
                Ok(Filing {
                    phase: u32::try_from(r.get::<_, i64>(0))
                        .map_err(|_| StoreError::Corrupt("a filing's phase"))?,
                    filed_at: r.get(1),
                    filed_by: r.get(2),
                    reference: r.get(3),
                    late_reason: r.get(4),
                })
            })
            .collect()
    }

    fn set_incident_status(
        &self,
        id: &str,
        status: &str,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "change incident status", |tx| {
            // The UPDATE locks the row as `lock_incident` does.
            let n = tx.exec(
                "UPDATE incidents SET status = $2 WHERE id = $1",
                &[&id, &status],
                "set incident status",
            )?;
            if n == 0 {
                return Ok(false);
            }
            event(tx, id, e)?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::exports::tests::{entry, store};
    use crate::testdb::TestDb;
    use rempart_store::AuditLog;

    pub(crate) fn incident(id: &str) -> IncidentRecord {
        IncidentRecord {
            id: id.into(),
            opened_at: 100,
            opened_by: "dpo".into(),
            agency: "ML-1".into(),
            principals: vec!["c.durand".into()],
            tokens: vec![],
            clients: vec![],
            since: 0,
            until: Some(50),
            status: "open".into(),
            kind: "access".into(),
            key_version: None,
            copy_as_of: None,
            discovered_at: 90,
            summary: "a token used from elsewhere".into(),
            held: 0,
        }
    }

    pub(crate) fn step(what: &str) -> IncidentEvent {
        IncidentEvent {
            at: 100,
            by: "dpo".into(),
            what: what.into(),
        }
    }

    pub(crate) fn person(id: &str) -> IncidentPerson {
        IncidentPerson {
            person: id.into(),
            categories: vec!["contact".into(), "identity".into()],
            first: 10,
            last: 20,
        }
    }

    #[test]
    fn an_incident_keeps_its_people_filings_and_timeline() {
        let (_db, s) = store();
        let before = s.audit_len().unwrap();
        let i = incident("inc_1");
        s.insert_incident(&i, &[person("b"), person("a")], &step("opened"), &entry())
            .unwrap();
        let (back, events) = s.incident("inc_1").unwrap().unwrap();
        assert_eq!(back, i);
        assert_eq!(events, [step("opened")]);
        let people: Vec<String> = s
            .incident_people("inc_1")
            .unwrap()
            .into_iter()
            .map(|p| p.person)
            .collect();
        assert_eq!(people, ["a", "b"]);
        assert_eq!(s.incident_people("inc_1").unwrap()[0], person("a"));
        assert_eq!(
            s.person_incidents("a").unwrap(),
            [(
                "inc_1".to_string(),
                vec!["contact".to_string(), "identity".to_string()]
            )]
        );
        assert!(s.person_incidents("z").unwrap().is_empty());
        let filing = Filing {
            phase: 1,
            filed_at: 120,
            filed_by: "dpo".into(),
            reference: "CNIL-1".into(),
            late_reason: None,
        };
        assert!(s
            .add_filing("inc_1", &filing, &step("filed"), &entry())
            .unwrap());
        assert!(matches!(
            s.add_filing("inc_1", &filing, &step("filed"), &entry()),
            Err(StoreError::Conflict(_))
        ));
        assert!(!s
            .add_filing("inc_2", &filing, &step("filed"), &entry())
            .unwrap());
        assert_eq!(s.filings("inc_1").unwrap(), [filing]);
        assert!(s
            .set_incident_status("inc_1", "closed", &step("closed"), &entry())
            .unwrap());
        assert!(!s
            .set_incident_status("inc_2", "closed", &step("closed"), &entry())
            .unwrap());
        let (back, events) = s.incident("inc_1").unwrap().unwrap();
        assert_eq!(back.status, "closed");
        let whats: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(whats, ["opened", "filed", "closed"]);
        assert_eq!(
            s.audit_len().unwrap(),
            before + 3,
            "each change with its entry"
        );
        assert!(s
            .add_incident_event("inc_1", &step("noted"), &entry())
            .unwrap());
        assert!(!s
            .add_incident_event("inc_2", &step("noted"), &entry())
            .unwrap());
        assert_eq!(s.incident("inc_1").unwrap().unwrap().1.len(), 4);
        assert_eq!(s.audit_len().unwrap(), before + 4);
        assert!(s.incident("inc_2").unwrap().is_none());
    }

    #[test]
    fn a_stolen_key_incident_keeps_every_field() {
        let (_db, s) = store();
        let i = IncidentRecord {
            kind: "stolen".into(),
            key_version: Some(u32::MAX),
            copy_as_of: Some(1_700_000_000),
            until: None,
            tokens: vec!["tok_1".into(), "tok_2".into()],
            clients: vec!["192.0.2.1".into()],
            principals: vec![],
            agency: "LOCAL".into(),
            held: 12_345,
            ..incident("inc_k")
        };
        s.insert_incident(&i, &[], &step("opened"), &entry())
            .unwrap();
        assert_eq!(s.incident("inc_k").unwrap().unwrap().0, i);
        assert!(s.incident_people("inc_k").unwrap().is_empty());
        let late = Filing {
            phase: 2,
            filed_at: 400_000,
            filed_by: "dpo".into(),
            reference: String::new(),
            late_reason: Some("the copy was found late".into()),
        };
        assert!(s
            .add_filing("inc_k", &late, &step("filed"), &entry())
            .unwrap());
        assert_eq!(s.filings("inc_k").unwrap(), [late]);
    }

    #[test]
    fn an_incident_that_fails_leaves_nothing() {
        let (_db, s) = store();
        // The same person twice: its people cannot be fixed, nothing is kept.
        assert!(matches!(
            s.insert_incident(
                &incident("inc_1"),
                &[person("a"), person("a")],
                &step("opened"),
                &entry()
            ),
            Err(StoreError::Conflict(_))
        ));
        assert!(s.incident("inc_1").unwrap().is_none());
        assert!(s.person_incidents("a").unwrap().is_empty());
        assert_eq!(s.audit_len().unwrap(), 0);
        s.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
            .unwrap();
        assert!(
            s.insert_incident(&incident("inc_1"), &[], &step("again"), &entry())
                .is_err(),
            "one id, one incident"
        );
        assert_eq!(s.incident("inc_1").unwrap().unwrap().1, [step("opened")]);
        assert_eq!(s.audit_len().unwrap(), 1);
    }

    #[test]
    fn a_phase_filed_from_two_nodes_at_once_is_recorded_once() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        a.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
            .unwrap();
        let filing = |phase: u32| Filing {
            phase,
            filed_at: 120,
            filed_by: "dpo".into(),
            reference: String::new(),
            late_reason: None,
        };
        let outcomes: Vec<(usize, usize)> = std::thread::scope(|sc| {
            let hs: Vec<_> = [&a, &b]
                .into_iter()
                .map(|st| {
                    sc.spawn(move || {
                        let (mut ok, mut conflict) = (0, 0);
                        for phase in 1..=20 {
                            match st.add_filing("inc_1", &filing(phase), &step("filed"), &entry()) {
                                Ok(true) => ok += 1,
                                Err(StoreError::Conflict(_)) => conflict += 1,
                                other => panic!("{other:?}"),
                            }
                        }
                        (ok, conflict)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(outcomes.iter().map(|o| o.0).sum::<usize>(), 20);
        assert_eq!(outcomes.iter().map(|o| o.1).sum::<usize>(), 20);
        assert_eq!(a.filings("inc_1").unwrap().len(), 20);
        assert_eq!(a.incident("inc_1").unwrap().unwrap().1.len(), 21);
        assert_eq!(a.audit_len().unwrap(), 21, "an entry for each filing made");
    }
}
