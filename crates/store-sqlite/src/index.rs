//! The audit log's per-person index in `audit-index.db`: derived data, written by a thread of
//! its own behind the log, checked against it and rebuilt from it.

use crate::conn::{db, init_index, init_index_writer, is_corrupt, ReadTx};
use crate::log::log_len;
use crate::pool::Pool;
use crate::schema::{open_pool_with, INDEX_MIGRATIONS};
use crate::{SqliteStore, AUDIT_INDEX_FILE};
use rempart_audit::{principal_day_key, AuditEntry};
use rempart_store::{AuditIndex, AuditLog, IndexCheck, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// Entries per stretch of the per-person index (`audit_persons.bucket = seq >> BUCKET_BITS`):
/// indexing touches one stretch; the history of a person reads one range per stretch.
pub(crate) const BUCKET_BITS: u32 = 14;

/// Opens the per-person index of the log. It is derived data: a file SQLite reports as corrupt
/// or as not a database is moved aside (`audit-index.db.corrupt`, kept for a look) and a new
/// one is built from the log, instead of keeping the whole store from opening.
pub(crate) fn open_index(dir: &Path) -> Result<Pool, StoreError> {
    let open = || {
        open_pool_with(
            dir,
            AUDIT_INDEX_FILE,
            INDEX_MIGRATIONS,
            init_index,
            init_index_writer,
        )
    };
    match open() {
        Err(e) if is_corrupt(&e) => {
            let file = dir.join(AUDIT_INDEX_FILE);
            let aside = dir.join(format!("{AUDIT_INDEX_FILE}.corrupt"));
            tracing::warn!(
                aside = %aside.display(),
                "the audit index is corrupt: moved aside, and built again from the log"
            );
            std::fs::rename(&file, &aside).map_err(|e| {
                StoreError::NotInitialised(format!(
                    "moving the corrupt audit index {} aside: {e}",
                    file.display()
                ))
            })?;
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{AUDIT_INDEX_FILE}{suffix}")));
            }
            open()
        }
        other => other,
    }
}

/// Empties the per-person index: it is built again from the log.
pub(crate) const RESET_INDEX: &str =
    "DELETE FROM persons; UPDATE position SET through = 0, leaf = NULL;";

/// The last entry indexed (0 for none) and its leaf.
pub(crate) fn index_position(c: &Connection) -> Result<(i64, Option<Vec<u8>>), StoreError> {
    c.prepare_cached("SELECT through, leaf FROM position WHERE id = 1")
        .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(db("read audit index position"))
}

pub(crate) fn leaf_at(log: &Connection, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
    log.prepare_cached("SELECT leaf FROM audit_log WHERE seq = ?1")
        .and_then(|mut st| st.query_row(params![seq], |r| r.get(0)).optional())
        .map_err(db("read audit leaf"))
}

/// Makes sure the index describes this log: the entry it was indexed through must still be
/// there with the same leaf. After `audit.db` was restored from an older copy (or rewritten),
/// the index is emptied, and the indexer builds it again from the log.
pub(crate) fn index_in_step(index: &Pool, log: &Pool) -> Result<(), StoreError> {
    let in_step = |ic: &Connection| -> Result<bool, StoreError> {
        let (through, leaf) = index_position(ic)?;
        if through == 0 {
            return Ok(true);
        }
        let actual = leaf_at(&*log.read().map_err(db("open reader"))?, through)?;
        Ok(actual.is_some() && actual == leaf)
    };
    // The usual case, read without taking the index's write lock.
    if in_step(&*index.read().map_err(db("open reader"))?)? {
        return Ok(());
    }
    let mut w = index.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit index reset"))?;
    if !in_step(&tx)? {
        tracing::warn!(
            "the audit index does not describe audit.db (restored from a copy?): it is built again from the log"
        );
        tx.execute_batch(RESET_INDEX)
            .map_err(db("reset audit index"))?;
    }
    tx.commit().map_err(db("commit audit index reset"))
}

