//! Per-recipient export markers: a few synthetic young people added to each export when it
//! runs, unique to it, so that a leaked copy of the export names the export and the recipient
//! it went to ([`crate::Vault::match_leaked`]).
//!
//! Each marker is shaped like a real file of the export (the same categories, fields and list
//! lengths: [`rempart_synth::young_person_like`]), read as the recipient would read it were it
//! enrolled (the same policy decision, the NIR masked alike), and placed among the real files in
//! id order. It is kept as a decoy file of the exporting agency: in no caseload, enrolled with
//! nobody, never counted; reading it through the API, or a search finding only it, trips
//! containment like any decoy. Its search keys are unique within the agency.

use crate::core::Vault;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use crate::views::PersonView;
use rempart_crypto::WrappedKey;
use rempart_domain::{Purpose, ValidFile};
use rempart_store::{IndexEntry, ListScope, MarkerRecord, NewPerson, StoredKey, StoredPerson};
use std::collections::HashSet;

/// Markers added to each export that holds files, by default.
pub const EXPORT_MARKERS: usize = 2;

/// Draws per marker before giving it up (its search keys clashing with the agency's files).
const DRAWS: usize = 8;

/// The markers of one export run, ready to be written with it.
pub(crate) struct Markers {
    pub(crate) files: Vec<NewPerson>,
    pub(crate) keys: Vec<StoredKey>,
    pub(crate) records: Vec<MarkerRecord>,
    /// As the recipient receives them.
    pub(crate) views: Vec<PersonView>,
}

/// What an export is, for its markers.
pub(crate) struct ExportRun<'a> {
    pub(crate) id: &'a str,
    pub(crate) agency: &'a str,
    pub(crate) recipient: &'a str,
    /// The recipient as its own principals are, for the policy.
    pub(crate) reader: &'a Principal,
    pub(crate) purpose: Purpose,
}

impl Vault {
    /// The same vault adding `n` markers to each export that holds files (0: none).
    pub fn with_export_markers(mut self, n: usize) -> Vault {
        self.export_markers = n;
        self
    }

    /// Makes the markers of an export whose real files, as they leave, are `files`: none when
    /// it holds none.
    pub(crate) fn make_markers(
        &self,
        run: &ExportRun<'_>,
        files: &[PersonView],
    ) -> Result<Markers, VaultError> {
        let mut out = Markers {
            files: Vec::new(),
            keys: Vec::new(),
            records: Vec::new(),
            views: Vec::new(),
        };
        if files.is_empty() {
            return Ok(out);
        }
        let rules = self.rules();
        let now = self.clock.now();
        let mut seen: HashSet<IndexEntry> = HashSet::new();
        for _ in 0..self.export_markers {
            for _ in 0..DRAWS {
                let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
                let template = &files[(a % files.len() as u64) as usize].record;
                let input = rempart_synth::young_person_like(template, run.agency, rules.today, b);
                let Ok(valid) = ValidFile::parse(input, &rules) else {
                    continue;
                };
                let entries = self.index_entries(&valid);
                if !self.unique(&entries, &seen, run.agency)? {
                    continue;
                }
                let Some((person, key, view)) = self.seal_marker(run, &valid)? else {
                    continue;
                };
                seen.extend(entries);
                out.records.push(MarkerRecord {
                    person: person.id.clone(),
                    export: run.id.to_string(),
                    agency: run.agency.to_string(),
                    recipient: run.recipient.to_string(),
                    at: now,
                });
                out.files.push(person);
                out.keys.push(key);
                out.views.push(view);
                break;
            }
        }
        Ok(out)
    }

    /// Whether none of `entries` is a search key of a file of `agency` or of another marker
    /// of the run.
    fn unique(
        &self,
        entries: &[IndexEntry],
        seen: &HashSet<IndexEntry>,
        agency: &str,
    ) -> Result<bool, VaultError> {
        for e in entries {
            if seen.contains(e)
                || !self
                    .store
                    .find_by_index(e.0, &e.1, &ListScope::Agency(agency), 1)?
                    .is_empty()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Seals a marker as a decoy of the exporting agency in no caseload, and reads it as the
    /// recipient would were it enrolled with it; `None` when the recipient could read nothing
    /// of it.
    fn seal_marker(
        &self,
        run: &ExportRun<'_>,
        valid: &ValidFile,
    ) -> Result<Option<(NewPerson, StoredKey, PersonView)>, VaultError> {
        let (mut person, key) = self.seal_new(valid);
        person.decoy = true;
        // In no caseload, whatever counsellor its follow-up names (as the template's does).
        person.counsellor = None;
        person.facts_tag =
            facts::file_tag(self.keyring.facts(), &person.id, run.agency, None, &[]).to_vec();
        let dk = self
            .keyring
            .unwrap(
                &person.id,
                &WrappedKey {
                    master_version: key.master_version,
                    bytes: key.wrapped.clone(),
                },
            )
            .map_err(|_| VaultError::Integrity)?;
        let as_enrolled = StoredPerson {
            id: person.id.clone(),
            agency: person.agency.clone(),
            counsellor: None,
            partners: vec![run.recipient.to_string()],
            dk_version: person.dk_version,
            fields: person.fields.clone(),
            facts_tag: None,
            decoy: false,
        };
        let Some((record, _)) = self.view_as(run.reader, &as_enrolled, &dk, run.purpose, None)?
        else {
            return Ok(None);
        };
        let view = PersonView {
            id: person.id.clone(),
            record,
        };
        Ok(Some((person, key, view)))
    }
}
