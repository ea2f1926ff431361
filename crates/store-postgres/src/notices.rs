//! The notices of an incident: the batch, the people it fixes and the outbox, each change with
//! its audit entry in the same transaction.
//!
//! Several nodes may deliver one incident's notices at once. A message is claimed by one
//! statement that changes it from `ready` to `sending` only if it is still ready and no other
//! transaction holds it (`FOR UPDATE SKIP LOCKED`): of two nodes claiming it, one does, the
//! other is told at once that it was not ready, and neither sends it twice. A batch is prepared
//! under the lock of its incident's row, approved by one conditional `UPDATE`.

use crate::codes::insert_codes_in;
use crate::db::{in_tx, Exec};
use crate::incidents::{event, fix_people, lock_incident};
use crate::log::append_entries;
use crate::PgStore;
use rempart_audit::AuditEntry;
use rempart_store::{
    CodeRecord, IncidentEvent, IncidentPerson, NoticeBatch, NoticeRecord, NoticeStatus,
    NoticeStore, StoreError,
};

fn notice_of(r: &postgres::Row) -> Result<NoticeRecord, StoreError> {
    let status: &str = r.get(6);
    Ok(NoticeRecord {
        id: r.get(0),
        incident: r.get(1),
        person: r.get(2),
        recipient: u8::try_from(r.get::<_, i64>(3))
            .map_err(|_| StoreError::Corrupt("a notice's recipient"))?,
        channel: r.get(4),
        code: r.get(5),
        // An unknown state is read as failed: never sent again on its own.
        status: NoticeStatus::parse(status).unwrap_or(NoticeStatus::Failed),
        attempts: u32::try_from(r.get::<_, i64>(7))
            .map_err(|_| StoreError::Corrupt("a notice's attempts"))?,
        next_at: r.get(8),
        error: r.get(9),
        sent_at: r.get(10),
    })
}

impl NoticeStore for PgStore {
    fn prepare_notices(
        &self,
        b: &NoticeBatch,
        people: &[IncidentPerson],
        notices: &[NoticeRecord],
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "prepare notices", |tx| {
            // Under the incident's lock: a batch prepared meanwhile by another node is seen.
            if !lock_incident(tx, &b.incident)? {
                return Ok(false);
            }
            let n = tx.exec(
                "INSERT INTO notice_batches (incident, prepared_by, prepared_at, language) VALUES ($1, $2, $3, $4) ON CONFLICT (incident) DO NOTHING",
                &[&b.incident, &b.prepared_by, &b.prepared_at, &b.language],
                "insert notice batch",
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(
                    "the incident's notices are already prepared",
                ));
            }
            fix_people(tx, &b.incident, people)?;
            for n in notices {
                tx.exec(
                    "INSERT INTO notices (id, incident, person, recipient, channel, code, status, attempts, next_at, error, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &[
                        &n.id,
                        &n.incident,
                        &n.person,
                        &i64::from(n.recipient),
                        &n.channel,
                        &n.code,
                        &n.status.as_str(),
                        &i64::from(n.attempts),
                        &n.next_at,
                        &n.error,
                        &n.sent_at,
                    ],
                    "insert notice",
                )?;
            }
            event(tx, &b.incident, e)?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn notice_batch(&self, incident: &str) -> Result<Option<NoticeBatch>, StoreError> {
        Ok(self
            .pool
            .get()?
            .row(
                "SELECT incident, prepared_by, prepared_at, language, approved_by, approved_at FROM notice_batches WHERE incident = $1",
                &[&incident],
                "read notice batch",
            )?
            .map(|r| NoticeBatch {
                incident: r.get(0),
                prepared_by: r.get(1),
                prepared_at: r.get(2),
                language: r.get(3),
                approved_by: r.get(4),
                approved_at: r.get(5),
            }))
    }

