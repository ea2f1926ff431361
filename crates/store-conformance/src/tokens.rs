//! Tokens and principals' suspensions.

use crate::{entry, token, Fixture};
use rempart_store::{AlertRecord, PrincipalRecord, StoreError, TokenChange};

/// Tokens are stored with their entry, found by hash, listed by creation time, changed only
/// over the tag they were computed from; a suspended principal gets no new token, and its
/// suspension must name every one of its tokens.
pub fn tokens_change_only_over_their_tag_and_suspension_blocks_new_ones(
    open: &dyn Fn() -> Fixture,
) {
    let f = open();
    let s = &*f.store;
    let before = s.audit_len().unwrap();
    let mut t1 = token("t1", 1, "c.a");
    t1.created_at = 20;
    let mut t2 = token("t2", 2, "c.a");
    t2.created_at = 10;
    s.insert_token(&t1, &entry()).unwrap();
    s.insert_token(&t2, &entry()).unwrap();
    s.insert_token(&token("t3", 3, "c.b"), &entry()).unwrap();
    assert_eq!(s.audit_len().unwrap(), before + 3, "each with its entry");
    assert_eq!(s.token_by_hash(&[1; 32]).unwrap(), Some(t1.clone()));
    assert!(s.token_by_hash(&[9; 32]).unwrap().is_none());
    let ids: Vec<String> = s.tokens().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(
        ids,
        ["t3", "t2", "t1"].map(String::from),
        "by creation time"
    );
    assert!(
        s.insert_token(&token("t4", 1, "c.c"), &entry()).is_err(),
        "a hash names one token"
    );

    let change = |t: &rempart_store::TokenRecord, expected: Option<Vec<u8>>, tag: u8| TokenChange {
        id: t.id.clone(),
        expected,
        suspended: true,
        revoked_at: None,
        expires_at: t.expires_at,
        tag: vec![tag; 32],
    };
    assert!(matches!(
        s.change_tokens(None, &[change(&t1, Some(vec![0; 32]), 5)], &entry()),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.token_by_hash(&[1; 32]).unwrap(),
        Some(t1.clone()),
        "nothing written"
    );
    let suspension = PrincipalRecord {
        name: "c.a".into(),
        suspended: true,
        since: 30,
        tag: Some(vec![6; 32]),
    };
    assert!(
        matches!(
            s.change_tokens(
                Some(&suspension),
                &[change(&t1, t1.tag.clone(), 5)],
                &entry()
            ),
            Err(StoreError::Conflict(_))
        ),
        "a suspension that leaves one of the principal's tokens out is refused"
    );
    assert!(s.principal("c.a").unwrap().is_none(), "and writes nothing");
    s.change_tokens(
        Some(&suspension),
        &[
            change(&t1, t1.tag.clone(), 5),
            change(&t2, t2.tag.clone(), 7),
        ],
        &entry(),
    )
    .unwrap();
    assert_eq!(s.principal("c.a").unwrap(), Some(suspension));
    let now = s.token_by_hash(&[1; 32]).unwrap().unwrap();
    assert!(now.suspended);
    assert_eq!(now.tag, Some(vec![5; 32]));
    assert!(matches!(
        s.insert_token(&token("t5", 5, "c.a"), &entry()),
        Err(StoreError::PrincipalSuspended)
    ));
    assert!(s.token_by_hash(&[5; 32]).unwrap().is_none());
}

/// An alert is raised in the transaction that suspends its principal (a suspension that does
/// not name every token raises nothing), listed newest first, and closed by the restore.
pub fn an_alert_comes_with_its_suspension_and_closes_with_the_restore(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let t1 = token("t1", 1, "c.a");
    let t2 = token("t2", 2, "c.a");
    s.insert_token(&t1, &entry()).unwrap();
    s.insert_token(&t2, &entry()).unwrap();
    let change = |t: &rempart_store::TokenRecord, suspended: bool, tag: u8| TokenChange {
        id: t.id.clone(),
        expected: t.tag.clone(),
        suspended,
        revoked_at: None,
        expires_at: t.expires_at,
        tag: vec![tag; 32],
    };
    let alert = |id: &str, at: i64| AlertRecord {
        id: id.into(),
        at,
        principal: "c.a".into(),
        role: "counsellor".into(),
        agency: "ML-1".into(),
        token: "t1".into(),
        trip: "refusals".into(),
        signals: "outside=20".into(),
        people: vec!["p1".into(), "p2".into()],
        restored_at: None,
        restored_by: None,
    };
    let suspended = PrincipalRecord {
        name: "c.a".into(),
        suspended: true,
        since: 30,
        tag: Some(vec![6; 32]),
    };
    let before = s.audit_len().unwrap();
    assert!(matches!(
        s.raise_alert(
            &alert("alr_1", 30),
            &suspended,
            &[change(&t1, true, 7)],
            &[entry(), entry()]
        ),
        Err(StoreError::Conflict(_))
    ));
    assert!(s.alert("alr_1").unwrap().is_none(), "nothing raised");
    assert_eq!(s.audit_len().unwrap(), before, "nothing recorded");
    s.raise_alert(
        &alert("alr_1", 30),
        &suspended,
        &[change(&t1, true, 7), change(&t2, true, 8)],
        &[entry(), entry()],
    )
    .unwrap();
    assert_eq!(s.audit_len().unwrap(), before + 2, "with its entries");
    assert!(s.token_by_hash(&[1; 32]).unwrap().unwrap().suspended);
    assert_eq!(s.alert("alr_1").unwrap(), Some(alert("alr_1", 30)));
    let t1 = s.token_by_hash(&[1; 32]).unwrap().unwrap();
    let t2 = s.token_by_hash(&[2; 32]).unwrap().unwrap();
    let restored = PrincipalRecord {
        name: "c.a".into(),
        suspended: false,
        since: 40,
        tag: Some(vec![9; 32]),
    };
    s.change_tokens(
        Some(&restored),
        &[change(&t1, false, 10), change(&t2, false, 11)],
        &entry(),
    )
    .unwrap();
    let closed = s.alert("alr_1").unwrap().unwrap();
    assert_eq!(closed.restored_at, Some(40));
    assert_eq!(closed.restored_by.as_deref(), Some("c"));
    let t1 = s.token_by_hash(&[1; 32]).unwrap().unwrap();
    let t2 = s.token_by_hash(&[2; 32]).unwrap().unwrap();
    s.raise_alert(
        &alert("alr_2", 50),
        &PrincipalRecord {
            since: 50,
            ..suspended
        },
        &[change(&t1, true, 12), change(&t2, true, 13)],
        &[entry()],
    )
    .unwrap();
    let ids = |before: Option<&str>| -> Vec<String> {
        s.alerts(before, 10)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(ids(None), ["alr_2", "alr_1"], "newest first");
    assert_eq!(ids(Some("alr_2")), ["alr_1"], "before an alert");
    assert!(ids(Some("alr_9")).is_empty(), "before no alert: none");
    assert_eq!(s.alerts(None, 1).unwrap().len(), 1, "at most the limit");
}

/// Containment's kept state is one value, replaced whole, read back as saved.
pub fn the_guard_state_is_kept_whole(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    assert_eq!(s.load_guard().unwrap(), None);
    s.save_guard(b"first", 10).unwrap();
    assert_eq!(s.load_guard().unwrap().as_deref(), Some(&b"first"[..]));
    s.save_guard(b"second state", 20).unwrap();
    assert_eq!(
        s.load_guard().unwrap().as_deref(),
        Some(&b"second state"[..])
    );
}
