//! Signed checkpoints of the log, written to the database and the witness.

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::Action;
use rempart_policy::LogAct;
use rempart_store::StoreError;

/// How long a one-off signer (a command) holds the checkpoint lease.
const ONE_OFF_LEASE_SECS: i64 = 10;

impl Vault {
    /// Signs a checkpoint of the whole log (unless the latest one already covers it), records
    /// it in the database and appends it to the witness. Returns the latest checkpoint. While
    /// another node holds the checkpoint lease (a server of the same database), it signs
    /// nothing and returns the latest checkpoint: that node signs what was just written.
    pub fn checkpoint(
        &self,
        witness: &crate::witness::Witness,
    ) -> Result<rempart_audit::Checkpoint, VaultError> {
        match self.checkpoint_as_holder(witness, ONE_OFF_LEASE_SECS)? {
            Some(cp) => Ok(cp),
            None => self
                .store
                .latest_checkpoint()?
                .ok_or(VaultError::NotLeaseHolder),
        }
    }

    /// [`Vault::checkpoint`] by the node that holds the checkpoint lease, taken or renewed here
    /// for `lease_secs` (a server's, about three checkpoint periods): `None` while another node
    /// holds it, and this one signs nothing.
    pub fn checkpoint_as_holder(
        &self,
        witness: &crate::witness::Witness,
        lease_secs: i64,
    ) -> Result<Option<rempart_audit::Checkpoint>, VaultError> {
        if !self.store.checkpoint_lease(&self.node, lease_secs)? {
            return Ok(None);
        }
        self.sign_checkpoint(witness).map(Some)
    }

    fn sign_checkpoint(
        &self,
        witness: &crate::witness::Witness,
    ) -> Result<rempart_audit::Checkpoint, VaultError> {
        let latest = self.store.latest_checkpoint()?;
        // Nothing new since the latest checkpoint: no need to read the log again.
        let len = self.store.audit_len()?;
        if let Some(l) = latest.as_ref().filter(|l| l.size == len) {
            return Ok(l.clone());
        }
        // Resume from the latest signed checkpoint: its tree is read from the stored subtrees
        // (O(log n)) and must give its signed root; the entries after it are hashed again from
        // their content, not taken from stored leaves. Without a checkpoint, the whole log is.
        let mut stream = match &latest {
            Some(l) => {
                let s = rempart_audit::merkle::StreamingRoot::resume(
                    &mut *self.store.audit_subtrees()?,
                    l.size,
                )
                .map_err(|_| VaultError::AuditMismatch(l.size))?;
                if Some(s.root()) != l.root_hash() {
                    return Err(VaultError::AuditMismatch(l.size));
                }
                s
            }
            None => rempart_audit::merkle::StreamingRoot::new(),
        };
        let mut gap = false;
        self.store
            .audit_visit(stream.size(), &mut |seq, bytes, _| {
                if seq != stream.size() + 1 {
                    gap = true;
                    return false;
                }
                stream.push(rempart_audit::leaf_of(seq, bytes));
                true
            })?;
        if gap {
            return Err(StoreError::Corrupt("audit log has a gap").into());
        }
        if let Some(l) = latest.filter(|l| l.size == stream.size()) {
            return Ok(l);
        }
        let (size, root, time) = (stream.size(), stream.root(), self.clock.now());
        let sig = self
            .keyring
            .sign_audit(&rempart_audit::Checkpoint::message(size, &root, time))
            .ok_or(VaultError::NoAuditKey)?;
        let cp = rempart_audit::Checkpoint::new(size, &root, time, &sig);
        self.store.insert_checkpoint(&cp)?;
        witness.append(&cp)?;
        Ok(cp)
    }

    pub(crate) fn checkpoint_of_size(
        &self,
        size: u64,
    ) -> Result<rempart_audit::Checkpoint, VaultError> {
        self.store
            .checkpoints()?
            .into_iter()
            .find(|c| c.size == size)
            .ok_or(VaultError::NotInLog)
    }

    /// The latest signed checkpoint, for `p` if the policy allows it.
    pub fn checkpoint_for(
        &self,
        p: &Principal,
    ) -> Result<Option<rempart_audit::Checkpoint>, VaultError> {
        self.audit_reader(p, LogAct::ReadCheckpoint, Action::AuditProof)?;
        self.latest_checkpoint()
    }

    /// The latest recorded checkpoint.
    pub fn latest_checkpoint(&self) -> Result<Option<rempart_audit::Checkpoint>, VaultError> {
        Ok(self.store.latest_checkpoint()?)
    }

    /// The public key that verifies checkpoints.
    pub fn audit_public_key(&self) -> Result<[u8; 32], VaultError> {
        self.keyring
            .audit_public_key()
            .ok_or(VaultError::NoAuditKey)
    }
}
