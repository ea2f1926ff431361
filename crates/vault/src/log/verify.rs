//! Verifying the log against its checkpoints and the witness, and its per-person index.

use crate::core::*;
use crate::error::VaultError;
use crate::views::*;
use rempart_audit::Action;
use rempart_store::StoreError;

impl Vault {
    /// Recomputes the whole log and checks it against every checkpoint of the database and
    /// of the witness. `Ok(Err(tamper))` names the first problem. A witness missing or empty
    /// while the database holds signed checkpoints is [`VaultError::NoWitness`], unless it was
    /// deliberately not read ([`Witnessed::NotChecked`](crate::Witnessed::NotChecked)).
    pub fn verify_audit(
        &self,
        public_key: &[u8; 32],
        witness: &crate::witness::Witnessed,
        progress: ImportProgress<'_>,
    ) -> Result<Result<rempart_audit::Verified, rempart_audit::Tamper>, VaultError> {
        self.verify_audit_from(public_key, witness, None, progress)
    }

    /// [`Vault::verify_audit`], also against `trusted`, a signed checkpoint kept outside the
    /// installation (by an auditor, the DPO, a witness of their own): the log must hold at
    /// least its entries and give its root. Someone able to rewrite the database, its
    /// checkpoints and the witness file together is still caught by a checkpoint they cannot
    /// reach.
    pub fn verify_audit_from(
        &self,
        public_key: &[u8; 32],
        witness: &crate::witness::Witnessed,
        trusted: Option<&rempart_audit::Checkpoint>,
        progress: ImportProgress<'_>,
    ) -> Result<Result<rempart_audit::Verified, rempart_audit::Tamper>, VaultError> {
        use crate::witness::Witnessed;
        use rempart_audit::LogVerifier;
        let total = self.store.audit_len()?;
        let database = self.store.checkpoints()?;
        // Deleting (or emptying) the witness must not be a way to cut the log back together
        // with its checkpoints unnoticed.
        let unwitnessed = match witness {
            Witnessed::Missing => true,
            Witnessed::Checkpoints(c) => c.is_empty(),
            Witnessed::NotChecked => false,
        };
        if let (true, Some(latest)) = (unwitnessed, database.last()) {
            return Err(VaultError::NoWitness {
                checkpoints: database.len(),
                latest: latest.size,
            });
        }
        let witness = witness.checkpoints();
        let v = match trusted {
            None => LogVerifier::new(public_key, &database, witness),
            Some(t) => LogVerifier::with_file(public_key, &database, witness, t),
        };
        let mut v = match v {
            Ok(v) => v,
            Err(t) => return Ok(Err(t)),
        };
        let mut failure = None;
        let mut unreadable = None;
        let mut subtrees = self.store.audit_subtrees()?;
        self.store.audit_visit(0, &mut |seq, bytes, leaf| {
            if let Err(t) = v.feed(seq, bytes, leaf) {
                failure = Some(t);
                return false;
            }
            // The subtrees kept for proofs must be those of the entries (missing or different
            // is tampering; a database failure is reported as such).
            for (level, index, root) in v.take_completed() {
                let stored = match subtrees.node(level, index) {
                    Ok(h) => Some(h),
                    Err(StoreError::Corrupt(_)) => None,
                    Err(e) => {
                        unreadable = Some(e);
                        return false;
                    }
                };
                if stored != Some(root) {
                    failure = Some(rempart_audit::Tamper::Subtree {
                        level,
                        index,
                        first: (index << level) + 1,
                        last: (index + 1) << level,
                    });
                    return false;
                }
            }
            if seq % 65_536 == 0 {
                progress(seq.min(total), total);
            }
            true
        })?;
        if let Some(e) = unreadable {
            return Err(e.into());
        }
        if let Some(t) = failure {
            return Ok(Err(t));
        }
        Ok(v.finish())
    }

    /// Compares the per-person index of the log (which answers the access history) with the
    /// entries it covers: run after [`Vault::verify_audit`] has found the log intact.
    pub fn check_audit_index(
        &self,
        progress: ImportProgress<'_>,
    ) -> Result<rempart_store::IndexCheck, VaultError> {
        Ok(self.store.check_audit_index(&mut |d, t| progress(d, t))?)
    }

    /// Empties the per-person index and builds it again from the log; returns the entries
    /// indexed. An administrative act, recorded (`audit_reindex`, by `cli`) once the index is
    /// rebuilt: the access history answers from it.
    pub fn rebuild_audit_index(&self, progress: ImportProgress<'_>) -> Result<u64, VaultError> {
        let n = self.store.rebuild_audit_index(&mut |d, t| progress(d, t))?;
        self.record_local(Action::AuditReindex, format!("indexed={n}"))?;
        Ok(n)
    }

    /// Number of audit entries.
    pub fn audit_len(&self) -> Result<u64, VaultError> {
        Ok(self.store.audit_len()?)
    }
}
