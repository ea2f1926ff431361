//! Accounts and their requests, each change with its alert and audit entry, and written only
//! over the row (and tag) it was decided from. Names compare without case (`lower()`, which
//! the unique indexes of `accounts` and of the pending requests are on).
//!
//! Every write is one conditional statement (an update over the expected tag, an insert that
//! does nothing over a row that exists), so two nodes deciding at once need no other lock: the
//! second waits for the first's row, then finds it changed and writes nothing (`Conflict`).

use crate::alerts::insert_alert;
use crate::db::{in_tx, Exec, Tx};
use crate::log::append_entries;
use crate::PgStore;
use postgres::Row;
use rempart_audit::AuditEntry;
use rempart_store::{AccountRecord, AccountRequest, AccountStore, AlertRecord, StoreError};

/// The columns [`row_to_account`] reads, in its order.
macro_rules! account_columns {
    () => {
        "name, agency, role, disabled, created_by, created_at, approved_by, approved_at, tag, subject"
    };
}

/// The columns [`row_to_request`] reads, in its order.
macro_rules! request_columns {
    () => {
        "id, kind, name, agency, role, requested_by, requested_from, requested_at, decided_by, decided_at, approved, tag"
    };
}

fn row_to_account(r: &Row) -> Result<AccountRecord, StoreError> {
    let bad = |_: postgres::Error| StoreError::Corrupt("an account's row");
    Ok(AccountRecord {
        name: r.try_get(0).map_err(bad)?,
        agency: r.try_get(1).map_err(bad)?,
        role: r.try_get(2).map_err(bad)?,
        disabled: r.try_get(3).map_err(bad)?,
        created_by: r.try_get(4).map_err(bad)?,
        created_at: r.try_get(5).map_err(bad)?,
        approved_by: r.try_get(6).map_err(bad)?,
        approved_at: r.try_get(7).map_err(bad)?,
        tag: r.try_get(8).map_err(bad)?,
        subject: r.try_get(9).map_err(bad)?,
    })
}

fn row_to_request(r: &Row) -> Result<AccountRequest, StoreError> {
    let bad = |_: postgres::Error| StoreError::Corrupt("an account request's row");
    Ok(AccountRequest {
        id: r.try_get(0).map_err(bad)?,
        kind: r.try_get(1).map_err(bad)?,
        name: r.try_get(2).map_err(bad)?,
        agency: r.try_get(3).map_err(bad)?,
        role: r.try_get(4).map_err(bad)?,
        requested_by: r.try_get(5).map_err(bad)?,
        requested_from: r.try_get(6).map_err(bad)?,
        requested_at: r.try_get(7).map_err(bad)?,
        decided_by: r.try_get(8).map_err(bad)?,
        decided_at: r.try_get(9).map_err(bad)?,
        approved: r.try_get(10).map_err(bad)?,
        tag: r.try_get(11).map_err(bad)?,
    })
}

/// The account named `name` (without case).
#[allow(dead_code, reason = "the point reads of `Reads` and snapshots")]
pub(crate) fn account(c: &mut impl Exec, name: &str) -> Result<Option<AccountRecord>, StoreError> {
    c.row(
        concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE lower(name) = lower($1)"
        ),
        &[&name],
        "read account",
    )?
    .as_ref()
    .map(row_to_account)
    .transpose()
}

/// Writes `a` inside `tx` if its row still holds `expected` (`None`: no row); the row keeps
/// the case its name was first written in.
fn put(tx: &mut Tx<'_>, a: &AccountRecord, expected: Option<&[u8]>) -> Result<(), StoreError> {
    let n = match expected {
        None => tx.exec(
            "INSERT INTO accounts (name, agency, role, disabled, created_by, created_at, approved_by, approved_at, tag, subject) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT ((lower(name))) DO NOTHING",
            &[&a.name, &a.agency, &a.role, &a.disabled, &a.created_by, &a.created_at, &a.approved_by, &a.approved_at, &a.tag, &a.subject],
            "insert account",
        )?,
        Some(tag) => tx.exec(
            "UPDATE accounts SET agency = $2, role = $3, disabled = $4, created_by = $5, created_at = $6, approved_by = $7, approved_at = $8, tag = $9, subject = $11 WHERE lower(name) = lower($1) AND tag = $10",
            &[&a.name, &a.agency, &a.role, &a.disabled, &a.created_by, &a.created_at, &a.approved_by, &a.approved_at, &a.tag, &tag, &a.subject],
            "change account",
        )?,
    };
    if n == 0 {
        return Err(StoreError::Conflict("the account changed meanwhile"));
    }
    Ok(())
}