/// Entries appended to the log and not yet in the per-person index.
pub(crate) fn unindexed(index: &Connection, log: &Connection) -> Result<i64, StoreError> {
    Ok(log_len(log)? - index_position(index)?.0)
}

/// The persons named by entries a writer appended and has not indexed yet: entry
/// `first + i` names `persons[i]`. Lets the writer index without reading its entries back.
#[derive(Default)]
pub(crate) struct Known {
    first: i64,
    persons: std::collections::VecDeque<Vec<String>>,
}

impl Known {
    /// Entries `first, first + 1, …` were appended, naming `persons`. Entries someone else
    /// appended in between break the run: what was known before is dropped (and read back).
    pub(crate) fn extend(&mut self, first: i64, persons: impl IntoIterator<Item = Vec<String>>) {
        if self.first + self.persons.len() as i64 != first {
            self.persons.clear();
            self.first = first;
        }
        self.persons.extend(persons);
    }

    /// Forgets everything (after a commit whose outcome is unknown).
    pub(crate) fn clear(&mut self) {
        self.persons.clear();
    }

    /// The last entry known, if any.
    pub(crate) fn last(&self) -> Option<i64> {
        (!self.persons.is_empty()).then(|| self.first + self.persons.len() as i64 - 1)
    }

    /// The persons of entries `lo..=hi` if all are known; everything up to `hi` is forgotten
    /// either way.
    pub(crate) fn take(&mut self, lo: i64, hi: i64) -> Option<Vec<(i64, Vec<String>)>> {
        let end = self.first + self.persons.len() as i64;
        let covered = self.first <= lo && hi < end;
        let mut out = Vec::new();
        while self.first <= hi {
            let Some(p) = self.persons.pop_front() else {
                break;
            };
            if covered && self.first >= lo {
                out.push((self.first, p));
            }
            self.first += 1;
        }
        covered.then_some(out)
    }
}

/// Adds up to `limit` entries of the log (read in one transaction on `log`), and none past
/// entry `through` when given, to the per-person index (in its transaction `tx`), sorted by person so that each index page is written once
/// per batch rather than once per request. The index is derived data: the entries themselves
/// were committed before any data left. The persons of entries in `known` are taken from
/// there; the others are read back from the log.
pub(crate) fn index_pending(
    tx: &rusqlite::Transaction<'_>,
    log: &Connection,
    limit: usize,
    through: Option<i64>,
    known: &mut Known,
) -> Result<usize, StoreError> {
    let (from, _) = index_position(tx)?;
    let to = log_len(log)?
        .min(from + limit as i64)
        .min(through.unwrap_or(i64::MAX));
    if to <= from {
        return Ok(0);
    }
    let mut rows: Vec<(i64, String, i64)> = Vec::new();
    if let Some(entries) = known.take(from + 1, to) {
        for (seq, persons) in entries {
            rows.extend(persons.into_iter().map(|p| (seq >> BUCKET_BITS, p, seq)));
        }
    } else {
        let mut st = log
            .prepare_cached(
                "SELECT seq, entry FROM audit_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
            )
            .map_err(db("prepare audit indexing"))?;
        let mut q = st.query(params![from, to]).map_err(db("audit indexing"))?;
        while let Some(r) = q.next().map_err(db("audit indexing"))? {
            let seq: i64 = r.get(0).map_err(db("audit indexing"))?;
            let bytes = r
                .get_ref(1)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit indexing"))?;
            let persons =
                AuditEntry::index_keys_of(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
            rows.extend(persons.into_iter().map(|p| (seq >> BUCKET_BITS, p, seq)));
        }
    }
    rows.sort_unstable();
    rows.dedup();
    let leaf = leaf_at(log, to)?.ok_or(StoreError::Corrupt("audit log has a gap"))?;
    let mut ins = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO persons (bucket, person_id, seq) VALUES (?1, ?2, ?3)",
        )
        .map_err(db("prepare audit index"))?;
    for (bucket, p, seq) in &rows {
        ins.execute(params![bucket, p, seq])
            .map_err(db("index audit entry"))?;
    }
    tx.execute(
        "UPDATE position SET through = ?1, leaf = ?2 WHERE id = 1",
        params![to, leaf],
    )
    .map_err(db("advance audit index"))?;
    Ok((to - from) as usize)
}

