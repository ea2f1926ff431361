//! Files: sealed categories, blind indexes, caseloads and enrolments.
//!
//! Every write act is one transaction that ends by appending its audit entries
//! ([`append_entries`]): the act and its entries commit together or not at all. A write that
//! reads a file before it changes it (its blind-index entries, its facts tag, whether it
//! exists) first locks the file's row (`SELECT … FOR UPDATE`), so that acts on one file from
//! several nodes happen one after the other, as they did behind SQLite's single writer; the
//! file's row is the first lock such a transaction takes, the sequencer's the last.
//!
//! A file is read with its enrolments in one statement (one snapshot, one round trip), also
//! when a page of files is listed. Ids, agencies, logins and partners compare and sort byte by
//! byte (`COLLATE "C"` in the schema), as SQLite's do.

use crate::db::{in_tx, Exec, Tx};
use crate::log::append_entries;
use crate::PgStore;
use postgres::types::{FromSql, ToSql};
use postgres::Row;
use rempart_audit::AuditEntry;
use rempart_domain::Category;
use rempart_store::{
    FactsChange, FileStore, IndexEntry, ListScope, NewPerson, PersonUpdate, StoreError,
    StoredPerson,
};

/// The sealed columns of `persons`, one per category, in the order of [`Category::ALL`]. A
/// macro, so that statements (`&'static str`) are written with `concat!`.
macro_rules! category_columns {
    () => {
        "identity, social_security, agency_ids, contact, situation, education, professional, followup, legal_representatives"
    };
}

/// What [`person_of`] reads of a file, from `persons p`: its row, then the partners it is
/// enrolled with, in order (no other table of the statement may be named `en`).
macro_rules! person_columns {
    () => {
        concat!(
            "p.id, p.agency, p.counsellor, p.dk_version, ",
            category_columns!(),
            ", p.facts_tag, p.decoy, ",
            "ARRAY(SELECT en.partner FROM enrolments en WHERE en.person_id = p.id ORDER BY en.partner)"
        )
    };
}

fn corrupt(_: postgres::Error) -> StoreError {
    StoreError::Corrupt("a file")
}

fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i).map_err(corrupt)
}

/// A file from a row of [`person_columns!`].
pub(crate) fn person_of(r: &Row) -> Result<StoredPerson, StoreError> {
    let n = Category::ALL.len();
    let mut fields = Vec::new();
    for (i, c) in Category::ALL.iter().enumerate() {
        if let Some(b) = col::<Option<Vec<u8>>>(r, 4 + i)? {
            fields.push((*c, b));
        }
    }
    Ok(StoredPerson {
        id: col(r, 0)?,
        agency: col(r, 1)?,
        counsellor: col(r, 2)?,
        partners: col(r, 6 + n)?,
        dk_version: u32::try_from(col::<i64>(r, 3)?)
            .map_err(|_| StoreError::Corrupt("a file's key version"))?,
        fields,
        facts_tag: col(r, 4 + n)?,
        decoy: col(r, 5 + n)?,
    })
}

/// A file by id, with its enrolments, read in one statement (one snapshot, or the snapshot
/// of the transaction `c` is in). For `Reads` and its snapshots.
pub(crate) fn get_person(c: &mut impl Exec, id: &str) -> Result<Option<StoredPerson>, StoreError> {
    c.row(
        concat!(
            "SELECT ",
            person_columns!(),
            " FROM persons p WHERE p.id = $1"
        ),
        &[&id],
        "read file",
    )?
    .as_ref()
    .map(person_of)
    .transpose()
}

/// The blind-index entries of a file, kept in its row so that they can be removed by exact
/// key (keyed hashes only, no plaintext): `kind (1 byte) ‖ hash (32 bytes)` repeated; the
/// layout of the SQLite store.
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

/// Adds blind-index entries `(kind, hash, person)` (one already there is kept), in one
/// statement, in key order.
fn index(tx: &mut Tx<'_>, mut entries: Vec<(i64, &[u8; 32], &str)>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    entries.sort_unstable();
    let kinds: Vec<i64> = entries.iter().map(|e| e.0).collect();
    let hashes: Vec<&[u8]> = entries.iter().map(|e| &e.1[..]).collect();
    let ids: Vec<&str> = entries.iter().map(|e| e.2).collect();
    tx.exec(
        "INSERT INTO blind_index (kind, hash, person_id) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[]) ON CONFLICT DO NOTHING",
        &[&kinds, &hashes, &ids],
        "insert index",
    )
    .map(|_| ())
}

