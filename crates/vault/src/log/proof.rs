//! Inclusion and consistency proofs, redacted outside the caller's agency, and recorded.

use crate::access::Caller;
use crate::core::*;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_domain::Purpose;
use rempart_policy::LogAct;
use rempart_store::StoreError;

impl Vault {
    /// A proof that entry `seq` is in the signed checkpoint of `size` (the latest by default).
    /// Only operators and the DPO may ask: entries say who read which file.
    pub fn inclusion_proof(
        &self,
        p: &Principal,
        seq: u64,
        size: Option<u64>,
    ) -> Result<rempart_audit::InclusionProof, VaultError> {
        self.audit_reader(p, LogAct::Prove, Action::AuditProof)?;
        let checkpoint = match size {
            Some(s) => self.checkpoint_of_size(s)?,
            None => self.latest_checkpoint()?.ok_or(VaultError::NotInLog)?,
        };
        if seq == 0 || seq > checkpoint.size {
            return Err(VaultError::NotInLog);
        }
        self.record_proof(p, format!("inclusion seq={seq} size={}", checkpoint.size))?;
        let mut entry = None;
        self.store.audit_visit(seq - 1, &mut |s, bytes, _| {
            if s == seq {
                entry = Some(bytes.to_vec());
            }
            false
        })?;
        let entry = entry.ok_or(VaultError::NotInLog)?;
        let path = rempart_audit::merkle::inclusion_path(
            &mut *self.store.audit_subtrees()?,
            seq - 1,
            checkpoint.size,
        )?;
        let proof = rempart_audit::InclusionProof::new(seq, &entry, &path, checkpoint)
            .ok_or(StoreError::Corrupt("audit entry"))?;
        if self.may_see_entry(p, &proof.entry)? {
            Ok(proof)
        } else {
            Ok(proof.redact())
        }
    }

    /// Whether `p` may see who made an entry (principal, token, client address, request id,
    /// persons, justification): the local administrator always; otherwise an entry made by a
    /// principal of the caller's own agency, or one whose every person is a file of the caller's
    /// agency (a partner's or a colleague's access to the agency's files). Entries of other
    /// agencies are shown redacted.
    pub(crate) fn may_see_entry(&self, p: &Principal, e: &AuditEntry) -> Result<bool, VaultError> {
        if p.token_id == "-" && p.name == "cli" {
            return Ok(true);
        }
        if e.agency == p.agency.as_str() {
            return Ok(true);
        }
        if e.persons.is_empty() {
            return Ok(false);
        }
        for id in &e.persons {
            match self.store.get_person(id)? {
                Some(f)
                    if f.agency == p.agency.as_str()
                        && facts::file_verifies(self.keyring.facts(), &f) => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// A proof that the signed checkpoint of size `first` is a prefix of the one of `second`.
    pub fn consistency_proof(
        &self,
        p: &Principal,
        first: u64,
        second: u64,
    ) -> Result<rempart_audit::ConsistencyProof, VaultError> {
        self.audit_reader(p, LogAct::Prove, Action::AuditProof)?;
        if first > second {
            return Err(VaultError::Forbidden(
                "first must not be larger than second",
            ));
        }
        let (a, b) = (
            self.checkpoint_of_size(first)?,
            self.checkpoint_of_size(second)?,
        );
        self.record_proof(p, format!("consistency first={first} second={second}"))?;
        let path = rempart_audit::merkle::consistency_path(
            &mut *self.store.audit_subtrees()?,
            first,
            second,
        )?;
        Ok(rempart_audit::ConsistencyProof {
            first: a,
            second: b,
            path: rempart_audit::hex_path(&path),
        })
    }

    /// A proof shows an entry of the log (who read which file): reading one is recorded.
    pub(crate) fn record_proof(&self, p: &Principal, detail: String) -> Result<(), VaultError> {
        let mut e = self.entry(
            p,
            Action::AuditProof,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(detail);
        Ok(self.store.append_audit(&[e])?)
    }

    /// Operators and the DPO read the log; anyone else is refused, and the attempt recorded.
    /// Checks an act on the audit log against the policy; a refusal is recorded as `action`.
    pub(crate) fn audit_reader(
        &self,
        p: &Principal,
        act: LogAct,
        action: Action,
    ) -> Result<(), VaultError> {
        let caller = Caller::of(p);
        let how = self.situation(p, Purpose::BreachResponse);
        if self
            .policies
            .decide_log(&caller.subject(), act, &how)
            .allowed
        {
            return Ok(());
        }
        let e = self.entry(p, action, vec![], vec![], None, Outcome::Denied);
        self.store.append_audit(&[e])?;
        Err(VaultError::Forbidden(
            "the access policy does not allow you this use of the audit log",
        ))
    }
}
