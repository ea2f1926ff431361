//! Reading a file: the categories the policy allows for the purpose.

use crate::access::{self, Caller};
use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Category, Purpose};
use rempart_store::Reads;

impl Vault {
    /// Reads the categories `wanted` (all when `None`) that the policy lets the caller see
    /// for `purpose`; the others are absent. A file of which nothing may be seen is
    /// `NotFound`, as a missing one.
    pub fn read(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<PersonView, VaultError> {
        let (view, ticket) = self.read_pending_audit(p, id, purpose, wanted)?;
        ticket.wait()?;
        Ok(view)
    }

    /// [`Vault::read`] in two halves, for an asynchronous caller: the view and the ticket of its
    /// audit entry. **The view must not leave before the ticket completes with `Ok`** (no log,
    /// no data); awaiting the ticket does not hold a thread.
    pub fn read_pending_audit(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<(PersonView, rempart_store::AuditTicket), VaultError> {
        self.read_pending_audit_in(self.reads(), p, id, purpose, wanted)
    }

    /// [`Vault::read_pending_audit`], reading the file through `reads` (a snapshot).
    pub fn read_pending_audit_in(
        &self,
        reads: &dyn Reads,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<(PersonView, rempart_store::AuditTicket), VaultError> {
        let (stored, dk) = self
            .load_in(reads, id)
            .map_err(|e| self.denied(p, Action::Read, id, Some(purpose), e))?;
        // The identity is opened once: for the minor test, and returned if allowed.
        let identity = self.open(&stored, &dk, &[Category::Identity])?;
        let minor = access::is_minor(&identity, self.clock.today());
        let caller = Caller::of(p);
        let grant = self.policies.grant(
            &caller.subject(),
            &access::facts(&stored, minor),
            &self.situation(p, purpose),
        );
        if !grant.any() {
            return Err(self.denied(p, Action::Read, id, Some(purpose), VaultError::NotFound));
        }
        let wanted: Vec<Category> = wanted
            .unwrap_or(Category::ALL)
            .iter()
            .copied()
            .filter(|c| grant.allows(*c))
            .collect();
        let others: Vec<Category> = wanted
            .iter()
            .copied()
            .filter(|c| *c != Category::Identity)
            .collect();
        let mut record = self.open(&stored, &dk, &others)?;
        if wanted.contains(&Category::Identity) {
            record.identity = identity.identity;
        }
        let masked = grant.nir == rempart_policy::NirForm::LastDigits;
        if masked {
            access::mask_nir(&mut record);
        }
        let returned = stored
            .fields
            .iter()
            .map(|f| f.0)
            .filter(|c| wanted.contains(c))
            .map(|c| access::read_name(c, masked))
            .collect();
        let entry = self.entry(
            p,
            Action::Read,
            vec![stored.id.clone()],
            returned,
            Some(purpose),
            Outcome::Allowed,
        );
        let ticket = self.store.submit_audit(&[entry]);
        Ok((
            PersonView {
                id: stored.id,
                record,
            },
            ticket,
        ))
    }
}
