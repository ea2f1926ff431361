//! Incidents, their people, notifications and notices.

use crate::{entry, Fixture};
use rempart_store::{
    CodeRecord, Filing, IncidentEvent, IncidentPerson, IncidentRecord, NoticeBatch, NoticeRecord,
    NoticeStatus, StoreError,
};

fn incident(id: &str) -> IncidentRecord {
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

fn step(what: &str) -> IncidentEvent {
    IncidentEvent {
        at: 100,
        by: "dpo".into(),
        what: what.into(),
    }
}

fn person(id: &str) -> IncidentPerson {
    IncidentPerson {
        person: id.into(),
        categories: vec!["contact".into(), "identity".into()],
        first: 10,
        last: 20,
    }
}

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

/// An incident keeps what it was opened with, its timeline in order, its people, its
/// notifications by phase (one each), and its status; every change comes with its entry.
pub fn an_incident_keeps_its_people_filings_and_timeline(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
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
    let (back, events) = s.incident("inc_1").unwrap().unwrap();
    assert_eq!(back.status, "closed");
    let whats: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(whats, ["opened", "filed", "closed"]);
    assert_eq!(
        s.audit_len().unwrap(),
        before + 3,
        "each change with its entry"
    );
}

/// Notices are prepared once, with the incident's people; nothing is due before approval;
/// a claimed message is never claimed again; a retry comes due at its time; a message left
/// claimed is released only on request.
pub fn notices_are_claimed_once_and_settled(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    s.insert_incident(&incident("inc_1"), &[], &step("opened"), &entry())
        .unwrap();
    let batch = NoticeBatch {
        incident: "inc_1".into(),
        prepared_by: "ops".into(),
        prepared_at: 100,
        language: "fr".into(),
        approved_by: None,
        approved_at: None,
    };
    let notices = [
        notice("ntc_a", "a"),
        notice("ntc_b", "b"),
        notice("ntc_c", "a"),
    ];
    assert!(s
        .prepare_notices(
            &batch,
            &[person("a"), person("b")],
            &notices,
            &step("prepared"),
            &entry()
        )
        .unwrap());
    assert!(matches!(
        s.prepare_notices(&batch, &[], &[], &step("prepared"), &entry()),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.incident_people("inc_1").unwrap().len(), 2);
    assert_eq!(s.notice_batch("inc_1").unwrap(), Some(batch));
    assert!(
        s.due_notices("inc_1", 1_000, 10).unwrap().is_empty(),
        "not approved"
    );
    assert!(
        !s.claim_notice("ntc_a", Some(("CODE", &code(7)))).unwrap(),
        "not approved"
    );
    assert!(s
        .approve_notices("inc_1", "dpo", 200, &step("approved"), &entry())
        .unwrap());
    assert!(!s
        .approve_notices("inc_1", "dpo", 201, &step("approved"), &entry())
        .unwrap());
    let due: Vec<String> = s
        .due_notices("inc_1", 200, 10)
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(due, ["ntc_a", "ntc_b", "ntc_c"]);
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
    assert_eq!(all[2].status, NoticeStatus::Sending);
    assert_eq!(
        s.release_sending("inc_1", &["ntc_a".into()]).unwrap(),
        0,
        "sent: not released"
    );
    assert_eq!(s.release_sending("inc_1", &["ntc_c".into()]).unwrap(), 1);
    assert_eq!(s.notices("inc_1").unwrap()[2].status, NoticeStatus::Ready);
}
