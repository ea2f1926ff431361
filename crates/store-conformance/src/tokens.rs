//! Tokens and principals' suspensions.

use crate::{entry, token, Fixture};
use rempart_store::{PrincipalRecord, StoreError, TokenChange};

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