/// Removes the blind-index entries `entries` of file `id`, in one statement.
fn unindex(tx: &mut Tx<'_>, id: &str, entries: &[&IndexEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let kinds: Vec<i64> = entries.iter().map(|e| e.0).collect();
    let hashes: Vec<&[u8]> = entries.iter().map(|e| &e.1[..]).collect();
    tx.exec(
        "DELETE FROM blind_index b USING unnest($1::bigint[], $2::bytea[]) AS o(kind, hash) WHERE b.kind = o.kind AND b.hash = o.hash AND b.person_id = $3",
        &[&kinds, &hashes, &id],
        "delete index",
    )
    .map(|_| ())
}

/// Writes a file's new facts tag, only if the row still holds the one the change was computed
/// from; otherwise `Conflict` (and the caller's transaction, failing, keeps nothing).
pub(crate) fn set_facts_tag(tx: &mut Tx<'_>, id: &str, f: &FactsChange) -> Result<(), StoreError> {
    let n = tx.exec(
        "UPDATE persons SET facts_tag = $1 WHERE id = $2 AND facts_tag IS NOT DISTINCT FROM $3",
        &[&f.tag, &id, &f.expected],
        "tag file facts",
    )?;
    if n == 0 {
        return Err(StoreError::Conflict("the file"));
    }
    Ok(())
}

/// Inserts files and their blind-index entries inside `tx`: one statement for the files, one
/// for their entries, in id order.
pub(crate) fn insert_rows(tx: &mut Tx<'_>, persons: &[NewPerson]) -> Result<(), StoreError> {
    if persons.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&NewPerson> = persons.iter().collect();
    sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let n = sorted.len();
    let ids: Vec<&str> = sorted.iter().map(|p| p.id.as_str()).collect();
    let agencies: Vec<&str> = sorted.iter().map(|p| p.agency.as_str()).collect();
    let counsellors: Vec<Option<&str>> = sorted.iter().map(|p| p.counsellor.as_deref()).collect();
    let versions: Vec<i64> = sorted.iter().map(|p| i64::from(p.dk_version)).collect();
    let times: Vec<i64> = sorted.iter().map(|p| p.now).collect();
    let entries: Vec<Vec<u8>> = sorted.iter().map(|p| encode_entries(&p.index)).collect();
    let tags: Vec<&[u8]> = sorted.iter().map(|p| p.facts_tag.as_slice()).collect();
    let decoys: Vec<bool> = sorted.iter().map(|p| p.decoy).collect();
    // One array per category; a category given twice keeps its last value.
    let mut sealed: Vec<Vec<Option<&[u8]>>> = vec![vec![None; n]; Category::ALL.len()];
    for (j, p) in sorted.iter().enumerate() {
        for (c, b) in &p.fields {
            if let Some(i) = Category::ALL.iter().position(|x| x == c) {
                sealed[i][j] = Some(b.as_slice());
            }
        }
    }
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![
        &ids,
        &agencies,
        &counsellors,
        &versions,
        &times,
        &entries,
        &tags,
        &decoys,
    ];
    for s in &sealed {
        params.push(s);
    }
    tx.exec(
        concat!(
            "INSERT INTO persons (id, agency, counsellor, dk_version, created_at, updated_at, index_entries, facts_tag, decoy, ",
            category_columns!(),
            ") SELECT id, agency, counsellor, dk_version, at, at, entries, tag, decoy, c1, c2, c3, c4, c5, c6, c7, c8, c9",
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bytea[], $7::bytea[], $8::boolean[],",
            " $9::bytea[], $10::bytea[], $11::bytea[], $12::bytea[], $13::bytea[], $14::bytea[], $15::bytea[], $16::bytea[], $17::bytea[])",
            " AS u(id, agency, counsellor, dk_version, at, entries, tag, decoy, c1, c2, c3, c4, c5, c6, c7, c8, c9)"
        ),
        &params,
        "insert files",
    )?;
    index(
        tx,
        sorted
            .iter()
            .flat_map(|p| p.index.iter().map(move |(k, h)| (*k, h, p.id.as_str())))
            .collect(),
    )
}

