//! Importing files in bulk, all or nothing.

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Category, ValidFile};
use rempart_store::{NewPerson, StoreError, StoredKey};

impl Vault {
    /// Imports valid files, all or none; sealing runs on every core.
    pub fn import(
        &self,
        files: &[ValidFile],
        progress: ImportProgress<'_>,
    ) -> Result<usize, VaultError> {
        let total = files.len() as u64;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let chunk = files.len().div_ceil(threads).max(1);
        let done = std::sync::atomic::AtomicU64::new(0);
        let sealed: Vec<(NewPerson, StoredKey)> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    let done = &done;
                    s.spawn(move || {
                        let mut out = Vec::with_capacity(part.len());
                        for (i, f) in part.iter().enumerate() {
                            out.push(self.seal_new(f));
                            if i % 1000 == 999 {
                                let d = done.fetch_add(1000, std::sync::atomic::Ordering::Relaxed)
                                    + 1000;
                                progress(d / 2, total);
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        if sealed.len() != files.len() {
            return Err(VaultError::Integrity);
        }
        let (persons, keys): (Vec<NewPerson>, Vec<StoredKey>) = sealed.into_iter().unzip();
        self.keys.put_keys(&keys)?;
        progress(total * 3 / 4, total);
        // One import entry per agency, naming every file created.
        let mut by_agency: std::collections::BTreeMap<
            &str,
            (Vec<String>, std::collections::BTreeSet<Category>),
        > = Default::default();
        for p in &persons {
            let slot = by_agency.entry(p.agency.as_str()).or_default();
            slot.0.push(p.id.clone());
            slot.1.extend(p.fields.iter().map(|f| f.0));
        }
        let mut audit = Vec::new();
        for (agency, (ids, cats)) in by_agency {
            let actor =
                Principal::local(Agency::parse(agency).map_err(|_| StoreError::Corrupt("agency"))?);
            let mut e = self.entry(
                &actor,
                Action::Import,
                ids,
                names(cats),
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!("files={}", e.persons.len()));
            audit.push(e);
        }
        if let Err(e) = self.store.insert_persons(&persons, &audit) {
            // Nothing of the import stays: the keys written for it are destroyed again.
            for k in &keys {
                let _ = self.keys.destroy_key(&k.person);
            }
            return Err(e.into());
        }
        progress(total, total);
        Ok(persons.len())
    }
}
