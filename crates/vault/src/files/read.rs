//! Reading a file: the categories the policy allows for the purpose.

use crate::access::{self, Caller};
use crate::core::*;
use crate::disclosure::{Disclosure, Reached, Record, Shape};
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use rempart_audit::{Action, Outcome};
use rempart_crypto::DataKey;
use rempart_domain::PersonInput;
use rempart_domain::{Category, Purpose};
use rempart_store::{Reads, StoredPerson};

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
        self.disclose_read(p, id, purpose, wanted)?.wait()
    }

    /// [`Vault::read`] for an asynchronous caller: the file leaves through
    /// [`Disclosure::release`], which does not hold a thread while its entry becomes durable.
    pub fn disclose_read(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<Disclosure<PersonView>, VaultError> {
        self.disclose_read_in(self.reads(), p, id, purpose, wanted)
    }

    /// [`Vault::disclose_read`], reading the file through `reads` (a snapshot).
    pub fn disclose_read_in(
        &self,
        reads: &dyn Reads,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<Disclosure<PersonView>, VaultError> {
        let (stored, dk) = self
            .load_in(reads, id)
            .map_err(|e| self.denied(p, Action::Read, id, Some(purpose), e))?;
        let Some((record, returned)) = self.view_as(p, &stored, &dk, purpose, wanted)? else {
            return Err(self.denied(p, Action::Read, id, Some(purpose), VaultError::NotFound));
        };
        let entry = self.entry(
            p,
            Action::Read,
            vec![stored.id.clone()],
            returned,
            Some(purpose),
            Outcome::Allowed,
        );
        let reached = Reached::of(p, &stored);
        self.disclose(
            p,
            PersonView {
                id: stored.id,
                record,
            },
            vec![reached],
            Shape::Read,
            Record::Submit(vec![entry]),
        )
    }

    /// The categories of `stored` that the policy lets `p` read for `purpose` (those of
    /// `wanted`, all when `None`), opened, the NIR masked where the policy says, and their
    /// names as the log records them; `None` when it may read nothing.
    pub(crate) fn view_as(
        &self,
        p: &Principal,
        stored: &StoredPerson,
        dk: &DataKey,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<Option<(PersonInput, Vec<String>)>, VaultError> {
        // The identity is opened once: for the minor test, and returned if allowed.
        let identity = self.open(stored, dk, &[Category::Identity])?;
        let minor = access::is_minor(&identity, self.clock.today());
        let caller = Caller::of(p);
        let grant = self.policies.grant(
            &caller.subject(),
            &access::facts(stored, minor),
            &self.situation(p, purpose),
        );
        if !grant.any() {
            return Ok(None);
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
        let mut record = self.open(stored, dk, &others)?;
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
        Ok(Some((record, returned)))
    }
}