impl AccountStore for PgStore {
    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        // By name without case, in the bytes' order (SQLite's NOCASE), whatever the
        // database's collation.
        Ok(self
            .pool
            .get()?
            .rows(
                concat!(
                    "SELECT ",
                    account_columns!(),
                    r#" FROM accounts ORDER BY lower(name) COLLATE "C""#
                ),
                &[],
                "accounts",
            )?
            .iter()
            .filter_map(|r| row_to_account(r).ok())
            .collect())
    }

    fn account_requests(&self) -> Result<Vec<AccountRequest>, StoreError> {
        Ok(self
            .pool
            .get()?
            .rows(
                concat!(
                    "SELECT ",
                    request_columns!(),
                    " FROM account_requests ORDER BY seq DESC"
                ),
                &[],
                "account requests",
            )?
            .iter()
            .filter_map(|r| row_to_request(r).ok())
            .collect())
    }

    fn account_request(&self, id: &str) -> Result<Option<AccountRequest>, StoreError> {
        self.pool
            .get()?
            .row(
                concat!(
                    "SELECT ",
                    request_columns!(),
                    " FROM account_requests WHERE id = $1"
                ),
                &[&id],
                "account request",
            )?
            .as_ref()
            .map(row_to_request)
            .transpose()
    }

    fn request_account(
        &self,
        q: &AccountRequest,
        alert: &AlertRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "record account request", |tx| {
            // Nothing inserted over another pending request for the same principal (the
            // unique index on the pending requests' names), nor over a request of the same id,
            // once the transaction that holds it has committed.
            let n = tx.exec(
                "INSERT INTO account_requests (id, kind, name, agency, role, requested_by, requested_from, requested_at, decided_by, decided_at, approved, tag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                &[&q.id, &q.kind, &q.name, &q.agency, &q.role, &q.requested_by, &q.requested_from, &q.requested_at, &q.decided_by, &q.decided_at, &q.approved, &q.tag],
                "record account request",
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(
                    "a request for this principal is pending",
                ));
            }
            insert_alert(tx, alert)?;
            append_entries(tx, std::slice::from_ref(audit))
        })
    }

    fn decide_account_request(
        &self,
        d: &AccountRequest,
        expected: &[u8],
        account: Option<(&AccountRecord, Option<&[u8]>)>,
        alert: &AlertRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "decide account request", |tx| {
            let n = tx.exec(
                "UPDATE account_requests SET decided_by = $2, decided_at = $3, approved = $4, tag = $5 WHERE id = $1 AND approved IS NULL AND tag = $6",
                &[&d.id, &d.decided_by, &d.decided_at, &d.approved, &d.tag, &expected],
                "decide account request",
            )?;
            if n == 0 {
                return Err(StoreError::Conflict("the request is no longer pending"));
            }
            if let Some((a, expected)) = account {
                put(tx, a, expected)?;
            }
            insert_alert(tx, alert)?;
            append_entries(tx, std::slice::from_ref(audit))
        })
    }

    fn put_account(
        &self,
        a: &AccountRecord,
        expected: Option<&[u8]>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "write account", |tx| {
            put(tx, a, expected)?;
            append_entries(tx, std::slice::from_ref(audit))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::TestDb;
    use crate::tokens::tests::{entry, store};
    use rempart_store::{AlertStore, AuditLog};

    fn record(name: &str, tag: u8) -> AccountRecord {
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

    fn decided(id: &str, name: &str) -> AccountRequest {
        AccountRequest {
            decided_by: Some("op.b".into()),
            decided_at: Some(20),
            approved: Some(true),
            tag: Some(vec![2; 32]),
            ..request(id, name)
        }
    }

    fn read(s: &PgStore, name: &str) -> Option<AccountRecord> {
        account(&mut s.pool.get().unwrap(), name).unwrap()
    }

    #[test]
    fn accounts_are_requested_decided_once_and_changed_over_their_tag() {
        let (s, _db) = store();
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
        assert_eq!(s.audit_len().unwrap(), before + 1, "nothing recorded");
        assert_eq!(s.account_requests().unwrap().len(), 1);

        let d = decided("r1", "c.new");
        let a = record("c.new", 3);
        assert!(
            matches!(
                s.decide_account_request(&d, &[9; 32], Some((&a, None)), &alert("a3"), &entry()),
                Err(StoreError::Conflict(_))
            ),
            "over its tag only"
        );
        assert!(read(&s, "c.new").is_none(), "nothing written");
        assert!(s.alert("a3").unwrap().is_none());
        s.decide_account_request(&d, &[1; 32], Some((&a, None)), &alert("a4"), &entry())
            .unwrap();
        assert_eq!(s.account_request("r1").unwrap(), Some(d.clone()));
        assert!(s.account_request("r9").unwrap().is_none());
        assert_eq!(read(&s, "C.NEW"), Some(a.clone()), "found without case");
        assert!(
            matches!(
                s.decide_account_request(&d, &[2; 32], None, &alert("a5"), &entry()),
                Err(StoreError::Conflict(_))
            ),
            "decided once"
        );
        // A second request can be made once the first is decided; an account is written over
        // its expected row only.
        s.request_account(&request("r6", "c.new"), &alert("a6"), &entry())
            .unwrap();
        let ids: Vec<String> = s
            .account_requests()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["r6", "r1"], "newest first");
        let other = record("c.new", 7);
        assert!(
            matches!(
                s.put_account(&other, None, &entry()),
                Err(StoreError::Conflict(_))
            ),
            "a row exists"
        );
        assert!(
            matches!(
                s.put_account(&record("C.NEW", 7), None, &entry()),
                Err(StoreError::Conflict(_))
            ),
            "a row exists, whatever the case"
        );
        assert!(matches!(
            s.put_account(&other, Some(&[8; 32]), &entry()),
            Err(StoreError::Conflict(_))
        ));
        let disabled = AccountRecord {
            disabled: true,
            subject: Some("https://idp.example sub-1".into()),
            ..record("c.new", 9)
        };
        let audit = s.audit_len().unwrap();
        s.put_account(&disabled, Some(&[3; 32]), &entry()).unwrap();
        assert_eq!(s.audit_len().unwrap(), audit + 1, "with its entry");
        assert_eq!(read(&s, "c.new"), Some(disabled));
        assert_eq!(s.accounts().unwrap().len(), 1);
    }

    #[test]
    fn a_refused_request_writes_no_account_and_accounts_are_listed_by_name_without_case() {
        let (s, _db) = store();
        for (i, name) in ["c.b", "C.A", "c.c"].iter().enumerate() {
            s.put_account(&record(name, i as u8), None, &entry())
                .unwrap();
        }
        let names: Vec<String> = s.accounts().unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["C.A", "c.b", "c.c"]);
        // Changed under another case: the row keeps its name.
        s.put_account(&record("c.a", 5), Some(&[1; 32]), &entry())
            .unwrap();
        assert_eq!(read(&s, "c.a").unwrap().name, "C.A");

        s.request_account(&request("r1", "c.d"), &alert("a1"), &entry())
            .unwrap();
        let refused = AccountRequest {
            approved: Some(false),
            ..decided("r1", "c.d")
        };
        s.decide_account_request(&refused, &[1; 32], None, &alert("a2"), &entry())
            .unwrap();
        assert_eq!(s.account_request("r1").unwrap(), Some(refused));
        assert!(read(&s, "c.d").is_none());
        // A decision whose account changed meanwhile writes nothing, not even the decision.
        s.request_account(&request("r2", "c.b"), &alert("a3"), &entry())
            .unwrap();
        assert!(matches!(
            s.decide_account_request(
                &decided("r2", "c.b"),
                &[1; 32],
                Some((&record("c.b", 8), Some(&[7; 32]))),
                &alert("a4"),
                &entry()
            ),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.account_request("r2").unwrap().unwrap().approved, None);
        assert!(s.alert("a4").unwrap().is_none());
    }

    /// Two nodes decide the same request at once, and two others ask for the same new
    /// principal at once: one of each is written, the others get `Conflict`.
    #[test]
    fn two_nodes_deciding_at_once_write_one_decision() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let stores: Vec<PgStore> = (0..4).map(|_| PgStore::open(&db.url).unwrap()).collect();
        for round in 0..8 {
            let name = format!("c.n{round}");
            let outcomes: Vec<Result<(), StoreError>> = std::thread::scope(|sc| {
                let hs: Vec<_> = stores
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let name = &name;
                        sc.spawn(move || {
                            s.request_account(
                                &request(&format!("r{round}-{i}"), name),
                                &alert(&format!("a{round}-{i}")),
                                &entry(),
                            )
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let won: Vec<usize> = (0..4).filter(|i| outcomes[*i].is_ok()).collect();
            assert_eq!(won.len(), 1, "one request: {outcomes:?}");
            assert!(outcomes
                .iter()
                .all(|o| matches!(o, Ok(()) | Err(StoreError::Conflict(_)))));
            let id = format!("r{round}-{}", won[0]);
            let outcomes: Vec<Result<(), StoreError>> = std::thread::scope(|sc| {
                let hs: Vec<_> = stores
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let (id, name) = (&id, &name);
                        sc.spawn(move || {
                            s.decide_account_request(
                                &decided(id, name),
                                &[1; 32],
                                Some((&record(name, i as u8), None)),
                                &alert(&format!("d{round}-{i}")),
                                &entry(),
                            )
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let won: Vec<usize> = (0..4).filter(|i| outcomes[*i].is_ok()).collect();
            assert_eq!(won.len(), 1, "one decision: {outcomes:?}");
            assert!(outcomes
                .iter()
                .all(|o| matches!(o, Ok(()) | Err(StoreError::Conflict(_)))));
            assert_eq!(
                read(&stores[0], &name).unwrap().tag,
                Some(vec![won[0] as u8; 32])
            );
        }
    }
}
