//! Decoy files: synthetic files planted in an agency where enumeration finds them (the agency's
//! listings, plausible search keys) and normal work does not (no caseload, no enrolment, search
//! keys no real file of the agency has). A principal shown one by a read or a search is
//! suspended at once ([`crate::disclosure`]).

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, ValidFile};
use rempart_store::{IndexEntry, ListScope, NewPerson, StoredKey};
use std::collections::HashSet;

impl Vault {
    /// Plants `files` as decoys of `agency`: each one without a counsellor, and none sharing a
    /// search key with a file of the agency or with another decoy of the batch (those are
    /// skipped, so that normal searches never find a decoy). All or nothing, recorded by one
    /// `decoy_plant` entry that does not name them. Returns how many were planted.
    pub fn plant_decoys(
        &self,
        by: &Principal,
        agency: &Agency,
        files: &[ValidFile],
    ) -> Result<usize, VaultError> {
        if files
            .iter()
            .any(|f| f.agency() != agency || f.counsellor().is_some())
        {
            return Err(VaultError::Forbidden(
                "a decoy belongs to its agency and to no caseload",
            ));
        }
        let mut seen: HashSet<IndexEntry> = HashSet::new();
        let mut sealed: Vec<(NewPerson, StoredKey)> = Vec::new();
        for f in files {
            let entries = self.index_entries(f);
            let mut clash = entries.iter().any(|e| seen.contains(e));
            for (kind, hash) in &entries {
                if clash {
                    break;
                }
                clash = !self
                    .store
                    .find_by_index(*kind, hash, &ListScope::Agency(agency.as_str()), 1)?
                    .is_empty();
            }
            if clash {
                continue;
            }
            seen.extend(entries);
            let (mut person, key) = self.seal_new(f);
            person.decoy = true;
            sealed.push((person, key));
        }
        let (persons, keys): (Vec<NewPerson>, Vec<StoredKey>) = sealed.into_iter().unzip();
        if persons.is_empty() {
            return Ok(0);
        }
        self.keys.put_keys(&keys)?;
        let mut e = self.entry(
            by,
            Action::DecoyPlant,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("agency={} planted={}", agency, persons.len()));
        if let Err(err) = self.store.insert_persons(&persons, &[e]) {
            for k in &keys {
                let _ = self.keys.destroy_key(&k.person);
            }
            return Err(err.into());
        }
        Ok(persons.len())
    }

    /// The agencies with files, and how many decoys each holds.
    pub fn agencies(&self) -> Result<Vec<(String, u64)>, VaultError> {
        Ok(self.store.agencies()?)
    }
}
