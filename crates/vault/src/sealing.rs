//! Sealing and opening files: data keys, categories bound to person, category and key
//! version, blind-index entries.

use crate::access::{self};
use crate::codec;
use crate::core::*;
use crate::error::VaultError;
use crate::facts;
use crate::DATA_KEY_VERSION;
use rempart_crypto::{DataKey, FieldContext, Sealed, WrappedKey};
use rempart_domain::{Category, PersonInput, SearchTerm, ValidFile};
use rempart_store::{IndexEntry, NewPerson, StoredKey, StoredPerson};

pub(crate) struct Sealing<'a> {
    pub(crate) id: &'a str,
    pub(crate) dk: &'a DataKey,
    pub(crate) version: u32,
}

impl Sealing<'_> {
    pub(crate) fn ctx(&self, c: Category) -> FieldContext<'_> {
        FieldContext {
            person: self.id,
            category: c.as_str(),
            key_version: self.version,
        }
    }
    pub(crate) fn seal(&self, record: &PersonInput, c: Category) -> Option<Vec<u8>> {
        codec::encode(record, c).map(|pt| self.dk.seal(&self.ctx(c), &pt).into_bytes())
    }
}

impl Vault {
    pub(crate) fn index_entries(&self, file: &ValidFile) -> Vec<IndexEntry> {
        file.search_terms()
            .iter()
            .map(|t| self.index_entry(t))
            .collect()
    }

    pub(crate) fn index_entry(&self, t: &SearchTerm) -> IndexEntry {
        (
            t.kind.code(),
            self.keyring
                .blind_index()
                .hash(t.kind.label(), t.normalised_value()),
        )
    }

    pub(crate) fn seal_new(&self, file: &ValidFile) -> (NewPerson, StoredKey) {
        let id = uuid::Uuid::new_v4().to_string();
        let dk = DataKey::generate();
        let s = Sealing {
            id: &id,
            dk: &dk,
            version: DATA_KEY_VERSION,
        };
        let fields = Category::ALL
            .iter()
            .filter_map(|c| s.seal(file.record(), *c).map(|b| (*c, b)))
            .collect();
        let wrapped = self.keyring.wrap(&id, &dk);
        let key = StoredKey {
            person: id.clone(),
            master_version: wrapped.master_version,
            wrapped: wrapped.bytes,
        };
        let facts_tag = facts::file_tag(
            self.keyring.facts(),
            &id,
            file.agency().as_str(),
            file.counsellor(),
            &[],
        )
        .to_vec();
        let person = NewPerson {
            id,
            agency: file.agency().as_str().to_string(),
            counsellor: file.counsellor().map(str::to_string),
            dk_version: DATA_KEY_VERSION,
            fields,
            index: self.index_entries(file),
            now: self.clock.now(),
            facts_tag,
            decoy: false,
        };
        (person, key)
    }

    pub(crate) fn data_key(&self, id: &str) -> Result<Option<DataKey>, VaultError> {
        let Some(key) = self.keys.get_key(id)? else {
            return Ok(None);
        };
        self.keyring
            .unwrap(
                id,
                &WrappedKey {
                    master_version: key.master_version,
                    bytes: key.wrapped,
                },
            )
            .map(Some)
            .map_err(|_| VaultError::Integrity)
    }

    pub(crate) fn open(
        &self,
        stored: &StoredPerson,
        dk: &DataKey,
        wanted: &[Category],
    ) -> Result<PersonInput, VaultError> {
        let s = Sealing {
            id: &stored.id,
            dk,
            version: stored.dk_version,
        };
        let mut record = PersonInput {
            agency: Some(stored.agency.clone()),
            ..Default::default()
        };
        for (c, bytes) in &stored.fields {
            if !wanted.contains(c) {
                continue;
            }
            let pt = dk
                .open(&s.ctx(*c), &Sealed::from_bytes(bytes.clone()))
                .map_err(|_| VaultError::Integrity)?;
            codec::decode(*c, &pt, &mut record).map_err(|_| VaultError::Integrity)?;
        }
        Ok(record)
    }

    /// Whether the person of a stored file is a minor today (from the sealed birth date).
    pub(crate) fn minor(&self, stored: &StoredPerson, dk: &DataKey) -> Result<bool, VaultError> {
        let identity = self.open(stored, dk, &[Category::Identity])?;
        Ok(access::is_minor(&identity, self.clock.today()))
    }
}
