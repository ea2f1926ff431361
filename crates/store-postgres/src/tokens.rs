//! Tokens and principals' suspensions: reads, and changes made only when the row still holds
//! the tag the change was computed from.
//!
//! Several nodes write the database, so what SQLite's single writer gave for free is a lock
//! here: a token's insert and a principal's suspension (or restore) take the principal's own
//! lock first ([`lock_principal`]), so that a token is never made for a principal being
//! suspended, and a suspension never misses a token made meanwhile (its count of the
//! principal's tokens is read under the lock). A lock of the principal's row
//! (`SELECT … FOR UPDATE`) would not do: a principal never suspended has no row to lock.
//! Token changes are applied in the order of their ids, so that two changes of the same tokens
//! wait for each other rather than deadlock.

use crate::db::{in_tx, Exec, Tx};
use crate::log::append_entries;
use crate::PgStore;
use postgres::Row;
use rempart_audit::AuditEntry;
use rempart_store::{PrincipalRecord, StoreError, TokenChange, TokenRecord, TokenStore};

/// The columns [`row_to_token`] reads, in its order.
macro_rules! token_columns {
    () => {
        "id, hash, principal, role, agency, created_at, expires_at, suspended, revoked_at, tag, bounds"
    };
}

/// The class of the advisory locks taken on principals (the two-key form of
/// `pg_advisory_xact_lock`, whose keys never meet the migrations' one-key lock).
const PRINCIPAL_LOCK: i32 = 0x5245_4d50;

fn row_to_token(r: &Row) -> Result<TokenRecord, StoreError> {
    let bad = |_: postgres::Error| StoreError::Corrupt("a token's row");
    let hash: &[u8] = r.try_get(1).map_err(bad)?;
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| StoreError::Corrupt("token hash length"))?;
    Ok(TokenRecord {
        id: r.try_get(0).map_err(bad)?,
        hash,
        principal: r.try_get(2).map_err(bad)?,
        role: r.try_get(3).map_err(bad)?,
        agency: r.try_get(4).map_err(bad)?,
        created_at: r.try_get(5).map_err(bad)?,
        expires_at: r.try_get(6).map_err(bad)?,
        suspended: r.try_get(7).map_err(bad)?,
        revoked_at: r.try_get(8).map_err(bad)?,
        tag: r.try_get(9).map_err(bad)?,
        bounds: r.try_get(10).map_err(bad)?,
    })
}

/// The token whose hash is `hash`.
#[allow(dead_code, reason = "the point reads of `Reads` and snapshots")]
pub(crate) fn token_by_hash(
    c: &mut impl Exec,
    hash: &[u8; 32],
) -> Result<Option<TokenRecord>, StoreError> {
    c.row(
        concat!("SELECT ", token_columns!(), " FROM tokens WHERE hash = $1"),
        &[&&hash[..]],
        "read token",
    )?
    .as_ref()
    .map(row_to_token)
    .transpose()
}

/// The token whose public id is `id`.
#[allow(dead_code, reason = "the point reads of `Reads` and snapshots")]
pub(crate) fn token_by_id(c: &mut impl Exec, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    c.row(
        concat!("SELECT ", token_columns!(), " FROM tokens WHERE id = $1"),
        &[&id],
        "read token",
    )?
    .as_ref()
    .map(row_to_token)
    .transpose()
}

/// A principal's suspension record; names compare without case.
pub(crate) fn principal(
    c: &mut impl Exec,
    name: &str,
) -> Result<Option<PrincipalRecord>, StoreError> {
    let Some(r) = c.row(
        "SELECT name, suspended, since, tag FROM principals WHERE lower(name) = lower($1)",
        &[&name],
        "read principal",
    )?
    else {
        return Ok(None);
    };
    let bad = |_: postgres::Error| StoreError::Corrupt("a principal's row");
    Ok(Some(PrincipalRecord {
        name: r.try_get(0).map_err(bad)?,
        suspended: r.try_get(1).map_err(bad)?,
        since: r.try_get(2).map_err(bad)?,
        tag: r.try_get(3).map_err(bad)?,
    }))
}

