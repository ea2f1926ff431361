//! Files in `vault.db`: sealed categories, blind indexes, caseloads and enrolments.

use crate::conn::{db, ReadTx};
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_domain::Category;
use rempart_store::{
    FactsChange, FileStore, IndexEntry, ListScope, NewPerson, PersonUpdate, StoreError,
    StoredPerson,
};
use rusqlite::{params, Connection, OptionalExtension};

pub(crate) const COLUMNS: &str = "id, agency, counsellor, dk_version, identity, social_security, agency_ids, contact, situation, education, professional, followup, legal_representatives, facts_tag, decoy";

pub(crate) fn row_to_person(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPerson> {
    let mut fields = Vec::new();
    for (i, c) in Category::ALL.iter().enumerate() {
        if let Some(b) = r.get::<_, Option<Vec<u8>>>(4 + i)? {
            fields.push((*c, b));
        }
    }
    Ok(StoredPerson {
        id: r.get(0)?,
        agency: r.get(1)?,
        counsellor: r.get(2)?,
        partners: Vec::new(),
        dk_version: r.get(3)?,
        fields,
        facts_tag: r.get(4 + Category::ALL.len())?,
        decoy: r.get(5 + Category::ALL.len())?,
    })
}

/// Fills in the partners a file is enrolled with.
pub(crate) fn with_partners(
    c: &rusqlite::Connection,
    mut p: StoredPerson,
) -> Result<StoredPerson, StoreError> {
    let mut st = c
        .prepare_cached("SELECT partner FROM enrolments WHERE person_id = ?1 ORDER BY partner")
        .map_err(db("prepare enrolments"))?;
    let rows = st
        .query_map(params![p.id], |r| r.get(0))
        .map_err(db("read enrolments"))?;
    p.partners = rows
        .collect::<Result<_, _>>()
        .map_err(db("read enrolments"))?;
    Ok(p)
}

/// The blind-index entries of a file, kept in its row so that they can be removed by exact
/// key (keyed hashes only, no plaintext): `kind (1 byte) ‖ hash (32 bytes)` repeated.
pub(crate) fn encode_entries(entries: &[IndexEntry]) -> Vec<u8> {
    let mut v = Vec::with_capacity(entries.len() * 33);
    for (k, h) in entries {
        v.push(*k as u8);
        v.extend_from_slice(h);
    }
    v
}

pub(crate) fn decode_entries(b: &[u8]) -> Result<Vec<IndexEntry>, StoreError> {
    if !b.len().is_multiple_of(33) {
        return Err(StoreError::Corrupt("index entries length"));
    }
    Ok(b.chunks_exact(33)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&c[1..]);
            (i64::from(c[0]), h)
        })
        .collect())
}

pub(crate) const INSERT_INDEX: &str =
    "INSERT OR IGNORE INTO blind_index (kind, hash, person_id) VALUES (?1, ?2, ?3)";
pub(crate) const DELETE_INDEX: &str =
    "DELETE FROM blind_index WHERE kind = ?1 AND hash = ?2 AND person_id = ?3";

