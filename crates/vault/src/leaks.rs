//! Leaked files: which people of a file of stolen data found outside are in the vault, which
//! categories of theirs it holds, and — through the markers added to each export — which export
//! to which recipient it came from. Each row is looked up through the blind indexes, with the
//! keyed hashes exact search uses; the leaked plaintext is never stored, logged, put in an error
//! or in an audit entry, which records counts alone.

use crate::core::{is_file_id, Vault};
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{IndexKind, Role};
use rempart_incident::leak::{LeakMatch, LeakReader, LeakedRow, MarkerHit, Row};
use rempart_store::{ListScope, MarkerRecord};
use std::collections::{BTreeSet, HashMap};
use std::io::Read;

/// Files looked at per search key of a row, per agency.
const CANDIDATES: usize = 20;

/// What a file found by a row is.
#[derive(Clone)]
enum Found {
    /// A real file, of this agency.
    Person(String),
    /// A marker of an export.
    Marker(MarkerRecord),
    /// One of containment's decoys.
    Decoy,
    /// Gone since it was found (erased meanwhile).
    Gone,
}

impl Vault {
    /// Matches a leaked CSV file against the vault: every row looked up through the blind
    /// indexes (a row is a person when its strong identifiers — NIR, France Travail id, email,
    /// phone, the file id — all point to that one person, or, without them, when its last name
    /// and birth date do; identifiers pointing to different people make the row ambiguous).
    /// For the DPO and operators, within their agency (the console: every agency). Decoys and
    /// markers are never people: a marker names the export the file came from. Recorded with
    /// counts alone.
    pub fn match_leaked(&self, p: &Principal, csv: &[u8]) -> Result<LeakMatch, VaultError> {
        self.match_leaked_from(p, csv)
    }

    /// [`Vault::match_leaked`] reading the file from `input`, one row at a time.
    pub fn match_leaked_from(
        &self,
        p: &Principal,
        input: impl Read,
    ) -> Result<LeakMatch, VaultError> {
        if !matches!(p.role(), Role::Dpo | Role::Operator) {
            return Err(self.denied(
                p,
                Action::LeakMatch,
                "",
                None,
                VaultError::Forbidden("only the DPO or an operator matches a leaked file"),
            ));
        }
        let agencies: Vec<String> = if p.agency().as_str() == "LOCAL" {
            self.store.agencies()?.into_iter().map(|(a, _)| a).collect()
        } else {
            vec![p.agency().as_str().to_string()]
        };
        let mut reader = LeakReader::new(input, &self.rules())?;
        let mut out = LeakMatch {
            unrecognised_columns: reader.unrecognised().to_vec(),
            ..LeakMatch::default()
        };
        let mut known: HashMap<String, Found> = HashMap::new();
        for row in &mut reader {
            out.rows_read += 1;
            match row {
                Row::Unreadable(line) => out.unreadable.push(line),
                Row::Read(row) => self.match_row(&row, &agencies, &mut known, &mut out)?,
            }
        }
        let mut e = self.entry(p, Action::LeakMatch, vec![], vec![], None, Outcome::Allowed);
        e.detail = Some(out.counts());
        self.store.append_audit(&[e])?;
        Ok(out)
    }

    fn match_row(
        &self,
        row: &LeakedRow,
        agencies: &[String],
        known: &mut HashMap<String, Found>,
        out: &mut LeakMatch,
    ) -> Result<(), VaultError> {
        // The files each strong identifier finds.
        let mut strong: Vec<BTreeSet<String>> = Vec::new();
        let mut name_birth = BTreeSet::new();
        for t in &row.terms {
            let (kind, hash) = self.index_entry(t);
            let mut ids = BTreeSet::new();
            for a in agencies {
                ids.extend(self.store.find_by_index(
                    kind,
                    &hash,
                    &ListScope::Agency(a),
                    CANDIDATES,
                )?);
            }
            if t.kind == IndexKind::NameBirth {
                name_birth = ids;
            } else if !ids.is_empty() {
                strong.push(ids);
            }
        }
        if let Some(id) = row.id.as_deref().filter(|i| is_file_id(i)) {
            if let Some(stored) = self.store.get_person(id)? {
                if agencies.contains(&stored.agency) {
                    strong.push(BTreeSet::from([id.to_string()]));
                }
            }
        }
        let (candidates, by) = if strong.is_empty() {
            (vec![name_birth], "name_birth")
        } else {
            (strong, "strong")
        };
        // Decoys and markers found beside a real file are left out (a real file made after
        // them may share a search key), as a search does.
        let mut sets = Vec::new();
        let mut any_real = false;
        for ids in candidates {
            let mut set = Vec::new();
            for id in ids {
                let found = self.found(&id, known)?;
                any_real |= matches!(found, Found::Person(_));
                if !matches!(found, Found::Gone) {
                    set.push((id, found));
                }
            }
            sets.push(set);
        }
        if any_real {
            for set in &mut sets {
                set.retain(|(_, f)| matches!(f, Found::Person(_)));
            }
        }
        sets.retain(|s| !s.is_empty());
        let Some((first, rest)) = sets.split_first() else {
            out.unmatched.push(row.line);
            return Ok(());
        };
        let common: Vec<&(String, Found)> = first
            .iter()
            .filter(|(id, _)| rest.iter().all(|s| s.iter().any(|(o, _)| o == id)))
            .collect();
        match common.as_slice() {
            [(id, Found::Person(agency))] => out.matched(row, id, agency, by),
            [(_, Found::Marker(m))] => out.markers.push(MarkerHit {
                line: row.line,
                export: m.export.clone(),
                agency: m.agency.clone(),
                recipient: m.recipient.clone(),
                exported_at: m.at,
            }),
            [(_, Found::Decoy)] => out.decoys.push(row.line),
            _ => out.ambiguous.push(row.line),
        }
        Ok(())
    }

    /// What file `id` is, read once per match.
    fn found(&self, id: &str, known: &mut HashMap<String, Found>) -> Result<Found, VaultError> {
        if let Some(f) = known.get(id) {
            return Ok(f.clone());
        }
        let f = match self.store.get_person(id)? {
            None => Found::Gone,
            Some(s) if !s.decoy => Found::Person(s.agency),
            Some(_) => match self.store.marker(id)? {
                Some(m) => Found::Marker(m),
                None => Found::Decoy,
            },
        };
        known.insert(id.to_string(), f.clone());
        Ok(f)
    }
}