/// Every token that can be read, by creation time: a row that cannot (a hash of the wrong
/// length, written by hand) is skipped, so that one such row does not stop the listing,
/// revocation or suspension of the others.
fn all(c: &mut impl Exec) -> Result<Vec<TokenRecord>, StoreError> {
    Ok(c.rows(
        concat!(
            "SELECT ",
            token_columns!(),
            r#" FROM tokens ORDER BY created_at, id COLLATE "C""#
        ),
        &[],
        "read tokens",
    )?
    .iter()
    .filter_map(|r| row_to_token(r).ok())
    .collect())
}

/// In `tx`: waits for, then holds until the end of `tx`, the lock of the principal `name`
/// (without case). Taken before any row is written, so that it never waits while holding one.
fn lock_principal(tx: &mut Tx<'_>, name: &str) -> Result<(), StoreError> {
    tx.row(
        "SELECT pg_advisory_xact_lock($1, hashtext(lower($2)))",
        &[&PRINCIPAL_LOCK, &name],
        "lock the principal",
    )
    .map(|_| ())
}

/// Whether the principal holds a suspended token that is not revoked (its suspension, even
/// if its record was deleted by hand).
fn suspended_tokens(tx: &mut Tx<'_>, name: &str) -> Result<bool, StoreError> {
    tx.one(
        "SELECT EXISTS (SELECT 1 FROM tokens WHERE lower(principal) = lower($1) AND suspended AND revoked_at IS NULL)",
        &[&name],
        "read suspension",
    )?
    .try_get(0)
    .map_err(|_| StoreError::Corrupt("a suspension"))
}

/// In `tx`: applies `changes` (each only where the row holds its expected tag) and the
/// principal's record, under the principal's lock; `Conflict` if a row changed meanwhile, or
/// if the principal has a token that `changes` does not name.
pub(crate) fn change(
    tx: &mut Tx<'_>,
    principal: Option<&PrincipalRecord>,
    changes: &[TokenChange],
) -> Result<(), StoreError> {
    if let Some(p) = principal {
        lock_principal(tx, &p.name)?;
    }
    let mut ordered: Vec<&TokenChange> = changes.iter().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    for ch in ordered {
        let n = tx.exec(
            "UPDATE tokens SET suspended = $1, revoked_at = $2, tag = $3, expires_at = $6 WHERE id = $4 AND tag IS NOT DISTINCT FROM $5",
            &[&ch.suspended, &ch.revoked_at, &ch.tag, &ch.id, &ch.expected, &ch.expires_at],
            "change token",
        )?;
        if n == 0 {
            return Err(StoreError::Conflict("a token"));
        }
    }
    if let Some(p) = principal {
        // Logins are compared without case: tokens made before logins were lower-cased keep
        // the case they were typed in. Read under the principal's lock: no token of it is
        // being made.
        let tokens: i64 = tx
            .one(
                "SELECT COUNT(*) FROM tokens WHERE lower(principal) = lower($1)",
                &[&p.name],
                "count tokens",
            )?
            .try_get(0)
            .map_err(|_| StoreError::Corrupt("a count"))?;
        if usize::try_from(tokens).ok() != Some(changes.len()) {
            return Err(StoreError::Conflict("the principal's tokens"));
        }
        tx.exec(
            "INSERT INTO principals (name, suspended, since, tag) VALUES ($1, $2, $3, $4)
             ON CONFLICT ((lower(name))) DO UPDATE SET name = EXCLUDED.name, suspended = EXCLUDED.suspended, since = EXCLUDED.since, tag = EXCLUDED.tag",
            &[&p.name, &p.suspended, &p.since, &p.tag],
            "record principal",
        )?;
    }
    Ok(())
}

