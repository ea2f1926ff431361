//! A file's access history, for the DPO of its agency.

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use rempart_audit::{Action, Outcome};
use rempart_domain::Purpose;
use rempart_policy::Act;

impl Vault {
    /// The access history of a file visible to `p`, newest first; reading it is itself
    /// recorded.
    pub fn accesses(
        &self,
        p: &Principal,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Access>, VaultError> {
        self.authorise_whole_file(
            p,
            id,
            Act::ReadAccesses,
            Action::ReadAccesses,
            Purpose::DataSubjectRequest,
            "the access policy does not allow you to read this file's access history",
        )?;
        self.store.append_audit(&[self.entry(
            p,
            Action::ReadAccesses,
            vec![id.to_string()],
            vec![],
            None,
            Outcome::Allowed,
        )])?;
        Ok(self
            .store
            .audit_for_person(id, limit.clamp(1, 1000))?
            .into_iter()
            .map(|(seq, e)| Access {
                seq,
                time: e.time,
                principal: e.principal,
                role: e.role,
                agency: e.agency,
                action: e.action,
                categories: e.categories,
                purpose: e.purpose,
                outcome: e.outcome,
            })
            .collect())
    }
}
