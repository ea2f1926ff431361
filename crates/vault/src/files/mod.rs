//! Operations on files, one module each, and the policy questions they share.

mod caseload;
mod create;
mod decoys;
mod erase;
mod import;
mod list;
mod read;
mod search;
mod update;

use crate::access::{self, Caller};
use crate::core::*;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use crate::views::*;
use rempart_audit::Action;
use rempart_crypto::DataKey;
use rempart_domain::{Category, Purpose, Role};
use rempart_policy::{Act, Situation, Target};
use rempart_store::{ListScope, Reads, StoredPerson};

impl Vault {
    /// A stored file and its data key; `NotFound` for a missing or erased one. Whether the
    /// caller may see it is for the policy to say.
    pub(crate) fn load(&self, id: &str) -> Result<(StoredPerson, DataKey), VaultError> {
        self.load_in(self.reads(), id)
    }

    /// [`Vault::load`], reading the file through `reads` (a snapshot).
    pub(crate) fn load_in(
        &self,
        reads: &dyn Reads,
        id: &str,
    ) -> Result<(StoredPerson, DataKey), VaultError> {
        if !is_file_id(id) {
            return Err(VaultError::NotFound);
        }
        let stored = reads.get_person(id)?.ok_or(VaultError::NotFound)?;
        let stored = self.verified(stored)?;
        let dk = self.data_key(id)?.ok_or(VaultError::NotFound)?;
        Ok((stored, dk))
    }

    /// Whether the caller may see anything of the file for some purpose: a refused act on a
    /// file the caller cannot see at all is answered as "not found", never "forbidden".
    pub(crate) fn visible_at_all(&self, p: &Principal, stored: &StoredPerson, minor: bool) -> bool {
        let caller = Caller::of(p);
        let facts = access::facts(stored, minor);
        Purpose::ALL.iter().any(|&purpose| {
            self.policies
                .grant(&caller.subject(), &facts, &self.situation(p, purpose))
                .any()
        })
    }

    /// Refuses an act the policy did not allow: `NotFound` if the caller can see nothing of
    /// the file, else `Forbidden(why)`; recorded either way.
    pub(crate) fn refuse(
        &self,
        p: &Principal,
        action: Action,
        stored: &StoredPerson,
        minor: bool,
        purpose: Option<Purpose>,
        why: &'static str,
    ) -> VaultError {
        let err = if self.visible_at_all(p, stored, minor) {
            VaultError::Forbidden(why)
        } else {
            VaultError::NotFound
        };
        self.denied(p, action, &stored.id, purpose, err)
    }

    /// Checks an act on a whole file (erase, assign, enrol, access history): the stored file
    /// and its data key (`None` once destroyed) if the policy allows it, else the refusal,
    /// recorded.
    pub(crate) fn authorise_whole_file(
        &self,
        p: &Principal,
        id: &str,
        act: Act,
        action: Action,
        purpose: Purpose,
        why: &'static str,
    ) -> Result<(StoredPerson, Option<DataKey>), VaultError> {
        let Some(stored) = self.store.get_person(id)? else {
            return Err(self.denied(p, action, id, None, VaultError::NotFound));
        };
        let stored = self
            .verified(stored)
            .map_err(|e| self.denied(p, action, id, None, e))?;
        let dk = self.data_key(id)?;
        // A file whose key is already gone (an erasure cut short) is decided as an adult's.
        let minor = match &dk {
            Some(dk) => self.minor(&stored, dk)?,
            None => false,
        };
        let caller = Caller::of(p);
        if !self.policies.allows(
            &caller.subject(),
            act,
            &access::facts(&stored, minor),
            &self.situation(p, purpose),
            Target::File,
        ) {
            return Err(self.refuse(p, action, &stored, minor, None, why));
        }
        Ok((stored, dk))
    }

    /// The identity of a stored file, if the policy lets the caller read it for `purpose`.
    pub(crate) fn identity_if_allowed(
        &self,
        caller: &Caller,
        how: &Situation,
        stored: &StoredPerson,
    ) -> Result<Option<SearchHit>, VaultError> {
        if !facts::file_verifies(self.keyring.facts(), stored) {
            return match self.verified(stored.clone()) {
                Err(VaultError::NotFound) | Ok(_) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let Some(dk) = self.data_key(&stored.id)? else {
            return Ok(None);
        };
        let rec = self.open(stored, &dk, &[Category::Identity])?;
        let minor = access::is_minor(&rec, self.clock.today());
        let allowed = self.policies.allows(
            &caller.subject(),
            Act::Read,
            &access::facts(stored, minor),
            how,
            Target::Category(Category::Identity),
        );
        // What a person needs to pick a file, and no more: names and birth date.
        Ok(allowed.then(|| SearchHit {
            id: stored.id.clone(),
            identity: rec.identity.map(|i| rempart_domain::Identity {
                last_name: i.last_name,
                first_names: i.first_names,
                birth_date: i.birth_date,
                sex: None,
                nationality: None,
            }),
        }))
    }

    /// The files a role works with, for listings (`caseload`: a counsellor's own) and searches:
    /// a counsellor's caseload or agency, the people enrolled with a partner, the agency's
    /// files for the other roles.
    pub(crate) fn scope_of(p: &Principal, caseload: bool) -> ListScope<'_> {
        match p.role {
            Role::Counsellor if caseload => ListScope::Caseload {
                agency: p.agency.as_str(),
                counsellor: &p.name,
            },
            Role::Partner => ListScope::Enrolled(p.agency.as_str()),
            _ => ListScope::Agency(p.agency.as_str()),
        }
    }
}