impl TokenStore for PgStore {
    fn insert_token(&self, t: &TokenRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        in_tx(&self.pool, "insert token", |tx| {
            // Under the principal's lock: a suspension is either committed (and seen here) or
            // not begun (and then counts this token).
            lock_principal(tx, &t.principal)?;
            if principal(tx, &t.principal)?.is_some_and(|p| p.suspended)
                || suspended_tokens(tx, &t.principal)?
            {
                return Err(StoreError::PrincipalSuspended);
            }
            tx.exec(
                "INSERT INTO tokens (id, hash, principal, role, agency, created_at, expires_at, suspended, revoked_at, tag, bounds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &t.id,
                    &&t.hash[..],
                    &t.principal,
                    &t.role,
                    &t.agency,
                    &t.created_at,
                    &t.expires_at,
                    &t.suspended,
                    &t.revoked_at,
                    &t.tag,
                    &t.bounds,
                ],
                "insert token",
            )?;
            append_entries(tx, std::slice::from_ref(audit))
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        all(&mut self.pool.get()?)
    }

    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "change tokens", |tx| {
            change(tx, principal, changes)?;
            if let Some(p) = principal.filter(|p| !p.suspended) {
                // Restored: its open alerts are closed, by whoever restored it.
                tx.exec(
                    "UPDATE alerts SET restored_at = $1, restored_by = $2 WHERE lower(principal) = lower($3) AND restored_at IS NULL",
                    &[&p.since, &audit.principal, &p.name],
                    "close alerts",
                )?;
            }
            append_entries(tx, std::slice::from_ref(audit))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::TestDb;
    use rempart_store::{AlertStore, AuditLog};

    /// A new store on a database of its own (the store first: it is dropped first).
    pub(crate) fn store() -> (PgStore, TestDb) {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        (PgStore::open(&db.url).unwrap(), db)
    }

    /// An entry, as the conformance suite's.
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

    /// A token of `principal` whose hash is `[h; 32]`, tagged `[h; 32]`.
    pub(crate) fn token(id: &str, h: u8, principal: &str) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            hash: [h; 32],
            principal: principal.into(),
            role: "counsellor".into(),
            agency: "ML-1".into(),
            created_at: 1,
            expires_at: 1_000_000,
            suspended: false,
            revoked_at: None,
            bounds: String::new(),
            tag: Some(vec![h; 32]),
        }
    }

    fn change(t: &TokenRecord, expected: Option<Vec<u8>>, suspended: bool, tag: u8) -> TokenChange {
        TokenChange {
            id: t.id.clone(),
            expected,
            suspended,
            revoked_at: None,
            expires_at: t.expires_at,
            tag: vec![tag; 32],
        }
    }

    fn by_hash(s: &PgStore, h: u8) -> Option<TokenRecord> {
        token_by_hash(&mut s.pool.get().unwrap(), &[h; 32]).unwrap()
    }

    fn principal_of(s: &PgStore, name: &str) -> Option<PrincipalRecord> {
        principal(&mut s.pool.get().unwrap(), name).unwrap()
    }

    #[test]
    fn tokens_change_only_over_their_tag_and_suspension_blocks_new_ones() {
        let (s, _db) = store();
        let before = s.audit_len().unwrap();
        let mut t1 = token("t1", 1, "c.a");
        t1.created_at = 20;
        let mut t2 = token("t2", 2, "c.a");
        t2.created_at = 10;
        s.insert_token(&t1, &entry()).unwrap();
        s.insert_token(&t2, &entry()).unwrap();
        s.insert_token(&token("t3", 3, "c.b"), &entry()).unwrap();
        assert_eq!(s.audit_len().unwrap(), before + 3, "each with its entry");
        assert_eq!(by_hash(&s, 1), Some(t1.clone()));
        assert!(by_hash(&s, 9).is_none());
        let ids: Vec<String> = s.tokens().unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["t3", "t2", "t1"], "by creation time");
        assert!(
            s.insert_token(&token("t4", 1, "c.c"), &entry()).is_err(),
            "a hash names one token"
        );
        assert_eq!(s.audit_len().unwrap(), before + 3, "and records nothing");