pub(crate) fn remove_entries(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<(), StoreError> {
    let old: Option<Vec<u8>> = tx
        .query_row(
            "SELECT index_entries FROM persons WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("read index entries"))?;
    let mut del = tx
        .prepare_cached(DELETE_INDEX)
        .map_err(db("prepare index delete"))?;
    for (kind, hash) in decode_entries(&old.unwrap_or_default())? {
        del.execute(params![kind, &hash[..], id])
            .map_err(db("delete index"))?;
    }
    Ok(())
}

/// Writes a file's new facts tag, only if the row still holds the one the change was computed
/// from; otherwise `Conflict` (the caller's transaction is rolled back when dropped).
pub(crate) fn set_facts_tag(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    f: &FactsChange,
) -> Result<(), StoreError> {
    let n = tx
        .execute(
            "UPDATE persons SET facts_tag = ?1 WHERE id = ?2 AND facts_tag IS ?3",
            params![f.tag, id, f.expected],
        )
        .map_err(db("tag file facts"))?;
    if n == 0 {
        return Err(StoreError::Conflict("the file"));
    }
    Ok(())
}

/// A file by id, with its enrolments, read in one transaction (or in the snapshot the
/// connection is in).
pub(crate) fn get_person(c: &Connection, id: &str) -> Result<Option<StoredPerson>, StoreError> {
    // One read transaction for the row and its enrolments: one snapshot, and one start of a
    // transaction instead of one per statement.
    let tx = ReadTx::begin(c).map_err(db("begin read"))?;
    let found = {
        let mut st = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM persons WHERE id = ?1"))
            .map_err(db("prepare read"))?;
        st.query_row(params![id], row_to_person)
            .optional()
            .map_err(db("read file"))?
    };
    let found = found.map(|p| with_partners(&tx, p)).transpose()?;
    tx.finish().map_err(db("end read"))?;
    Ok(found)
}

/// Inserts files and their blind-index entries inside `tx`.
pub(crate) fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    persons: &[NewPerson],
) -> Result<(), StoreError> {
    let cols: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let sql = format!(
        "INSERT INTO persons (id, agency, counsellor, dk_version, created_at, updated_at, index_entries, facts_tag, decoy, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, {})",
        cols.join(", "),
        (9..9 + cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
    );
    let mut ins = tx.prepare_cached(&sql).map_err(db("prepare insert"))?;
    // Sorted inserts touch each B-tree page once instead of at random.
    let mut sorted: Vec<&NewPerson> = persons.iter().collect();
    sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    for p in sorted {
        let mut values: Vec<Option<&[u8]>> = vec![None; Category::ALL.len()];
        for (c, b) in &p.fields {
            if let Some(pos) = Category::ALL.iter().position(|x| x == c) {
                values[pos] = Some(b.as_slice());
            }
        }
        let entries = encode_entries(&p.index);
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![
            &p.id,
            &p.agency,
            &p.counsellor,
            &p.dk_version,
            &p.now,
            &entries,
            &p.facts_tag,
            &p.decoy,
        ];
        for v in &values {
            params.push(v);
        }
        ins.execute(params.as_slice()).map_err(db("insert file"))?;
    }
    let mut idx = tx
        .prepare_cached(INSERT_INDEX)
        .map_err(db("prepare index insert"))?;
    let mut entries: Vec<(i64, &[u8; 32], &str)> = persons
        .iter()
        .flat_map(|p| p.index.iter().map(move |(k, h)| (*k, h, p.id.as_str())))
        .collect();
    entries.sort_unstable();
    for (kind, hash, id) in entries {
        idx.execute(params![kind, &hash[..], id])
            .map_err(db("insert index"))?;
    }
    Ok(())
}

impl FileStore for SqliteStore {
    fn insert_persons(
        &self,
        persons: &[NewPerson],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin insert"))?;
        outbox(&tx, audit)?;
        insert_rows(&tx, persons)?;
        tx.commit().map_err(db("commit insert"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn update_person(
        &self,
        id: &str,
        agency: &str,
        u: &PersonUpdate,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin update"))?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM persons WHERE id = ?1 AND agency = ?2",
                params![id, agency],
                |_| Ok(()),
            )
            .optional()
            .map_err(db("find file"))?;
        if exists.is_none() {
            return Ok(false);
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        remove_entries(&tx, id)?;
        for (c, v) in &u.fields {
            // Column names come from the Category enum, never from input.
            tx.execute(
                &format!("UPDATE persons SET {} = ?1 WHERE id = ?2", c.as_str()),
                params![v, id],
            )
            .map_err(db("update category"))?;
        }
        tx.execute(
            "UPDATE persons SET updated_at = ?1, index_entries = ?2 WHERE id = ?3",
            params![u.now, encode_entries(&u.index), id],
        )
        .map_err(db("update file"))?;
        if let Some(counsellor) = &u.counsellor {
            tx.execute(
                "UPDATE persons SET counsellor = ?1 WHERE id = ?2",
                params![counsellor, id],
            )
            .map_err(db("assign counsellor"))?;
        }
        if let Some(f) = &u.facts {
            set_facts_tag(&tx, id, f)?;
        }
        {
            let mut idx = tx
                .prepare_cached(INSERT_INDEX)
                .map_err(db("prepare index insert"))?;
            for (kind, hash) in &u.index {
                idx.execute(params![kind, &hash[..], id])
                    .map_err(db("insert index"))?;
            }
        }
        tx.commit().map_err(db("commit update"))?;
        drop(w);
        self.settle();
        Ok(true)
    }

    fn delete_person(&self, id: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin delete"))?;
        outbox(&tx, std::slice::from_ref(audit))?;
        remove_entries(&tx, id)?;
        tx.execute("DELETE FROM enrolments WHERE person_id = ?1", params![id])
            .map_err(db("delete enrolments"))?;
        let n = tx
            .execute("DELETE FROM persons WHERE id = ?1", params![id])
            .map_err(db("delete file"))?;
        tx.commit().map_err(db("commit delete"))?;
        drop(w);
        self.settle();
        Ok(n > 0)
    }

    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let limit = limit as i64;
        let rows: Vec<String> = match scope {
            ListScope::Agency(agency) => {
                let mut st = c
                    .prepare_cached(
                        "SELECT b.person_id FROM blind_index b JOIN persons p ON p.id = b.person_id WHERE b.kind = ?1 AND b.hash = ?2 AND p.agency = ?3 ORDER BY b.person_id LIMIT ?4",
                    )
                    .map_err(db("prepare search"))?;
                let rows = st
                    .query_map(params![kind, &hash[..], agency, limit], |r| r.get(0))
                    .map_err(db("search"))?;
                rows.collect::<Result<_, _>>().map_err(db("search"))?
            }
            ListScope::Caseload { agency, counsellor } => {
                let mut st = c
                    .prepare_cached(
                        "SELECT b.person_id FROM blind_index b JOIN persons p ON p.id = b.person_id WHERE b.kind = ?1 AND b.hash = ?2 AND p.agency = ?3 AND p.counsellor = ?4 ORDER BY b.person_id LIMIT ?5",
                    )
                    .map_err(db("prepare search"))?;
                let rows = st
                    .query_map(params![kind, &hash[..], agency, counsellor, limit], |r| {
                        r.get(0)
                    })
                    .map_err(db("search"))?;
                rows.collect::<Result<_, _>>().map_err(db("search"))?
            }
            ListScope::Enrolled(partner) => {
                let mut st = c
                    .prepare_cached(
                        "SELECT b.person_id FROM blind_index b JOIN enrolments e ON e.person_id = b.person_id WHERE b.kind = ?1 AND b.hash = ?2 AND e.partner = ?3 ORDER BY b.person_id LIMIT ?4",
                    )
                    .map_err(db("prepare search"))?;
                let rows = st
                    .query_map(params![kind, &hash[..], partner, limit], |r| r.get(0))
                    .map_err(db("search"))?;
                rows.collect::<Result<_, _>>().map_err(db("search"))?
            }
        };
        Ok(rows)
    }

    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        let conn = self.pool.read().map_err(db("open reader"))?;
        // One read transaction for the page and the enrolments of its files.
        let c = ReadTx::begin(&conn).map_err(db("begin read"))?;
        let after = after.unwrap_or("");
        let limit = limit as i64;
        let rows: Vec<StoredPerson> = match scope {
            ListScope::Agency(agency) => {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM persons WHERE agency = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                    ))
                    .map_err(db("prepare list"))?;
                let rows = st
                    .query_map(params![agency, after, limit], row_to_person)
                    .map_err(db("list"))?;
                rows.collect::<Result<_, _>>().map_err(db("list"))?
            }
            ListScope::Caseload { agency, counsellor } => {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM persons WHERE agency = ?1 AND counsellor = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
                    ))
                    .map_err(db("prepare caseload"))?;
                let rows = st
                    .query_map(params![agency, counsellor, after, limit], row_to_person)
                    .map_err(db("caseload"))?;
                rows.collect::<Result<_, _>>().map_err(db("caseload"))?
            }
            ListScope::Enrolled(partner) => {
                let cols = COLUMNS
                    .split(", ")
                    .map(|x| format!("p.{x}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {cols} FROM enrolments e JOIN persons p ON p.id = e.person_id WHERE e.partner = ?1 AND e.person_id > ?2 ORDER BY e.person_id LIMIT ?3"
                    ))
                    .map_err(db("prepare enrolled"))?;
                let rows = st
                    .query_map(params![partner, after, limit], row_to_person)
                    .map_err(db("enrolled"))?;
                rows.collect::<Result<_, _>>().map_err(db("enrolled"))?
            }
        };
        let rows = rows
            .into_iter()
            .map(|p| with_partners(&c, p))
            .collect::<Result<Vec<_>, _>>()?;
        c.finish().map_err(db("end read"))?;
        Ok(rows)
    }

    fn caseload_backfill(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let pending: i64 = c
            .query_row(
                "SELECT COALESCE((SELECT value FROM audit_meta WHERE key = 'caseloads_from_followup'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(db("read backfill flag"))?;
        if pending == 0 {
            return Ok(Vec::new());
        }
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM persons WHERE counsellor IS NULL AND followup IS NOT NULL AND id > ?1 ORDER BY id LIMIT ?2"
            ))
            .map_err(db("prepare backfill"))?;
        let rows = st
            .query_map(params![after.unwrap_or(""), limit as i64], row_to_person)
            .map_err(db("backfill"))?;
        rows.collect::<Result<_, _>>().map_err(db("backfill"))
    }

    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin backfill"))?;
        if !assignments.is_empty() {
            outbox(&tx, std::slice::from_ref(audit))?;
        }
        for (id, counsellor) in assignments {
            tx.execute(
                "UPDATE persons SET counsellor = ?1 WHERE id = ?2 AND counsellor IS NULL",
                params![counsellor, id],
            )
            .map_err(db("backfill caseload"))?;
        }
        if done {
            tx.execute(
                "UPDATE audit_meta SET value = 0 WHERE key = 'caseloads_from_followup'",
                [],
            )
            .map_err(db("finish backfill"))?;
        }
        tx.commit().map_err(db("commit backfill"))?;
        drop(w);
        if !assignments.is_empty() {
            self.settle();
        }
        Ok(())
    }

    fn set_enrolment(
        &self,
        person: &str,
        partner: &str,
        enrolled: bool,
        facts: &FactsChange,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin enrolment"))?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM persons WHERE id = ?1",
                params![person],
                |_| Ok(()),
            )
            .optional()
            .map_err(db("find file"))?;
        if exists.is_none() {
            return Ok(false);
        }
        let changed = if enrolled {
            tx.execute(
                "INSERT OR IGNORE INTO enrolments (person_id, partner, since) VALUES (?1, ?2, ?3)",
                params![person, partner, now],
            )
            .map_err(db("enrol"))?
        } else {
            tx.execute(
                "DELETE FROM enrolments WHERE person_id = ?1 AND partner = ?2",
                params![person, partner],
            )
            .map_err(db("end enrolment"))?
        };
        if changed == 0 {
            return Ok(false);
        }
        set_facts_tag(&tx, person, facts)?;
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit enrolment"))?;
        drop(w);
        self.settle();
        Ok(true)
    }

    fn count_persons(&self) -> Result<u64, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row("SELECT COUNT(*) FROM persons WHERE decoy = 0", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(db("count"))
    }

    fn agencies(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare(
                "SELECT agency, SUM(decoy) FROM persons GROUP BY agency HAVING SUM(1 - decoy) > 0 ORDER BY agency",
            )
            .map_err(db("agencies"))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(db("agencies"))?;
        rows.collect::<Result<_, _>>().map_err(db("agencies"))
    }
}