/// `limit` as a statement's `LIMIT` (which may not be negative).
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl FileStore for PgStore {
    fn insert_persons(
        &self,
        persons: &[NewPerson],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        in_tx(&self.pool, "insert files", |tx| {
            insert_rows(tx, persons)?;
            append_entries(tx, audit)
        })
    }

    fn update_person(
        &self,
        id: &str,
        agency: &str,
        u: &PersonUpdate,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx(&self.pool, "update file", |tx| {
            let Some(row) = tx.row(
                "SELECT index_entries, facts_tag FROM persons WHERE id = $1 AND agency = $2 FOR UPDATE",
                &[&id, &agency],
                "find file",
            )?
            else {
                return Ok(false);
            };
            let old = decode_entries(col::<&[u8]>(&row, 0)?)?;
            let tag: Option<&[u8]> = col(&row, 1)?;
            // The row is locked: the tag read is the one the update replaces.
            if let Some(f) = &u.facts {
                if f.expected.as_deref() != tag {
                    return Err(StoreError::Conflict("the file"));
                }
            }
            // Entries of the old set that the new one keeps stay; the new ones are added.
            let gone: Vec<&IndexEntry> = old.iter().filter(|e| !u.index.contains(e)).collect();
            unindex(tx, id, &gone)?;
            let mut set = vec![false; Category::ALL.len()];
            let mut sealed: Vec<Option<&[u8]>> = vec![None; Category::ALL.len()];
            for (c, v) in &u.fields {
                if let Some(i) = Category::ALL.iter().position(|x| x == c) {
                    set[i] = true;
                    sealed[i] = v.as_deref();
                }
            }
            let entries = encode_entries(&u.index);
            let counsellor: Option<&str> = u.counsellor.as_ref().and_then(|c| c.as_deref());
            let new_tag: Option<&[u8]> = u.facts.as_ref().map(|f| f.tag.as_slice());
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &u.now, &entries];
            for (s, v) in set.iter().zip(&sealed) {
                params.push(s);
                params.push(v);
            }
            let (set_counsellor, set_tag) = (u.counsellor.is_some(), u.facts.is_some());
            params.extend_from_slice(&[&set_counsellor, &counsellor, &set_tag, &new_tag]);
            // Column names in the order of Category::ALL (checked by a test).
            tx.exec(
                "UPDATE persons SET updated_at = $2, index_entries = $3, \
                 identity = CASE WHEN $4::boolean THEN $5::bytea ELSE identity END, \
                 social_security = CASE WHEN $6::boolean THEN $7::bytea ELSE social_security END, \
                 agency_ids = CASE WHEN $8::boolean THEN $9::bytea ELSE agency_ids END, \
                 contact = CASE WHEN $10::boolean THEN $11::bytea ELSE contact END, \
                 situation = CASE WHEN $12::boolean THEN $13::bytea ELSE situation END, \
                 education = CASE WHEN $14::boolean THEN $15::bytea ELSE education END, \
                 professional = CASE WHEN $16::boolean THEN $17::bytea ELSE professional END, \
                 followup = CASE WHEN $18::boolean THEN $19::bytea ELSE followup END, \
                 legal_representatives = CASE WHEN $20::boolean THEN $21::bytea ELSE legal_representatives END, \
                 counsellor = CASE WHEN $22::boolean THEN $23::text ELSE counsellor END, \
                 facts_tag = CASE WHEN $24::boolean THEN $25::bytea ELSE facts_tag END \
                 WHERE id = $1",
                &params,
                "update file",
            )?;
            index(tx, u.index.iter().map(|(k, h)| (*k, h, id)).collect())?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn delete_person(&self, id: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        in_tx(&self.pool, "delete file", |tx| {
            // As on SQLite, the entry is written whether or not there was a file.
            if let Some(row) = tx.row(
                "SELECT index_entries FROM persons WHERE id = $1 FOR UPDATE",
                &[&id],
                "find file",
            )? {
                let old = decode_entries(col::<&[u8]>(&row, 0)?)?;
                unindex(tx, id, &old.iter().collect::<Vec<_>>())?;
            }
            tx.exec(
                "DELETE FROM enrolments WHERE person_id = $1",
                &[&id],
                "delete enrolments",
            )?;
            let n = tx.exec("DELETE FROM persons WHERE id = $1", &[&id], "delete file")?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(n > 0)
        })
    }

    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut c = self.pool.get()?;
        let (hash, limit) = (&hash[..], limit_of(limit));
        let rows = match scope {
            ListScope::Agency(agency) => c.rows(
                "SELECT b.person_id FROM blind_index b JOIN persons p ON p.id = b.person_id WHERE b.kind = $1 AND b.hash = $2 AND p.agency = $3 ORDER BY b.person_id LIMIT $4",
                &[&kind, &hash, agency, &limit],
                "search",
            )?,
            ListScope::Caseload { agency, counsellor } => c.rows(
                "SELECT b.person_id FROM blind_index b JOIN persons p ON p.id = b.person_id WHERE b.kind = $1 AND b.hash = $2 AND p.agency = $3 AND p.counsellor = $4 ORDER BY b.person_id LIMIT $5",
                &[&kind, &hash, agency, counsellor, &limit],
                "search",
            )?,
            ListScope::Enrolled(partner) => c.rows(
                "SELECT b.person_id FROM blind_index b JOIN enrolments e ON e.person_id = b.person_id WHERE b.kind = $1 AND b.hash = $2 AND e.partner = $3 ORDER BY b.person_id LIMIT $4",
                &[&kind, &hash, partner, &limit],
                "search",
            )?,
        };
        rows.iter().map(|r| col(r, 0)).collect()
    }

    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        let mut c = self.pool.get()?;
        let (after, limit) = (after.unwrap_or(""), limit_of(limit));
        // One statement for the page and the enrolments of its files: one snapshot.
        let rows = match scope {
            ListScope::Agency(agency) => c.rows(
                concat!(
                    "SELECT ",
                    person_columns!(),
                    " FROM persons p WHERE p.agency = $1 AND p.id > $2 ORDER BY p.id LIMIT $3"
                ),
                &[agency, &after, &limit],
                "list",
            )?,
            ListScope::Caseload { agency, counsellor } => c.rows(
                concat!(
                    "SELECT ",
                    person_columns!(),
                    " FROM persons p WHERE p.agency = $1 AND p.counsellor = $2 AND p.id > $3 ORDER BY p.id LIMIT $4"
                ),
                &[agency, counsellor, &after, &limit],
                "caseload",
            )?,
            ListScope::Enrolled(partner) => c.rows(
                concat!(
                    "SELECT ",
                    person_columns!(),
                    " FROM enrolments e JOIN persons p ON p.id = e.person_id WHERE e.partner = $1 AND e.person_id > $2 ORDER BY e.person_id LIMIT $3"
                ),
                &[partner, &after, &limit],
                "enrolled",
            )?,
        };
        rows.iter().map(person_of).collect()
    }

    /// None: the schema on PostgreSQL starts with caseloads, so no file was stored before
    /// them (files copied from SQLite must have finished the backfill there).
    fn caseload_backfill(
        &self,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        Ok(Vec::new())
    }

    /// As on SQLite: each file given gets its counsellor unless it has one (the first given
    /// for an id wins), with the entry when there is any; `done` has nothing to end here.
    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        _done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        if assignments.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = assignments.iter().map(|a| a.0.as_str()).collect();
        let logins: Vec<&str> = assignments.iter().map(|a| a.1.as_str()).collect();
        in_tx(&self.pool, "backfill caseloads", |tx| {
            tx.exec(
                "UPDATE persons p SET counsellor = a.counsellor FROM (SELECT DISTINCT ON (id) id, counsellor FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, counsellor, n) ORDER BY id, n) a WHERE p.id = a.id AND p.counsellor IS NULL",
                &[&ids, &logins],
                "backfill caseloads",
            )?;
            append_entries(tx, std::slice::from_ref(audit))
        })
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
        in_tx(&self.pool, "enrolment", |tx| {
            // The file's row locked: a change of its enrolments from another node waits, then
            // finds the tag changed (or the file gone).
            if tx
                .row(
                    "SELECT 1 FROM persons WHERE id = $1 FOR UPDATE",
                    &[&person],
                    "find file",
                )?
                .is_none()
            {
                return Ok(false);
            }
            let changed = if enrolled {
                tx.exec(
                    "INSERT INTO enrolments (person_id, partner, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&person, &partner, &now],
                    "enrol",
                )?
            } else {
                tx.exec(
                    "DELETE FROM enrolments WHERE person_id = $1 AND partner = $2",
                    &[&person, &partner],
                    "end enrolment",
                )?
            };
            if changed == 0 {
                return Ok(false);
            }
            set_facts_tag(tx, person, facts)?;
            append_entries(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn count_persons(&self) -> Result<u64, StoreError> {
        let n: i64 = col(
            &self
                .pool
                .get()?
                .one("SELECT COUNT(*) FROM persons WHERE NOT decoy", &[], "count")?,
            0,
        )?;
        Ok(n as u64)
    }

    fn agencies(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.pool
            .get()?
            .rows(
                "SELECT agency, COUNT(*) FILTER (WHERE decoy) FROM persons GROUP BY agency HAVING COUNT(*) FILTER (WHERE NOT decoy) > 0 ORDER BY agency",
                &[],
                "agencies",
            )?
            .iter()
            .map(|r| Ok((col(r, 0)?, col::<i64>(r, 1)? as u64)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::TestDb;
    use rempart_store::AuditLog;

    fn store() -> (TestDb, PgStore) {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let s = PgStore::open(&db.url).unwrap();
        (db, s)
    }

    /// A file of `agency` whose id starts the tag of its facts (as in the conformance suite).
    fn person(id: &str, agency: &str) -> NewPerson {
        NewPerson {
            id: id.into(),
            agency: agency.into(),
            counsellor: Some("c.a".into()),
            dk_version: 1,
            fields: vec![
                (Category::Identity, vec![1, 2, 3]),
                (Category::Contact, vec![4, 5]),
            ],
            index: vec![(1, [9; 32])],
            now: 100,
            facts_tag: vec![id.as_bytes()[0]; 32],
            decoy: false,
        }
    }

    fn entry() -> AuditEntry {
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

    fn tagged(old: u8, new: u8) -> FactsChange {
        FactsChange {
            expected: Some(vec![old; 32]),
            tag: vec![new; 32],
        }
    }

    fn get(s: &PgStore, id: &str) -> Option<StoredPerson> {
        get_person(&mut s.pool.get().unwrap(), id).unwrap()
    }

    fn index_rows(s: &PgStore) -> Vec<(i64, Vec<u8>, String)> {
        s.pool
            .get()
            .unwrap()
            .rows(
                "SELECT kind, hash, person_id FROM blind_index ORDER BY kind, hash, person_id",
                &[],
                "test",
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    fn ids(v: Vec<StoredPerson>) -> Vec<String> {
        v.into_iter().map(|p| p.id).collect()
    }

    #[test]
    fn the_sealed_columns_are_the_categories_in_order() {
        let names: Vec<&str> = category_columns!().split(", ").collect();
        let want: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, want);
    }

    #[test]
    fn index_entries_keep_the_sqlite_layout() {
        let e = vec![(1, [9; 32]), (3, [7; 32])];
        let b = encode_entries(&e);
        assert_eq!(b.len(), 66);
        assert_eq!(decode_entries(&b).unwrap(), e);
        assert!(decode_entries(&b[..40]).is_err());
    }

    #[test]
    fn every_category_is_written_and_read_in_its_own_column() {
        let (_db, s) = store();
        let all: Vec<(Category, Vec<u8>)> = Category::ALL
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, vec![i as u8; 3]))
            .collect();
        let p = NewPerson {
            fields: all.clone(),
            ..person("a", "ML-1")
        };
        s.insert_persons(&[p], &[]).unwrap();
        assert_eq!(get(&s, "a").unwrap().fields, all);
        // Each category replaced by an update lands in its own column too.
        let replaced: Vec<(Category, Vec<u8>)> = Category::ALL
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, vec![100 + i as u8; 2]))
            .collect();
        let u = PersonUpdate {
            fields: replaced
                .iter()
                .map(|(c, b)| (*c, Some(b.clone())))
                .collect(),
            index: vec![],
            counsellor: None,
            facts: None,
            now: 200,
        };
        assert!(s.update_person("a", "ML-1", &u, &entry()).unwrap());
        let a = get(&s, "a").unwrap();
        assert_eq!(a.fields, replaced);
        assert_eq!(
            a.counsellor.as_deref(),
            Some("c.a"),
            "counsellor left as is"
        );
        assert_eq!(a.facts_tag, Some(vec![b'a'; 32]), "tag left as is");
        assert_eq!(a.dk_version, 1);
        assert!(!a.decoy);
    }

    #[test]
    fn files_are_written_searched_listed_and_erased() {
        let (_db, s) = store();
        s.insert_persons(&[person("a", "ML-1"), person("b", "ML-2")], &[])
            .unwrap();
        let a = get(&s, "a").unwrap();
        assert_eq!(a.fields.len(), 2);
        assert_eq!(a.agency, "ML-1");
        assert!(a.partners.is_empty());
        assert!(get(&s, "zz").is_none());
        let find = |scope: &ListScope<'_>| s.find_by_index(1, &[9; 32], scope, 10).unwrap();
        assert_eq!(find(&ListScope::Agency("ML-1")), ["a"], "its scope only");
        assert_eq!(find(&ListScope::Agency("ML-2")), ["b"]);
        assert!(find(&ListScope::Agency("ML-3")).is_empty());
        assert!(s
            .find_by_index(2, &[9; 32], &ListScope::Agency("ML-1"), 10)
            .unwrap()
            .is_empty());
        let list = |scope: &ListScope<'_>, after| ids(s.list_persons(scope, after, 10).unwrap());
        assert_eq!(list(&ListScope::Agency("ML-2"), None), ["b"]);
        assert!(list(&ListScope::Agency("ML-2"), Some("b")).is_empty());
        let caseload = |c| {
            s.list_persons(
                &ListScope::Caseload {
                    agency: "ML-1",
                    counsellor: c,
                },
                None,
                10,
            )
            .unwrap()
            .len()
        };
        assert_eq!((caseload("c.a"), caseload("c.b")), (1, 0));
        assert_eq!(
            find(&ListScope::Caseload {
                agency: "ML-1",
                counsellor: "c.a"
            }),
            ["a"]
        );

        // Enrolments: only over the tag they were computed from.
        assert!(matches!(
            s.set_enrolment("a", "AFPA", true, &tagged(7, 8), 5, &entry()),
            Err(StoreError::Conflict(_))
        ));
        assert!(get(&s, "a").unwrap().partners.is_empty(), "nothing written");
        assert_eq!(s.audit_len().unwrap(), 0, "nor its entry");
        assert!(s
            .set_enrolment("a", "AFPA", true, &tagged(b'a', 1), 5, &entry())
            .unwrap());
        assert_eq!(s.audit_len().unwrap(), 1);
        assert_eq!(get(&s, "a").unwrap().facts_tag, Some(vec![1; 32]));
        assert!(
            !s.set_enrolment("a", "AFPA", true, &tagged(7, 2), 6, &entry())
                .unwrap(),
            "already enrolled: nothing to change (the tag is not even compared)"
        );
        assert!(!s
            .set_enrolment("zz", "AFPA", true, &tagged(1, 2), 6, &entry())
            .unwrap());
        assert!(!s
            .set_enrolment("a", "OTHER", false, &tagged(1, 2), 6, &entry())
            .unwrap());
        assert_eq!(s.audit_len().unwrap(), 1, "no entry for nothing done");
        assert!(s
            .set_enrolment("a", "CIDJ", true, &tagged(1, 4), 6, &entry())
            .unwrap());
        assert_eq!(get(&s, "a").unwrap().partners, ["AFPA", "CIDJ"]);
        assert!(s
            .set_enrolment("a", "CIDJ", false, &tagged(4, 1), 7, &entry())
            .unwrap());
        assert_eq!(find(&ListScope::Enrolled("AFPA")), ["a"]);
        assert!(find(&ListScope::Enrolled("CIDJ")).is_empty());
        let enrolled = s
            .list_persons(&ListScope::Enrolled("AFPA"), None, 10)
            .unwrap();
        assert_eq!(ids(enrolled.clone()), ["a"]);
        assert_eq!(enrolled[0].partners, ["AFPA"]);

        // An update: scoped to the agency, its index entries replaced, with its entry.
        let len = s.audit_len().unwrap();
        let u = PersonUpdate {
            fields: vec![(Category::Contact, None)],
            index: vec![(2, [8; 32])],
            counsellor: Some(Some("c.b".into())),
            facts: Some(FactsChange {
                expected: Some(vec![1; 32]),
                tag: vec![3; 32],
            }),
            now: 200,
        };
        assert!(!s.update_person("a", "ML-2", &u, &entry()).unwrap());
        assert!(!s.update_person("zz", "ML-1", &u, &entry()).unwrap());
        assert_eq!(s.audit_len().unwrap(), len, "no entry for no file");
        assert!(s.update_person("a", "ML-1", &u, &entry()).unwrap());
        assert_eq!(s.audit_len().unwrap(), len + 1);
        let a = get(&s, "a").unwrap();
        assert_eq!(a.fields, [(Category::Identity, vec![1, 2, 3])]);
        assert_eq!(a.counsellor.as_deref(), Some("c.b"));
        assert_eq!(a.facts_tag, Some(vec![3; 32]));
        assert_eq!(a.partners, ["AFPA"]);
        assert_eq!((caseload("c.a"), caseload("c.b")), (0, 1));
        assert!(find(&ListScope::Agency("ML-1")).is_empty());
        assert_eq!(
            s.find_by_index(2, &[8; 32], &ListScope::Agency("ML-1"), 10)
                .unwrap(),
            ["a"]
        );
        // No counsellor any more (`Some(None)`), no change of facts asked.
        let u = PersonUpdate {
            fields: vec![],
            index: vec![(2, [8; 32])],
            counsellor: Some(None),
            facts: None,
            now: 300,
        };
        assert!(s.update_person("a", "ML-1", &u, &entry()).unwrap());
        assert_eq!(get(&s, "a").unwrap().counsellor, None);
        assert_eq!(get(&s, "a").unwrap().facts_tag, Some(vec![3; 32]));

        // Erased: its row, its index entries and its enrolments, with its entry.
        let len = s.audit_len().unwrap();
        assert!(s.delete_person("a", &entry()).unwrap());
        assert!(get(&s, "a").is_none());
        assert!(find(&ListScope::Enrolled("AFPA")).is_empty());
        assert!(s
            .list_persons(&ListScope::Enrolled("AFPA"), None, 10)
            .unwrap()
            .is_empty());
        assert_eq!(
            index_rows(&s),
            [(1, vec![9; 32], "b".to_string())],
            "only b's entries are left"
        );
        assert_eq!(s.audit_len().unwrap(), len + 1);
        assert!(!s.delete_person("a", &entry()).unwrap());
        assert_eq!(
            s.audit_len().unwrap(),
            len + 2,
            "as on SQLite, an erasure of nothing is recorded too"
        );
        assert_eq!(s.count_persons().unwrap(), 1);
    }

    #[test]
    fn an_insert_is_all_or_nothing_with_its_entries() {
        let (_db, s) = store();
        assert!(s
            .insert_persons(&[person("a", "X"), person("a", "X")], &[entry()])
            .is_err());
        assert_eq!(s.count_persons().unwrap(), 0);
        assert!(index_rows(&s).is_empty());
        assert_eq!(s.audit_len().unwrap(), 0, "the entry went with the insert");
        // A file already there: the whole batch fails, the others with it.
        s.insert_persons(&[person("b", "X")], &[entry()]).unwrap();
        assert!(s
            .insert_persons(&[person("a", "X"), person("b", "X")], &[entry()])
            .is_err());
        assert!(get(&s, "a").is_none());
        assert_eq!(s.audit_len().unwrap(), 1);
        // And a batch that succeeds writes its files, their entries and its audit entries.
        let mut e = entry();
        e.persons = vec!["a".into(), "c".into()];
        s.insert_persons(&[person("c", "X"), person("a", "X")], &[e.clone(), e])
            .unwrap();
        assert_eq!(s.count_persons().unwrap(), 3);
        assert_eq!(s.audit_len().unwrap(), 3);
        assert_eq!(
            s.find_by_index(1, &[9; 32], &ListScope::Agency("X"), 10)
                .unwrap(),
            ["a", "b", "c"]
        );
        let indexed: i64 = s
            .pool
            .get()
            .unwrap()
            .one(
                "SELECT COUNT(*) FROM audit_persons WHERE person_id = 'c'",
                &[],
                "test",
            )
            .unwrap()
            .get(0);
        assert_eq!(indexed, 2, "the entries are indexed by person with them");
    }

    #[test]
    fn an_update_computed_from_another_tag_writes_nothing() {
        let (_db, s) = store();
        s.insert_persons(&[person("a", "ML-1")], &[]).unwrap();
        let u = PersonUpdate {
            fields: vec![(Category::Contact, Some(vec![7]))],
            index: vec![(2, [8; 32])],
            counsellor: Some(Some("c.b".into())),
            facts: Some(tagged(7, 3)),
            now: 200,
        };
        assert!(matches!(
            s.update_person("a", "ML-1", &u, &entry()),
            Err(StoreError::Conflict(_))
        ));
        let a = get(&s, "a").unwrap();
        assert_eq!(a.fields[1], (Category::Contact, vec![4, 5]));
        assert_eq!(a.counsellor.as_deref(), Some("c.a"));
        assert_eq!(a.facts_tag, Some(vec![b'a'; 32]));
        assert_eq!(index_rows(&s), [(1, vec![9; 32], "a".to_string())]);
        assert_eq!(s.audit_len().unwrap(), 0);
        // From the tag it holds, it goes through.
        let u = PersonUpdate {
            facts: Some(tagged(b'a', 3)),
            ..u
        };
        assert!(s.update_person("a", "ML-1", &u, &entry()).unwrap());
        assert_eq!(index_rows(&s), [(2, vec![8; 32], "a".to_string())]);
        // A file without a tag is changed only by a change expecting none.
        s.pool
            .get()
            .unwrap()
            .exec(
                "UPDATE persons SET facts_tag = NULL WHERE id = 'a'",
                &[],
                "test",
            )
            .unwrap();
        assert!(matches!(
            s.set_enrolment("a", "AFPA", true, &tagged(3, 4), 1, &entry()),
            Err(StoreError::Conflict(_))
        ));
        let untagged = FactsChange {
            expected: None,
            tag: vec![4; 32],
        };
        assert!(s
            .set_enrolment("a", "AFPA", true, &untagged, 1, &entry())
            .unwrap());
        assert_eq!(get(&s, "a").unwrap().facts_tag, Some(vec![4; 32]));
    }

    #[test]
    fn listings_page_in_byte_order_within_their_scope() {
        let (_db, s) = store();
        let names = ["b", "B", "a-1", "a1", "a", "é", "Z"];
        let mut files: Vec<NewPerson> = names.iter().map(|n| person(n, "ML-1")).collect();
        files.push(person("x", "ML-2"));
        s.insert_persons(&files, &[]).unwrap();
        let mut want: Vec<&str> = names.to_vec();
        want.sort_unstable();
        let scope = ListScope::Agency("ML-1");
        assert_eq!(ids(s.list_persons(&scope, None, 100).unwrap()), want);
        assert_eq!(
            s.find_by_index(1, &[9; 32], &scope, 100).unwrap(),
            want,
            "searches too"
        );
        assert_eq!(
            s.find_by_index(1, &[9; 32], &scope, 2).unwrap(),
            want[..2],
            "up to the limit"
        );
        // Pages of 3, each after the last id of the one before.
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = ids(s.list_persons(&scope, after.as_deref(), 3).unwrap());
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            after = page.last().cloned();
            got.extend(page);
        }
        assert_eq!(got, want);
        assert!(s
            .list_persons(&scope, None, usize::MAX)
            .unwrap()
            .iter()
            .all(|p| p.agency == "ML-1"));
    }

    #[test]
    fn decoys_are_listed_but_left_out_of_counts() {
        let (_db, s) = store();
        let decoy = |id: &str, agency: &str| NewPerson {
            counsellor: None,
            decoy: true,
            ..person(id, agency)
        };
        assert_eq!(s.count_persons().unwrap(), 0);
        assert!(s.agencies().unwrap().is_empty());
        s.insert_persons(
            &[
                person("a", "ML-1"),
                decoy("d", "ML-1"),
                decoy("f", "ML-1"),
                decoy("e", "ML-2"),
                person("g", "AA-0"),
            ],
            &[],
        )
        .unwrap();
        assert!(get(&s, "d").unwrap().decoy);
        assert!(!get(&s, "a").unwrap().decoy);
        assert_eq!(
            ids(s
                .list_persons(&ListScope::Agency("ML-1"), None, 10)
                .unwrap()),
            ["a", "d", "f"]
        );
        assert_eq!(s.count_persons().unwrap(), 2);
        assert_eq!(
            s.agencies().unwrap(),
            [("AA-0".to_string(), 0), ("ML-1".to_string(), 2)],
            "an agency of decoys only is none"
        );
    }

    #[test]
    fn caseloads_have_nothing_to_backfill_and_are_set_where_none_is() {
        let (_db, s) = store();
        let unassigned = |id: &str| NewPerson {
            counsellor: None,
            ..person(id, "ML-1")
        };
        s.insert_persons(&[unassigned("a"), person("b", "ML-1")], &[])
            .unwrap();
        assert!(s.caseload_backfill(None, 10).unwrap().is_empty());
        s.set_caseloads(&[], true, &entry()).unwrap();
        assert_eq!(s.audit_len().unwrap(), 0, "no entry for no assignment");
        let a = |id: &str, c: &str| (id.to_string(), c.to_string());
        s.set_caseloads(
            &[a("a", "c.x"), a("a", "c.y"), a("b", "c.z")],
            false,
            &entry(),
        )
        .unwrap();
        assert_eq!(get(&s, "a").unwrap().counsellor.as_deref(), Some("c.x"));
        assert_eq!(
            get(&s, "b").unwrap().counsellor.as_deref(),
            Some("c.a"),
            "an assigned file keeps its counsellor"
        );
        assert_eq!(s.audit_len().unwrap(), 1);
    }

    #[test]
    fn changes_of_one_file_from_two_nodes_happen_one_after_the_other() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let nodes = [
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        ];
        nodes[0]
            .insert_persons(&[person("a", "ML-1")], &[])
            .unwrap();
        // Every change computed from the same tag: one wins, the others conflict.
        let outcomes: Vec<Result<bool, StoreError>> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let s = &nodes[usize::from(i % 2)];
                    sc.spawn(move || {
                        if i % 4 == 3 {
                            let u = PersonUpdate {
                                fields: vec![],
                                index: vec![(1, [i; 32])],
                                counsellor: Some(Some(format!("c.{i}"))),
                                facts: Some(tagged(b'a', 10 + i)),
                                now: 200,
                            };
                            s.update_person("a", "ML-1", &u, &entry())
                        } else {
                            s.set_enrolment(
                                "a",
                                &format!("P{i}"),
                                true,
                                &tagged(b'a', 10 + i),
                                5,
                                &entry(),
                            )
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Ok(true)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(won.len(), 1, "{outcomes:?}");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(true) | Err(StoreError::Conflict(_)))));
        let a = get(&nodes[1], "a").unwrap();
        let w = won[0] as u8;
        assert_eq!(a.facts_tag, Some(vec![10 + w; 32]));
        if w % 4 == 3 {
            assert!(a.partners.is_empty());
            assert_eq!(a.counsellor, Some(format!("c.{w}")));
        } else {
            assert_eq!(a.partners, [format!("P{w}")]);
        }
        assert_eq!(nodes[0].audit_len().unwrap(), 1, "the winner's entry only");
        // An erasure and an enrolment at once: no enrolment outlives its file.
        nodes[0]
            .insert_persons(&[person("b", "ML-1")], &[])
            .unwrap();
        std::thread::scope(|sc| {
            sc.spawn(|| nodes[0].delete_person("b", &entry()).unwrap());
            sc.spawn(|| {
                let _ = nodes[1].set_enrolment("b", "AFPA", true, &tagged(b'b', 1), 5, &entry());
            });
        });
        assert!(get(&nodes[0], "b").is_none());
        let left: i64 = nodes[0]
            .pool
            .get()
            .unwrap()
            .one(
                "SELECT COUNT(*) FROM enrolments WHERE person_id = 'b'",
                &[],
                "test",
            )
            .unwrap()
            .get(0);
        assert_eq!(left, 0);
    }
}
