//! The per-person index of the audit log (`audit_persons`): written in the transaction that
//! appends the entries, so it always covers the whole log; checked against the log and rebuilt
//! from it, since it is unsigned derived data.

use crate::db::{in_snapshot, in_tx, Exec, Tx};
use crate::PgStore;
use rempart_audit::{principal_day_key, AuditEntry};
use rempart_store::{AuditIndex, IndexCheck, StoreError};
use std::collections::BTreeSet;

/// Entries read per round trip when the log is scanned (check, rebuild, whole-log visits).
const PAGE: i64 = 8192;

fn parse(bytes: &[u8]) -> Result<AuditEntry, StoreError> {
    AuditEntry::parse(bytes).map_err(|_| StoreError::Corrupt("audit entry"))
}

fn snapshot<T>(
    store: &PgStore,
    what: &'static str,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    in_snapshot(&store.pool, what, f)
}

/// The index keys the entries `lo+1..=hi` name, with their positions, sorted.
fn expected_between(
    tx: &mut Tx<'_>,
    lo: i64,
    hi: i64,
) -> Result<BTreeSet<(String, i64)>, StoreError> {
    let mut out = BTreeSet::new();
    for r in tx.rows(
        "SELECT seq, entry FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        &[&lo, &hi],
        "audit index check",
    )? {
        let seq: i64 = r.get(0);
        let keys = AuditEntry::index_keys_of(r.get::<_, &[u8]>(1))
            .map_err(|_| StoreError::Corrupt("audit entry"))?;
        out.extend(keys.into_iter().map(|k| (k, seq)));
    }
    Ok(out)
}

impl AuditIndex for PgStore {
    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        snapshot(self, "audit history", |tx| {
            let mut out = Vec::new();
            let mut below = i64::MAX;
            while out.len() < limit {
                let want = (limit - out.len()) as i64;
                let rows = tx.rows(
                    "SELECT p.seq, l.entry FROM audit_persons p JOIN audit_log l ON l.seq = p.seq
                     WHERE p.person_id = $1 AND p.seq < $2 ORDER BY p.seq DESC LIMIT $3",
                    &[&person, &below, &want],
                    "audit history",
                )?;
                for r in &rows {
                    let seq: i64 = r.get(0);
                    below = seq;
                    let e = parse(r.get::<_, &[u8]>(1))?;
                    // A row added to the index by hand must not put someone else's entry in
                    // this history (`audit verify` names it).
                    if !e.persons.iter().any(|p| p == person) {
                        tracing::warn!(
                            seq,
                            "the audit index names an entry that does not name the person: skipped (run `rempart audit verify`)"
                        );
                        continue;
                    }
                    out.push((seq as u64, e));
                }
                if (rows.len() as i64) < want {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn audit_visit_principal(
        &self,
        principal: &str,
        since: i64,
        until: i64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let lo = since.div_euclid(86_400);
        let hi = until.saturating_sub(1).div_euclid(86_400);
        let matches = |e: &AuditEntry| {
            e.principal.eq_ignore_ascii_case(principal) && e.time >= since && e.time < until
        };
        // The index answers for a window with both ends, of a year at most; any other is read
        // from the whole log.
        let indexed = since > i64::MIN && until < i64::MAX && hi >= lo && hi - lo <= 366;
        snapshot(self, "principal history", |tx| {
            let mut after = 0i64;
            if indexed {
                let keys: Vec<String> = (lo..=hi)
                    .map(|d| principal_day_key(principal, d.saturating_mul(86_400)))
                    .collect();
                loop {
                    let rows = tx.rows(
                        "SELECT DISTINCT p.seq, l.entry FROM audit_persons p JOIN audit_log l ON l.seq = p.seq
                         WHERE p.person_id = ANY($1) AND p.seq > $2 ORDER BY p.seq LIMIT $3",
                        &[&keys, &after, &PAGE],
                        "principal history",
                    )?;
                    for r in &rows {
                        let seq: i64 = r.get(0);
                        after = seq;
                        let bytes = r.get::<_, &[u8]>(1);
                        // A row added to the index by hand names nobody else's entry here.
                        if matches(&parse(bytes)?) && !visit(seq as u64, bytes) {
                            return Ok(());
                        }
                    }
                    if (rows.len() as i64) < PAGE {
                        return Ok(());
                    }
                }
            }
            loop {
                let rows = tx.rows(
                    "SELECT seq, entry FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &PAGE],
                    "principal history",
                )?;
                for r in &rows {
                    let seq: i64 = r.get(0);
                    after = seq;
                    let bytes = r.get::<_, &[u8]>(1);
                    if matches(&parse(bytes)?) && !visit(seq as u64, bytes) {
                        return Ok(());
                    }
                }
                if (rows.len() as i64) < PAGE {
                    return Ok(());
                }
            }
        })
    }

    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError> {
        snapshot(self, "audit index check", |tx| {
            let len: i64 = tx
                .one(
                    "SELECT len FROM audit_head WHERE id = 1",
                    &[],
                    "read audit position",
                )?
                .get(0);
            let found = |first: Option<i64>| IndexCheck {
                through: len as u64,
                first_difference: first.map(|s| s.max(1) as u64),
            };
            let mut lo = 0i64;
            while lo < len {
                let hi = (lo + PAGE).min(len);
                let expected = expected_between(tx, lo, hi)?;
                let actual: BTreeSet<(String, i64)> = tx
                    .rows(
                        "SELECT person_id, seq FROM audit_persons WHERE seq > $1 AND seq <= $2",
                        &[&lo, &hi],
                        "audit index check",
                    )?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                if let Some(first) = expected
                    .symmetric_difference(&actual)
                    .map(|(_, s)| *s)
                    .min()
                {
                    return Ok(found(Some(first)));
                }
                progress(hi as u64, len as u64);
                lo = hi;
            }
            progress(len as u64, len as u64);
            // Rows for entries the log does not hold.
            let stray: Option<i64> = tx
                .one(
                    "SELECT MIN(seq) FROM audit_persons WHERE seq > $1 OR seq < 1",
                    &[&len],
                    "audit index check",
                )?
                .get(0);
            Ok(found(stray))
        })
    }

    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError> {
        // Emptied under the table's lock, which waits for the appends under way: every entry up
        // to the length read then is indexed again here; later ones index themselves.
        let len: i64 = in_tx(&self.pool, "reset audit index", |tx| {
            tx.exec("TRUNCATE audit_persons", &[], "reset audit index")?;
            Ok(tx
                .one(
                    "SELECT len FROM audit_head WHERE id = 1",
                    &[],
                    "read audit position",
                )?
                .get(0))
        })?;
        let mut lo = 0i64;
        while lo < len {
            let hi = (lo + PAGE).min(len);
            in_tx(&self.pool, "audit indexing", |tx| {
                let rows = expected_between(tx, lo, hi)?;
                let (keys, seqs): (Vec<String>, Vec<i64>) = rows.into_iter().unzip();
                tx.exec(
                    "INSERT INTO audit_persons (person_id, seq) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
                    &[&keys, &seqs],
                    "audit indexing",
                )
            })?;
            progress(hi as u64, len as u64);
            lo = hi;
        }
        Ok(len as u64)
    }
}
