//! Containment's alerts, raised in the transaction that suspends the principal.

use crate::db::{in_tx, Exec, Tx};
use crate::log::append_entries;
use crate::tokens::change;
use crate::PgStore;
use postgres::Row;
use rempart_audit::AuditEntry;
use rempart_store::{AlertRecord, AlertStore, PrincipalRecord, StoreError, TokenChange};

/// The columns [`row_to_alert`] reads, in its order.
macro_rules! alert_columns {
    () => {
        "id, at, principal, role, agency, token, trip, signals, people, restored_at, restored_by"
    };
}

fn row_to_alert(r: &Row) -> Result<AlertRecord, StoreError> {
    let bad = |_: postgres::Error| StoreError::Corrupt("an alert's row");
    let people: &str = r.try_get(8).map_err(bad)?;
    Ok(AlertRecord {
        id: r.try_get(0).map_err(bad)?,
        at: r.try_get(1).map_err(bad)?,
        principal: r.try_get(2).map_err(bad)?,
        role: r.try_get(3).map_err(bad)?,
        agency: r.try_get(4).map_err(bad)?,
        token: r.try_get(5).map_err(bad)?,
        trip: r.try_get(6).map_err(bad)?,
        signals: r.try_get(7).map_err(bad)?,
        people: people
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        restored_at: r.try_get(9).map_err(bad)?,
        restored_by: r.try_get(10).map_err(bad)?,
    })
}

/// Records `alert` inside `tx`.
pub(crate) fn insert_alert(tx: &mut Tx<'_>, alert: &AlertRecord) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO alerts (id, at, principal, role, agency, token, trip, signals, people, restored_at, restored_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &alert.id,
            &alert.at,
            &alert.principal,
            &alert.role,
            &alert.agency,
            &alert.token,
            &alert.trip,
            &alert.signals,
            &alert.people.join(" "),
            &alert.restored_at,
            &alert.restored_by,
        ],
        "insert alert",
    )
    .map(|_| ())
}

impl AlertStore for PgStore {
    fn raise_alert(
        &self,
        alert: &AlertRecord,
        principal: &PrincipalRecord,
        changes: &[TokenChange],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "raise alert", |tx| {
            change(tx, Some(principal), changes)?;
            insert_alert(tx, alert)?;
            append_entries(tx, audit)
        })
    }

    fn alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool
            .get()?
            .rows(
                concat!(
                    "SELECT ",
                    alert_columns!(),
                    " FROM alerts WHERE $1::text IS NULL OR seq < (SELECT seq FROM alerts WHERE id = $1) ORDER BY seq DESC LIMIT $2"
                ),
                &[&before, &limit],
                "alerts",
            )?
            .iter()
            .map(row_to_alert)
            .collect()
    }

    fn alert(&self, id: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.pool
            .get()?
            .row(
                concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1"),
                &[&id],
                "alert",
            )?
            .as_ref()
            .map(row_to_alert)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tokens::tests::{entry, store, token};
    use rempart_store::{AuditLog, TokenRecord, TokenStore};

    fn change(t: &TokenRecord, suspended: bool, tag: u8) -> TokenChange {
        TokenChange {
            id: t.id.clone(),
            expected: t.tag.clone(),
            suspended,
            revoked_at: None,
            expires_at: t.expires_at,
            tag: vec![tag; 32],
        }
    }

    fn alert(id: &str, at: i64) -> AlertRecord {
        AlertRecord {
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
        }
    }

    fn by_hash(s: &PgStore, h: u8) -> TokenRecord {
        crate::tokens::token_by_hash(&mut s.pool.get().unwrap(), &[h; 32])
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_alert_comes_with_its_suspension_and_closes_with_the_restore() {
        let (s, _db) = store();
        let t1 = token("t1", 1, "c.a");
        let t2 = token("t2", 2, "c.a");
        s.insert_token(&t1, &entry()).unwrap();
        s.insert_token(&t2, &entry()).unwrap();
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
        assert!(!by_hash(&s, 1).suspended, "nothing suspended");
        assert_eq!(s.audit_len().unwrap(), before, "nothing recorded");
        s.raise_alert(
            &alert("alr_1", 30),
            &suspended,
            &[change(&t1, true, 7), change(&t2, true, 8)],
            &[entry(), entry()],
        )
        .unwrap();
        assert_eq!(s.audit_len().unwrap(), before + 2, "with its entries");
        assert!(by_hash(&s, 1).suspended);
        assert_eq!(s.alert("alr_1").unwrap(), Some(alert("alr_1", 30)));
        let t1 = by_hash(&s, 1);
        let t2 = by_hash(&s, 2);
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
        let t1 = by_hash(&s, 1);
        let t2 = by_hash(&s, 2);
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
        assert_eq!(s.alerts(None, usize::MAX).unwrap().len(), 2);
    }

    #[test]
    fn an_alert_without_people_reads_back_without_people() {
        let (s, _db) = store();
        let mut a = alert("alr_1", 30);
        a.people = vec![];
        a.restored_at = Some(30);
        a.restored_by = Some("op.a".into());
        in_tx(&s.pool, "test", |tx| insert_alert(tx, &a)).unwrap();
        assert_eq!(s.alert("alr_1").unwrap(), Some(a));
        assert!(s.alert("alr_2").unwrap().is_none());
    }
}
