//! Creating a file.

use crate::access::{self, Caller};
use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Category, PersonInput, Purpose, ValidFile};
use rempart_policy::{Act, Target};

impl Vault {
    /// Creates a file, if the policy lets the caller write each of its categories.
    pub fn create(&self, p: &Principal, input: PersonInput) -> Result<String, VaultError> {
        let file = ValidFile::parse(input, &self.rules())?;
        let caller = Caller::of(p);
        let how = self.situation(p, Purpose::Accompaniment);
        let facts = rempart_policy::FileFacts {
            id: "",
            agency: file.agency().as_str(),
            counsellor: file.counsellor(),
            partners: &[],
            minor: access::is_minor(file.record(), self.clock.today()),
        };
        let refused = Category::ALL.iter().any(|&c| {
            file.record().has(c)
                && !self.policies.allows(
                    &caller.subject(),
                    Act::Create,
                    &facts,
                    &how,
                    Target::Category(c),
                )
        });
        if refused {
            let e = self.entry(p, Action::Create, vec![], vec![], None, Outcome::Denied);
            self.store.append_audit(&[e])?;
            return Err(VaultError::Forbidden(
                "the access policy does not allow you to create this file",
            ));
        }
        let (person, key) = self.seal_new(&file);
        let id = person.id.clone();
        // Key first: a crash in between leaves an orphan key (harmless), never a file
        // without its key.
        self.keys.put_keys(std::slice::from_ref(&key))?;
        let e = self.entry(
            p,
            Action::Create,
            vec![id.clone()],
            names(person.fields.iter().map(|f| f.0)),
            None,
            Outcome::Allowed,
        );
        self.store
            .insert_persons(std::slice::from_ref(&person), &[e])?;
        Ok(id)
    }

    /// Whether `p` may create a file in `agency` at all, decided before the body is validated.
    /// A file always has its identity: a caller the policy refuses the identity of a file of
    /// that agency (assigned to `counsellor`, as the body says), minor or adult, can create
    /// none, and is refused here as [`Vault::create`] would refuse it (recorded `denied`),
    /// without the cost of validation. `agency` is the body's, or the caller's own when the body
    /// has none that parses (validation then names it).
    pub fn may_create(
        &self,
        p: &Principal,
        agency: Option<&str>,
        counsellor: Option<&str>,
    ) -> Result<(), VaultError> {
        let agency = agency
            .and_then(|a| Agency::parse(a).ok())
            .unwrap_or_else(|| p.agency.clone());
        let counsellor = counsellor.map(|c| c.trim().to_ascii_lowercase());
        let caller = Caller::of(p);
        let how = self.situation(p, Purpose::Accompaniment);
        let allowed = [false, true].into_iter().any(|minor| {
            let facts = rempart_policy::FileFacts {
                id: "",
                agency: agency.as_str(),
                counsellor: counsellor.as_deref(),
                partners: &[],
                minor,
            };
            self.policies.allows(
                &caller.subject(),
                Act::Create,
                &facts,
                &how,
                Target::Category(Category::Identity),
            )
        });
        if allowed {
            return Ok(());
        }
        let e = self.entry(p, Action::Create, vec![], vec![], None, Outcome::Denied);
        self.store.append_audit(&[e])?;
        Err(VaultError::Forbidden(
            "the access policy does not allow you to create this file",
        ))
    }
}
