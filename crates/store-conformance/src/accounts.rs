//! Accounts and their requests; a token's bounds, its lookup by id, and its expiry changed.

use crate::{entry, token, Fixture};
use rempart_store::{AccountRecord, AccountRequest, AlertRecord, StoreError, TokenChange};

fn account(name: &str, tag: u8) -> AccountRecord {
    AccountRecord {
        name: name.into(),
        agency: "ML-1".into(),
        role: "counsellor".into(),
        disabled: false,
        created_by: "op.a".into(),
        created_at: 10,
        approved_by: "op.b".into(),
        approved_at: 20,
        subject: None,
        tag: Some(vec![tag; 32]),
    }
}

fn request(id: &str, name: &str) -> AccountRequest {
    AccountRequest {
        id: id.into(),
        kind: "create".into(),
        name: name.into(),
        agency: "ML-1".into(),
        role: "counsellor".into(),
        requested_by: "op.a".into(),
        requested_from: "ML-1".into(),
        requested_at: 10,
        decided_by: None,
        decided_at: None,
        approved: None,
        tag: Some(vec![1; 32]),
    }
}

fn alert(id: &str) -> AlertRecord {
    AlertRecord {
        id: id.into(),
        at: 10,
        principal: "c.new".into(),
        role: "counsellor".into(),
        agency: "ML-1".into(),
        token: "-".into(),
        trip: "principal_request".into(),
        signals: "request=r1".into(),
        people: vec![],
        restored_at: Some(10),
        restored_by: Some("op.a".into()),
    }
}

/// A request is recorded with its alert and entry; one pending request per principal; it is
/// decided once, over its tag, with the account written over its own expected row; an account
/// is found by name without case and changed only over its tag. Tokens keep their bounds, are
/// found by id, and a change may shorten their expiry.
pub fn accounts_are_requested_decided_once_and_changed_over_their_tag(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let before = s.audit_len().unwrap();
    s.request_account(&request("r1", "c.new"), &alert("a1"), &entry())
        .unwrap();
    assert_eq!(s.audit_len().unwrap(), before + 1, "with its entry");
    assert!(s.alert("a1").unwrap().is_some(), "with its alert");
    assert!(matches!(
        s.request_account(&request("r2", "C.New"), &alert("a2"), &entry()),
        Err(StoreError::Conflict(_))
    ));
    assert!(s.alert("a2").unwrap().is_none(), "nothing written");
    assert_eq!(s.account_requests().unwrap().len(), 1);

    let mut decided = request("r1", "c.new");
    decided.decided_by = Some("op.b".into());
    decided.decided_at = Some(20);
    decided.approved = Some(true);
    decided.tag = Some(vec![2; 32]);
    let a = account("c.new", 3);
    assert!(
        matches!(
            s.decide_account_request(&decided, &[9; 32], Some((&a, None)), &alert("a3"), &entry()),
            Err(StoreError::Conflict(_))
        ),
        "over its tag only"
    );
    assert!(s.account("c.new").unwrap().is_none(), "nothing written");
    s.decide_account_request(&decided, &[1; 32], Some((&a, None)), &alert("a4"), &entry())
        .unwrap();
    assert_eq!(s.account_request("r1").unwrap(), Some(decided.clone()));
    assert_eq!(
        s.account("C.NEW").unwrap(),
        Some(a.clone()),
        "found without case"
    );
    assert!(
        matches!(
            s.decide_account_request(&decided, &[2; 32], None, &alert("a5"), &entry()),
            Err(StoreError::Conflict(_))
        ),
        "decided once"
    );
    // A second request can be made once the first is decided; an account is written over its
    // expected row only.
    s.request_account(&request("r6", "c.new"), &alert("a6"), &entry())
        .unwrap();
    let other = account("c.new", 7);
    assert!(
        matches!(
            s.put_account(&other, None, &entry()),
            Err(StoreError::Conflict(_))
        ),
        "a row exists"
    );
    assert!(matches!(
        s.put_account(&other, Some(&[8; 32]), &entry()),
        Err(StoreError::Conflict(_))
    ));
    let disabled = AccountRecord {
        disabled: true,
        subject: Some("https://idp.example sub-1".into()),
        ..account("c.new", 9)
    };
    s.put_account(&disabled, Some(&[3; 32]), &entry()).unwrap();
    assert_eq!(s.account("c.new").unwrap(), Some(disabled));
    assert_eq!(s.accounts().unwrap().len(), 1);

    let mut t = token("t1", 1, "svc");
    t.bounds = "scopes=persons:read".into();
    s.insert_token(&t, &entry()).unwrap();
    assert_eq!(s.token_by_id("t1").unwrap(), Some(t.clone()), "bounds kept");
    assert!(s.token_by_id("t2").unwrap().is_none());
    let change = TokenChange {
        id: t.id.clone(),
        expected: t.tag.clone(),
        suspended: false,
        revoked_at: None,
        expires_at: 50,
        tag: vec![4; 32],
    };
    s.change_tokens(None, &[change], &entry()).unwrap();
    let after = s.token_by_id("t1").unwrap().unwrap();
    assert_eq!((after.expires_at, after.tag), (50, Some(vec![4; 32])));
}