    fn approve_notices(
        &self,
        incident: &str,
        by: &str,
        at: i64,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "approve notices", |tx| {
            // The incident's lock first, as every write to its timeline.
            if !lock_incident(tx, incident)? {
                return Ok(false);
            }
            let n = tx.exec(
                "UPDATE notice_batches SET approved_by = $2, approved_at = $3 WHERE incident = $1 AND approved_by IS NULL",
                &[&incident, &by, &at],
                "approve notices",
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.exec(
                "UPDATE notices SET status = $2, next_at = $3 WHERE incident = $1 AND status = $4",
                &[
                    &incident,
                    &NoticeStatus::Ready.as_str(),
                    &at,
                    &NoticeStatus::Awaiting.as_str(),
                ],
                "approve notices",
            )?;
            event(tx, incident, e)?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn notices(&self, incident: &str) -> Result<Vec<NoticeRecord>, StoreError> {
        self.pool
            .get()?
            .rows(
                "SELECT id, incident, person, recipient, channel, code, status, attempts, next_at, error, sent_at FROM notices WHERE incident = $1 ORDER BY id",
                &[&incident],
                "read notices",
            )?
            .iter()
            .map(notice_of)
            .collect()
    }

    fn due_notices(
        &self,
        incident: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool
            .get()?
            .rows(
                "SELECT id, incident, person, recipient, channel, code, status, attempts, next_at, error, sent_at FROM notices WHERE incident = $1 AND status = 'ready' AND next_at <= $2 ORDER BY id LIMIT $3",
                &[&incident, &now, &limit],
                "read notices",
            )?
            .iter()
            .map(notice_of)
            .collect()
    }

    fn claim_notice(
        &self,
        id: &str,
        code: Option<(&str, &CodeRecord)>,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "claim notice", |tx| {
            // Locked if still ready, or skipped if another claim holds it; changed only if it
            // is still ready once locked (a claim committed meanwhile is seen).
            let n = tx.exec(
                "UPDATE notices SET status = 'sending', attempts = attempts + 1 WHERE id = (SELECT id FROM notices WHERE id = $1 AND status = 'ready' FOR UPDATE SKIP LOCKED) AND status = 'ready'",
                &[&id],
                "claim notice",
            )?;
            if n != 1 {
                return Ok(false);
            }
            // The code is kept with the claim; the message's own row never holds it.
            if let Some((_, record)) = code {
                insert_codes_in(tx, std::slice::from_ref(record))?;
            }
            Ok(true)
        })
    }

    fn settle_notice(
        &self,
        id: &str,
        status: NoticeStatus,
        next_at: i64,
        error: Option<&str>,
        at: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let sent_at = (status == NoticeStatus::Sent).then_some(at);
        in_tx(&self.pool, "settle notice", |tx| {
            let n = tx.exec(
                "UPDATE notices SET status = $2, next_at = $3, error = $4, sent_at = $5 WHERE id = $1 AND status = 'sending'",
                &[&id, &status.as_str(), &next_at, &error, &sent_at],
                "settle notice",
            )?;
            if n == 0 {
                return Err(StoreError::Conflict("the message was not being sent"));
            }
            if let Some(a) = audit {
                append_entries(tx, std::slice::from_ref(a))?;
            }
            Ok(())
        })
    }

    fn release_sending(&self, incident: &str, messages: &[String]) -> Result<u64, StoreError> {
        // In id order: two releases lock their rows in one order.
        let mut ids: Vec<&str> = messages.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        in_tx(&self.pool, "release notices", |tx| {
            let mut n = 0;
            for m in ids {
                n += tx.exec(
                    "UPDATE notices SET status = 'ready' WHERE incident = $1 AND id = $2 AND status = 'sending'",
                    &[&incident, &m],
                    "release notices",
                )?;
            }
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::exports::tests::{entry, store};
    use crate::incidents::tests::{incident, person, step};
    use crate::testdb::TestDb;
    use rempart_store::{AuditLog, CodeStore, IncidentStore};

    fn code(lookup: u8) -> CodeRecord {
        CodeRecord {
            lookup: vec![lookup; 32],
            serial: vec![1; 16],
            recipient: vec![2; 32],
            sent_on: "2026-12-02".into(),
            agency: "ML-1".into(),
            message_id: "ntc_a".into(),
            created_at: 100,
        }
    }

    fn notice(id: &str, person: &str) -> NoticeRecord {
        NoticeRecord {
            id: id.into(),
            incident: "inc_1".into(),
            person: person.into(),
            recipient: 0,
            channel: "email".into(),
            code: String::new(),
            status: NoticeStatus::Awaiting,
            attempts: 0,
            next_at: 0,
            error: None,
            sent_at: None,
        }
    }

    fn batch() -> NoticeBatch {
        NoticeBatch {
            incident: "inc_1".into(),
            prepared_by: "ops".into(),
            prepared_at: 100,
            language: "fr".into(),
            approved_by: None,
            approved_at: None,
        }
    }

    #[test]
    fn notices_are_claimed_once_and_settled() {
        let (_db, s) = store();
        assert!(
            !s.prepare_notices(&batch(), &[], &[], &step("prepared"), &entry())
                .unwrap(),
            "no such incident"
        );
        s.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
            .unwrap();
        let notices = [
            notice("ntc_a", "a"),
            notice("ntc_b", "b"),
            notice("ntc_c", "a"),
        ];
        assert!(s
            .prepare_notices(
                &batch(),
                &[person("a"), person("b")],
                &notices,
                &step("prepared"),
                &entry()
            )
            .unwrap());
        assert!(matches!(
            s.prepare_notices(&batch(), &[], &[], &step("prepared"), &entry()),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.incident_people("inc_1").unwrap().len(), 2);
        assert_eq!(s.notice_batch("inc_1").unwrap(), Some(batch()));
        assert_eq!(s.notice_batch("inc_2").unwrap(), None);
        assert!(
            s.due_notices("inc_1", 1_000, 10).unwrap().is_empty(),
            "not approved"
        );
        assert!(
            !s.claim_notice("ntc_a", Some(("CODE", &code(7)))).unwrap(),
            "not approved"
        );
        assert!(!s
            .approve_notices("inc_2", "dpo", 200, &step("approved"), &entry())
            .unwrap());
        assert!(s
            .approve_notices("inc_1", "dpo", 200, &step("approved"), &entry())
            .unwrap());
        assert!(!s
            .approve_notices("inc_1", "dpo", 201, &step("approved"), &entry())
            .unwrap());
        let approved = s.notice_batch("inc_1").unwrap().unwrap();
        assert_eq!(approved.approved_by.as_deref(), Some("dpo"));
        assert_eq!(approved.approved_at, Some(200));
        let due: Vec<String> = s
            .due_notices("inc_1", 200, 10)
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(due, ["ntc_a", "ntc_b", "ntc_c"]);
        assert_eq!(s.due_notices("inc_1", 200, 2).unwrap().len(), 2);
        assert!(s.due_notices("inc_1", 199, 10).unwrap().is_empty());
        assert!(s.codes(&[7; 32]).unwrap().is_empty(), "no claim, no code");
        assert!(s.claim_notice("ntc_a", Some(("CODE-A", &code(8)))).unwrap());
        assert_eq!(
            s.codes(&[8; 32]).unwrap(),
            [code(8)],
            "the code with its claim"
        );
        assert!(
            !s.claim_notice("ntc_a", Some(("CODE-B", &code(9)))).unwrap(),
            "claimed once"
        );
        let before = s.audit_len().unwrap();
        s.settle_notice("ntc_a", NoticeStatus::Sent, 200, None, 201, Some(&entry()))
            .unwrap();
        assert_eq!(s.audit_len().unwrap(), before + 1, "sent with its entry");
        assert!(matches!(
            s.settle_notice("ntc_a", NoticeStatus::Sent, 200, None, 201, None),
            Err(StoreError::Conflict(_))
        ));
        assert!(s.codes(&[9; 32]).unwrap().is_empty());
        assert!(s
            .claim_notice("ntc_b", Some(("CODE-B", &code(10))))
            .unwrap());
        s.settle_notice(
            "ntc_b",
            NoticeStatus::Ready,
            500,
            Some("timeout"),
            201,
            None,
        )
        .unwrap();
        assert!(s.claim_notice("ntc_c", None).unwrap());
        let due: Vec<String> = s
            .due_notices("inc_1", 400, 10)
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect();
        assert!(due.is_empty(), "the retry waits for its time: {due:?}");
        assert_eq!(s.due_notices("inc_1", 500, 10).unwrap().len(), 1);
        let all = s.notices("inc_1").unwrap();
        assert_eq!(all[0].status, NoticeStatus::Sent);
        assert_eq!(all[0].code, "", "no code is kept in the outbox");
        assert_eq!(all[0].attempts, 1);
        assert_eq!(all[0].sent_at, Some(201));
        assert_eq!(all[1].status, NoticeStatus::Ready);
        assert_eq!(all[1].error.as_deref(), Some("timeout"));
        assert_eq!(all[1].sent_at, None);
        assert_eq!(all[2].status, NoticeStatus::Sending);
        assert_eq!(
            s.release_sending("inc_1", &["ntc_a".into()]).unwrap(),
            0,
            "sent: not released"
        );
        assert_eq!(
            s.release_sending("inc_2", &["ntc_c".into()]).unwrap(),
            0,
            "another incident's"
        );
        assert_eq!(
            s.release_sending("inc_1", &["ntc_c".into(), "ntc_c".into()])
                .unwrap(),
            1
        );
        assert_eq!(s.notices("inc_1").unwrap()[2].status, NoticeStatus::Ready);
        let whats: Vec<String> = s
            .incident("inc_1")
            .unwrap()
            .unwrap()
            .1
            .into_iter()
            .map(|e| e.what)
            .collect();
        assert_eq!(whats, ["opened", "prepared", "approved"]);
    }

    #[test]
    fn a_batch_that_fails_leaves_nothing() {
        let (_db, s) = store();
        s.insert_incident(
            &incident("inc_1"),
            &[person("a")],
            &step("opened"),
            &entry(),
        )
        .unwrap();
        let len = s.audit_len().unwrap();
        // "a" was fixed at opening: fixing it again is refused, and nothing of the batch kept.
        assert!(matches!(
            s.prepare_notices(
                &batch(),
                &[person("a")],
                &[notice("ntc_a", "a")],
                &step("prepared"),
                &entry()
            ),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.notice_batch("inc_1").unwrap(), None);
        assert!(s.notices("inc_1").unwrap().is_empty());
        assert_eq!(s.audit_len().unwrap(), len);
        // Prepared without fixing its people again.
        assert!(s
            .prepare_notices(
                &batch(),
                &[],
                &[notice("ntc_a", "a")],
                &step("prepared"),
                &entry()
            )
            .unwrap());
        assert_eq!(s.notices("inc_1").unwrap().len(), 1);
        assert_eq!(s.audit_len().unwrap(), len + 1);
    }

    #[test]
    fn a_failed_message_stays_failed_and_uncertain_stays_claimed() {
        let (_db, s) = store();
        s.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
            .unwrap();
        s.prepare_notices(
            &batch(),
            &[],
            &[notice("ntc_a", "a"), notice("ntc_b", "b")],
            &step("prepared"),
            &entry(),
        )
        .unwrap();
        s.approve_notices("inc_1", "dpo", 200, &step("approved"), &entry())
            .unwrap();
        assert!(s.claim_notice("ntc_a", None).unwrap());
        s.settle_notice(
            "ntc_a",
            NoticeStatus::Failed,
            300,
            Some("refused"),
            300,
            None,
        )
        .unwrap();
        assert!(!s.claim_notice("ntc_a", None).unwrap(), "failed for good");
        assert!(s.claim_notice("ntc_b", None).unwrap());
        // Uncertain: left claimed, with why.
        s.settle_notice("ntc_b", NoticeStatus::Sending, 300, Some("lost"), 300, None)
            .unwrap();
        assert!(!s.claim_notice("ntc_b", None).unwrap());
        assert!(s.due_notices("inc_1", 1_000, 10).unwrap().is_empty());
        let all = s.notices("inc_1").unwrap();
        assert_eq!(all[0].status, NoticeStatus::Failed);
        assert_eq!(all[0].error.as_deref(), Some("refused"));
        assert_eq!(all[1].status, NoticeStatus::Sending);
        assert_eq!(all[1].error.as_deref(), Some("lost"));
        assert_eq!(s.release_sending("inc_1", &["ntc_b".into()]).unwrap(), 1);
        assert!(s.claim_notice("ntc_b", None).unwrap());
        assert_eq!(s.notices("inc_1").unwrap()[1].attempts, 2);
    }

    #[test]
    fn an_unknown_state_reads_as_failed() {
        let (_db, s) = store();
        s.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
            .unwrap();
        s.prepare_notices(&batch(), &[], &[notice("ntc_a", "a")], &step("p"), &entry())
            .unwrap();
        s.pool
            .get()
            .unwrap()
            .exec("UPDATE notices SET status = 'limbo'", &[], "test")
            .unwrap();
        assert_eq!(s.notices("inc_1").unwrap()[0].status, NoticeStatus::Failed);
    }

    #[test]
    fn a_notice_is_never_claimed_by_two_nodes() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        a.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
            .unwrap();
        let ids: Vec<String> = (0..100).map(|i| format!("ntc_{i:03}")).collect();
        let notices: Vec<NoticeRecord> = ids.iter().map(|id| notice(id, "a")).collect();
        a.prepare_notices(&batch(), &[], &notices, &step("prepared"), &entry())
            .unwrap();
        a.approve_notices("inc_1", "dpo", 200, &step("approved"), &entry())
            .unwrap();
        // Both nodes deliver the whole incident at once: each claims what it finds due, sends
        // it, and records it sent with its entry.
        let claimed: Vec<Vec<String>> = std::thread::scope(|sc| {
            let hs: Vec<_> = [(&a, 1u8), (&b, 2u8)]
                .into_iter()
                .map(|(st, node)| {
                    sc.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let due = st.due_notices("inc_1", 200, 16).unwrap();
                            if due.is_empty() {
                                break;
                            }
                            for n in due {
                                let mut c = code(node);
                                c.message_id = n.id.clone();
                                if st.claim_notice(&n.id, Some(("CODE", &c))).unwrap() {
                                    st.settle_notice(
                                        &n.id,
                                        NoticeStatus::Sent,
                                        200,
                                        None,
                                        201,
                                        Some(&entry()),
                                    )
                                    .unwrap();
                                    mine.push(n.id);
                                }
                            }
                        }
                        mine
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<String> = claimed.concat();
        all.sort();
        assert_eq!(all, ids, "each message claimed by exactly one node");
        let codes = a.codes(&[1; 32]).unwrap().len() + a.codes(&[2; 32]).unwrap().len();
        assert_eq!(codes, 100, "one code per claim made");
        for n in a.notices("inc_1").unwrap() {
            assert_eq!(n.status, NoticeStatus::Sent);
            assert_eq!(n.attempts, 1, "{}", n.id);
        }
        // Opened, prepared, approved, then one entry per message sent.
        assert_eq!(a.audit_len().unwrap(), 103);
    }

    #[test]
    fn a_batch_prepared_by_two_nodes_at_once_is_prepared_once() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        for i in 0..10 {
            a.insert_incident(
                &incident(&format!("inc_{i}")),
                &[],
                &step("opened"),
                &entry(),
            )
            .unwrap();
        }
        let outcomes: Vec<usize> = std::thread::scope(|sc| {
            let hs: Vec<_> = [(&a, "a"), (&b, "b")]
                .into_iter()
                .map(|(st, node)| {
                    sc.spawn(move || {
                        let mut prepared = 0;
                        for i in 0..10 {
                            let inc = format!("inc_{i}");
                            let b = NoticeBatch {
                                incident: inc.clone(),
                                ..batch()
                            };
                            let n = NoticeRecord {
                                incident: inc.clone(),
                                ..notice(&format!("ntc_{node}{i}"), "p")
                            };
                            match st.prepare_notices(
                                &b,
                                &[person("p")],
                                &[n],
                                &step("prepared"),
                                &entry(),
                            ) {
                                Ok(true) => prepared += 1,
                                Err(StoreError::Conflict(_)) => {}
                                other => panic!("{other:?}"),
                            }
                        }
                        prepared
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(outcomes.iter().sum::<usize>(), 10);
        for i in 0..10 {
            let inc = format!("inc_{i}");
            assert_eq!(a.notices(&inc).unwrap().len(), 1, "one batch's messages");
            assert_eq!(a.incident_people(&inc).unwrap().len(), 1);
        }
        assert_eq!(a.audit_len().unwrap(), 20);
    }
}