/// The persons the index records for the entries of stretch `bucket` up to `through`, against
/// `expected`, the persons those entries name (sorted, without repeats): the first entry where
/// they differ.
pub(crate) fn first_difference(
    expected: Vec<(String, i64)>,
    index: &Connection,
    bucket: i64,
    through: i64,
) -> Result<Option<i64>, StoreError> {
    let actual: Vec<(String, i64)> = index
        .prepare_cached(
            "SELECT person_id, seq FROM persons WHERE bucket = ?1 AND seq <= ?2
             ORDER BY person_id, seq",
        )
        .and_then(|mut st| {
            st.query_map(params![bucket, through], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db("read audit index"))?;
    if actual == expected {
        return Ok(None);
    }
    let (a, e): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
        (actual.iter().collect(), expected.iter().collect());
    Ok(a.symmetric_difference(&e).map(|(_, seq)| *seq).min())
}

/// [`Store::check_audit_index`] on a snapshot of the index and one of the log.
pub(crate) fn check_index(
    index: &Connection,
    log: &Connection,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<IndexCheck, StoreError> {
    let (through, leaf) = index_position(index)?;
    let len = log_len(log)?;
    let found = |first: Option<i64>| IndexCheck {
        through: through.max(0) as u64,
        first_difference: first.map(|s| s.max(1) as u64),
    };
    if through > len || (through > 0 && leaf_at(log, through)? != leaf) {
        // Not this log's index (it is emptied and rebuilt at the next opening).
        return Ok(found(Some(through.min(len + 1))));
    }
    let mut expected: Vec<(String, i64)> = Vec::new();
    let mut rows: i64 = 0;
    let mut bucket = 0i64;
    {
        let mut st = log
            .prepare_cached("SELECT seq, entry FROM audit_log WHERE seq <= ?1 ORDER BY seq")
            .map_err(db("prepare audit index check"))?;
        let mut q = st
            .query(params![through])
            .map_err(db("audit index check"))?;
        while let Some(r) = q.next().map_err(db("audit index check"))? {
            let seq: i64 = r.get(0).map_err(db("audit index check"))?;
            if seq >> BUCKET_BITS != bucket {
                expected.sort_unstable();
                expected.dedup();
                rows += expected.len() as i64;
                if let Some(d) =
                    first_difference(std::mem::take(&mut expected), index, bucket, through)?
                {
                    return Ok(found(Some(d)));
                }
                progress(seq as u64 - 1, through as u64);
                bucket = seq >> BUCKET_BITS;
            }
            let bytes = r
                .get_ref(1)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit index check"))?;
            let persons =
                AuditEntry::index_keys_of(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
            expected.extend(persons.into_iter().map(|p| (p, seq)));
        }
    }
    expected.sort_unstable();
    expected.dedup();
    rows += expected.len() as i64;
    if let Some(d) = first_difference(expected, index, bucket, through)? {
        return Ok(found(Some(d)));
    }
    progress(through as u64, through as u64);
    // Every stretch matched; rows anywhere else (past the position, or in another stretch than
    // their entry's) are extra.
    let total: i64 = index
        .query_row("SELECT COUNT(*) FROM persons", [], |r| r.get(0))
        .map_err(db("read audit index"))?;
    if total != rows {
        let stray: Option<i64> = index
            .query_row(
                "SELECT MIN(seq) FROM persons WHERE seq > ?1 OR bucket != (seq >> ?2)",
                params![through, BUCKET_BITS],
                |r| r.get(0),
            )
            .map_err(db("read audit index"))?;
        return Ok(found(Some(stray.unwrap_or(through + 1))));
    }
    Ok(found(None))
}

impl AuditIndex for SqliteStore {
    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        // The index's snapshot first, then the log's: everything indexed is in the log already
        // (the indexer reads only committed entries), so the indexed part and the scanned tail
        // meet exactly.
        let ic = self.index.read().map_err(db("open reader"))?;
        let itx = ReadTx::begin(&ic).map_err(db("begin history"))?;
        let c = self.log.read().map_err(db("open reader"))?;
        let tx = ReadTx::begin(&c).map_err(db("begin history"))?;
        let (through, _) = index_position(&itx)?;
        let through = through.min(log_len(&tx)?);
        let mut out = Vec::new();
        {
            let mut tail = tx
                .prepare_cached("SELECT seq, entry FROM audit_log WHERE seq > ?1 ORDER BY seq DESC")
                .map_err(db("prepare audit tail"))?;
            let mut q = tail.query(params![through]).map_err(db("audit tail"))?;
            while let Some(r) = q.next().map_err(db("audit tail"))? {
                let seq: i64 = r.get(0).map_err(db("audit tail"))?;
                let bytes = r
                    .get_ref(1)
                    .and_then(|v| v.as_blob().map_err(Into::into))
                    .map_err(db("audit tail"))?;
                let e = AuditEntry::parse(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
                if out.len() < limit && e.persons.iter().any(|p| p == person) {
                    out.push((seq as u64, e));
                }
            }
        }
        // The indexed part, newest stretch first, until `limit`.
        let mut seqs = itx
            .prepare_cached(
                "SELECT seq FROM persons WHERE bucket = ?1 AND person_id = ?2 AND seq <= ?3
                 ORDER BY seq DESC LIMIT ?4",
            )
            .map_err(db("prepare audit history"))?;
        let mut entry = tx
            .prepare_cached("SELECT entry FROM audit_log WHERE seq = ?1")
            .map_err(db("prepare audit history"))?;
        let mut bucket = through >> BUCKET_BITS;
        while bucket >= 0 && out.len() < limit {
            let found: Vec<i64> = seqs
                .query_map(
                    params![bucket, person, through, (limit - out.len()) as i64],
                    |r| r.get(0),
                )
                .and_then(Iterator::collect)
                .map_err(db("audit history"))?;
            for seq in found {
                let bytes: Vec<u8> = entry
                    .query_row(params![seq], |r| r.get(0))
                    .optional()
                    .map_err(db("audit history"))?
                    .ok_or(StoreError::Corrupt(
                        "audit index names an entry not in the log",
                    ))?;
                let e =
                    AuditEntry::parse(&bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
                // A row added to the index by hand must not put someone else's entry in this
                // history (`audit verify` names it).
                if !e.persons.iter().any(|p| p == person) {
                    tracing::warn!(
                        seq,
                        "the audit index names an entry that does not name the person: skipped (run `rempart audit verify`)"
                    );
                    continue;
                }
                out.push((seq as u64, e));
            }
            bucket -= 1;
        }
        Ok(out)
    }

    fn audit_visit_principal(
        &self,
        principal: &str,
        since: i64,
        until: i64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // The index's snapshot first, then the log's, as for a person's history.
        let ic = self.index.read().map_err(db("open reader"))?;
        let itx = ReadTx::begin(&ic).map_err(db("begin principal history"))?;
        let c = self.log.read().map_err(db("open reader"))?;
        let tx = ReadTx::begin(&c).map_err(db("begin principal history"))?;
        let (through, _) = index_position(&itx)?;
        let through = through.min(log_len(&tx)?);
        let mut entry = tx
            .prepare_cached("SELECT entry FROM audit_log WHERE seq = ?1")
            .map_err(db("prepare principal history"))?;
        // The days of the window: the index answers for a window with both ends, of a year at
        // most; any other is read from the whole log.
        let lo = since.div_euclid(86_400);
        let hi = until.saturating_sub(1).div_euclid(86_400);
        let matches = |e: &AuditEntry| {
            e.principal.eq_ignore_ascii_case(principal) && e.time >= since && e.time < until
        };
        let indexed = since > i64::MIN && until < i64::MAX && hi >= lo && hi - lo <= 366;
        let mut seqs: Vec<i64> = Vec::new();
        if indexed {
            let mut rows = itx
                .prepare_cached(
                    "SELECT seq FROM persons WHERE bucket = ?1 AND person_id = ?2 AND seq <= ?3",
                )
                .map_err(db("prepare principal history"))?;
            let keys: Vec<String> = (lo..=hi)
                .map(|d| principal_day_key(principal, d.saturating_mul(86_400)))
                .collect();
            for bucket in 0..=(through >> BUCKET_BITS) {
                for key in &keys {
                    let found = rows
                        .query_map(params![bucket, key, through], |r| r.get::<_, i64>(0))
                        .map_err(db("principal history"))?;
                    for seq in found {
                        seqs.push(seq.map_err(db("principal history"))?);
                    }
                }
            }
            seqs.sort_unstable();
            seqs.dedup();
        }
        let mut go_on = true;
        if indexed {
            for seq in seqs {
                let bytes: Vec<u8> = entry
                    .query_row(params![seq], |r| r.get(0))
                    .optional()
                    .map_err(db("principal history"))?
                    .ok_or(StoreError::Corrupt(
                        "audit index names an entry not in the log",
                    ))?;
                let e =
                    AuditEntry::parse(&bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
                // A row added to the index by hand names nobody else's entry here.
                if matches(&e) && !visit(seq as u64, &bytes) {
                    go_on = false;
                    break;
                }
            }
        }
        // The unindexed tail, or the whole log when the window is too long for the index.
        if go_on {
            let from = if indexed { through } else { 0 };
            let mut tail = tx
                .prepare_cached("SELECT seq, entry FROM audit_log WHERE seq > ?1 ORDER BY seq")
                .map_err(db("prepare principal history"))?;
            let mut q = tail.query(params![from]).map_err(db("principal history"))?;
            while let Some(r) = q.next().map_err(db("principal history"))? {
                let seq: i64 = r.get(0).map_err(db("principal history"))?;
                let bytes = r
                    .get_ref(1)
                    .and_then(|v| v.as_blob().map_err(Into::into))
                    .map_err(db("principal history"))?;
                let e = AuditEntry::parse(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
                if matches(&e) && !visit(seq as u64, bytes) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError> {
        // The index's snapshot first, then the log's: everything indexed is in the log.
        let ic = self.index.read().map_err(db("open reader"))?;
        let itx = ReadTx::begin(&ic).map_err(db("begin audit index check"))?;
        let c = self.log.read().map_err(db("open reader"))?;
        let tx = ReadTx::begin(&c).map_err(db("begin audit index check"))?;
        let checked = check_index(&ic, &c, progress)?;
        tx.finish().map_err(db("end audit index check"))?;
        itx.finish().map_err(db("end audit index check"))?;
        Ok(checked)
    }

    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError> {
        {
            let mut w = self.index.write();
            let tx = w
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("begin audit index reset"))?;
            tx.execute_batch(RESET_INDEX)
                .map_err(db("reset audit index"))?;
            tx.commit().map_err(db("commit audit index reset"))?;
        }
        let total = self.audit_len()?;
        let mut known = Known::default();
        loop {
            let done = {
                let reader = self.log.read().map_err(db("open reader"))?;
                let rtx = ReadTx::begin(&reader).map_err(db("begin audit indexing"))?;
                let mut w = self.index.write();
                let tx = w
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(db("begin audit indexing"))?;
                let n = index_pending(&tx, &reader, 50_000, None, &mut known)?;
                tx.commit().map_err(db("commit audit indexing"))?;
                rtx.finish().map_err(db("end audit indexing"))?;
                n
            };
            let (through, _) = index_position(&*self.index.read().map_err(db("open reader"))?)?;
            progress((through.max(0) as u64).min(total), total);
            if done == 0 {
                return Ok(through.max(0) as u64);
            }
        }
    }
}
