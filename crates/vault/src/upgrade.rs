//! Upgrades of stored data: caseloads read from files stored before caseloads existed.

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Category};
use rempart_store::StoreError;

impl Vault {
    /// Fills in the caseload of files stored before caseloads existed, from the assigned
    /// counsellor in their sealed follow-up category; resumable, and nothing to do once done.
    /// Recorded as one `assign` entry per batch, by the local administrator. Returns how many
    /// files were assigned.
    pub fn backfill_caseloads(&self) -> Result<u64, VaultError> {
        let mut after: Option<String> = None;
        let mut total = 0u64;
        loop {
            let batch = self.store.caseload_backfill(after.as_deref(), 500)?;
            let done = batch.len() < 500;
            let mut assignments = Vec::new();
            for stored in &batch {
                let Some(dk) = self.data_key(&stored.id)? else {
                    continue;
                };
                let followup = self.open(stored, &dk, &[Category::Followup])?;
                if let Some(c) = followup.followup.and_then(|f| f.counsellor) {
                    assignments.push((stored.id.clone(), c));
                }
            }
            after = batch.last().map(|s| s.id.clone());
            let actor = Principal::local(
                Agency::parse("LOCAL").map_err(|_| StoreError::Corrupt("agency"))?,
            );
            let mut e = self.entry(
                &actor,
                Action::Assign,
                assignments.iter().map(|a| a.0.clone()).collect(),
                names([Category::Followup]),
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!("caseload backfill files={}", assignments.len()));
            self.store.set_caseloads(&assignments, done, &e)?;
            total += assignments.len() as u64;
            if done {
                return Ok(total);
            }
        }
    }
}