        assert!(matches!(
            s.change_tokens(None, &[change(&t1, Some(vec![0; 32]), true, 5)], &entry()),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(by_hash(&s, 1), Some(t1.clone()), "nothing written");
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
                    &[change(&t1, t1.tag.clone(), true, 5)],
                    &entry()
                ),
                Err(StoreError::Conflict(_))
            ),
            "a suspension that leaves one of the principal's tokens out is refused"
        );
        assert!(principal_of(&s, "c.a").is_none(), "and writes nothing");
        assert!(
            !by_hash(&s, 1).unwrap().suspended,
            "not even the token named"
        );
        s.change_tokens(
            Some(&suspension),
            &[
                change(&t1, t1.tag.clone(), true, 5),
                change(&t2, t2.tag.clone(), true, 7),
            ],
            &entry(),
        )
        .unwrap();
        assert_eq!(principal_of(&s, "c.a"), Some(suspension.clone()));
        assert_eq!(
            principal_of(&s, "C.A"),
            Some(suspension),
            "found without case"
        );
        let now = by_hash(&s, 1).unwrap();
        assert!(now.suspended);
        assert_eq!(now.tag, Some(vec![5; 32]));
        let audit = s.audit_len().unwrap();
        assert!(matches!(
            s.insert_token(&token("t5", 5, "c.a"), &entry()),
            Err(StoreError::PrincipalSuspended)
        ));
        assert!(matches!(
            s.insert_token(&token("t5", 5, "C.A"), &entry()),
            Err(StoreError::PrincipalSuspended)
        ));
        assert!(by_hash(&s, 5).is_none());
        assert_eq!(s.audit_len().unwrap(), audit, "nothing recorded");
    }

    #[test]
    fn a_suspended_token_not_revoked_blocks_new_ones_without_a_record() {
        let (s, _db) = store();
        let mut t = token("t1", 1, "C.A");
        t.suspended = true;
        s.insert_token(&t, &entry()).unwrap();
        assert!(matches!(
            s.insert_token(&token("t2", 2, "c.a"), &entry()),
            Err(StoreError::PrincipalSuspended)
        ));
        // Revoked, it suspends no one.
        let mut c = change(&t, t.tag.clone(), true, 3);
        c.revoked_at = Some(5);
        s.change_tokens(None, &[c], &entry()).unwrap();
        s.insert_token(&token("t2", 2, "c.a"), &entry()).unwrap();
    }

    #[test]
    fn tokens_keep_their_bounds_are_found_by_id_and_a_change_may_shorten_their_expiry() {
        let (s, _db) = store();
        let mut t = token("t1", 1, "svc");
        t.bounds = "scopes=persons:read".into();
        t.revoked_at = None;
        s.insert_token(&t, &entry()).unwrap();
        let mut c = s.pool.get().unwrap();
        assert_eq!(token_by_id(&mut c, "t1").unwrap(), Some(t.clone()));
        assert!(token_by_id(&mut c, "t2").unwrap().is_none());
        let mut ch = change(&t, t.tag.clone(), false, 4);
        ch.expires_at = 50;
        ch.revoked_at = Some(40);
        s.change_tokens(None, &[ch], &entry()).unwrap();
        let after = token_by_id(&mut c, "t1").unwrap().unwrap();
        assert_eq!(
            (after.expires_at, after.revoked_at, after.tag),
            (50, Some(40), Some(vec![4; 32]))
        );
    }

    #[test]
    fn a_token_without_a_tag_changes_only_when_none_is_expected() {
        let (s, _db) = store();
        let mut t = token("t1", 1, "c.a");
        t.tag = None;
        s.insert_token(&t, &entry()).unwrap();
        assert!(matches!(
            s.change_tokens(None, &[change(&t, Some(vec![1; 32]), true, 2)], &entry()),
            Err(StoreError::Conflict(_))
        ));
        s.change_tokens(None, &[change(&t, None, true, 2)], &entry())
            .unwrap();
        assert_eq!(by_hash(&s, 1).unwrap().tag, Some(vec![2; 32]));
    }

    #[test]
    fn an_unreadable_token_is_left_out_of_the_list_only() {
        let (s, _db) = store();
        s.insert_token(&token("t1", 1, "c.a"), &entry()).unwrap();
        s.insert_token(&token("t2", 2, "c.a"), &entry()).unwrap();
        s.pool
            .get()
            .unwrap()
            .exec(
                "UPDATE tokens SET hash = '\\x0102' WHERE id = 't2'",
                &[],
                "test",
            )
            .unwrap();
        let ids: Vec<String> = s.tokens().unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["t1"]);
        assert!(matches!(
            token_by_id(&mut s.pool.get().unwrap(), "t2"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn a_restore_closes_the_principals_open_alerts() {
        let (s, _db) = store();
        let t = token("t1", 1, "c.a");
        s.insert_token(&t, &entry()).unwrap();
        let alert = rempart_store::AlertRecord {
            id: "alr_1".into(),
            at: 30,
            principal: "c.a".into(),
            role: "counsellor".into(),
            agency: "ML-1".into(),
            token: "t1".into(),
            trip: "decoy".into(),
            signals: "decoy=1".into(),
            people: vec![],
            restored_at: None,
            restored_by: None,
        };
        let suspended = PrincipalRecord {
            name: "c.a".into(),
            suspended: true,
            since: 30,
            tag: Some(vec![6; 32]),
        };
        s.raise_alert(
            &alert,
            &suspended,
            &[change(&t, t.tag.clone(), true, 2)],
            &[entry()],
        )
        .unwrap();
        let t = by_hash(&s, 1).unwrap();
        // A change without the principal's record leaves its alerts open.
        s.change_tokens(None, &[change(&t, t.tag.clone(), true, 3)], &entry())
            .unwrap();
        assert_eq!(s.alert("alr_1").unwrap().unwrap().restored_at, None);
        let t = by_hash(&s, 1).unwrap();
        let restored = PrincipalRecord {
            name: "C.A".into(),
            suspended: false,
            since: 40,
            tag: Some(vec![7; 32]),
        };
        s.change_tokens(
            Some(&restored),
            &[change(&t, t.tag.clone(), false, 4)],
            &entry(),
        )
        .unwrap();
        let closed = s.alert("alr_1").unwrap().unwrap();
        assert_eq!(
            (closed.restored_at, closed.restored_by.as_deref()),
            (Some(40), Some("c"))
        );
        assert_eq!(
            principal_of(&s, "c.a"),
            Some(restored),
            "one record per principal, whatever the case it was written in"
        );
        s.insert_token(&token("t2", 2, "c.a"), &entry()).unwrap();
    }

    /// Two nodes: one makes tokens for a principal while the other suspends it, reading its
    /// tokens and retrying on a conflict as the vault does. Once the suspension is committed,
    /// every token of the principal is suspended: none was made beside it.
    #[test]
    fn a_suspension_on_one_node_misses_no_token_made_on_another() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        let tok = |round: u8, i: u8, name: &str| {
            let mut t = token(&format!("r{round}-{i}"), i, name);
            t.hash[0] = round;
            t
        };
        for round in 0..10u8 {
            let name = format!("c.r{round}");
            a.insert_token(&tok(round, 0, &name), &entry()).unwrap();
            std::thread::scope(|sc| {
                let (a, b, name) = (&a, &b, &name);
                sc.spawn(move || {
                    for i in 1..40u8 {
                        match a.insert_token(&tok(round, i, name), &entry()) {
                            Ok(()) | Err(StoreError::PrincipalSuspended) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
                sc.spawn(move || {
                    // Suspended after a varying number of its tokens is made.
                    let wait = usize::from(round) * 4;
                    loop {
                        let tokens: Vec<TokenRecord> = b
                            .tokens()
                            .unwrap()
                            .into_iter()
                            .filter(|t| t.principal == *name)
                            .collect();
                        if tokens.len() < wait {
                            continue;
                        }
                        let changes: Vec<TokenChange> = tokens
                            .iter()
                            .map(|t| change(t, t.tag.clone(), true, 99))
                            .collect();
                        let record = PrincipalRecord {
                            name: name.clone(),
                            suspended: true,
                            since: 10,
                            tag: None,
                        };
                        match b.change_tokens(Some(&record), &changes, &entry()) {
                            Ok(()) => break,
                            Err(StoreError::Conflict(_)) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
            });
            let left: Vec<String> = a
                .tokens()
                .unwrap()
                .into_iter()
                .filter(|t| t.principal == name && !t.suspended)
                .map(|t| t.id)
                .collect();
            assert!(left.is_empty(), "not suspended: {left:?}");
        }
    }
}
