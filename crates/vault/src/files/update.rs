//! Updating a file's categories.

use crate::access::{self, Caller};
use crate::core::*;
use crate::disclosure::{Disclosure, Reached, Record, Shape};
use crate::error::VaultError;
use crate::principal::Principal;
use crate::sealing::Sealing;
use crate::views::*;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Category, PersonInput, Purpose, ValidFile};
use rempart_policy::{Act, Target};
use rempart_store::{PersonUpdate, StoredPerson};

impl Vault {
    /// Replaces the categories present in `patch`, if the policy lets the caller write each
    /// of them (and assign the file, when the patch changes its counsellor); the result must
    /// be a valid file. Returns the changed categories as the caller may read them.
    pub fn update(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        patch: PersonInput,
    ) -> Result<PersonView, VaultError> {
        self.disclose_update(p, id, purpose, patch)?.wait()
    }

    /// [`Vault::update`] for an asynchronous caller: the changed categories leave through
    /// [`Disclosure::release`] (the update's entry is durable with the update itself).
    pub fn disclose_update(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        patch: PersonInput,
    ) -> Result<Disclosure<PersonView>, VaultError> {
        if !Category::ALL.iter().any(|c| patch.has(*c)) {
            return Err(VaultError::Invalid(rempart_domain::ValidationErrors(vec![
                rempart_domain::FieldError {
                    field: "body".into(),
                    message: "give at least one category to change".into(),
                },
            ])));
        }
        let (stored, dk) = self
            .load(id)
            .map_err(|e| self.denied(p, Action::Update, id, Some(purpose), e))?;
        let mut record = self.open(&stored, &dk, Category::ALL)?;
        let minor = access::is_minor(&record, self.clock.today());
        let changed: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| patch.has(*c))
            .collect();
        let caller = Caller::of(p);
        let facts = access::facts(&stored, minor);
        let how = self.situation(p, purpose);
        let allowed = |act, target| {
            self.policies
                .allows(&caller.subject(), act, &facts, &how, target)
        };
        if !changed
            .iter()
            .all(|c| allowed(Act::Update, Target::Category(*c)))
        {
            return Err(self.refuse(
                p,
                Action::Update,
                &stored,
                minor,
                Some(purpose),
                "the access policy does not allow you to change these categories of this file",
            ));
        }
        if patch.agency.as_deref().is_some_and(|a| {
            Agency::parse(a).ok().map(|a| a.as_str().to_string()) != Some(stored.agency.clone())
        }) {
            return Err(self.denied(
                p,
                Action::Update,
                id,
                Some(purpose),
                VaultError::Forbidden("a file cannot be moved to another agency"),
            ));
        }
        for c in &changed {
            record.take_category(&patch, *c);
        }
        let file = ValidFile::parse(record, &self.rules())?;
        // The counsellor changes only through a patch of the follow-up: otherwise it is the
        // verified one, whatever an older follow-up ciphertext written back by hand says.
        let counsellor = if patch.has(Category::Followup) {
            file.counsellor().map(str::to_string)
        } else {
            stored.counsellor.clone()
        };
        let reassigned = counsellor != stored.counsellor;
        if reassigned && !allowed(Act::Assign, Target::File) {
            return Err(self.refuse(
                p,
                Action::Update,
                &stored,
                minor,
                Some(purpose),
                "the access policy does not allow you to assign this file",
            ));
        }
        // Containment decides before the write: a refused change writes nothing. Asked again
        // when the answer leaves, the person is already counted.
        self.contain(p, &[Reached::of(p, &stored)], Shape::Update)?;
        let s = Sealing {
            id,
            dk: &dk,
            version: stored.dk_version,
        };
        let update = PersonUpdate {
            fields: changed
                .iter()
                .map(|c| (*c, s.seal(file.record(), *c)))
                .collect(),
            index: self.index_entries(&file),
            counsellor: reassigned.then(|| counsellor.clone()),
            facts: reassigned
                .then(|| self.facts_change(&stored, counsellor.as_deref(), &stored.partners)),
            now: self.clock.now(),
        };
        let mut e = self.entry(
            p,
            Action::Update,
            vec![id.to_string()],
            names(changed.iter().copied()),
            Some(purpose),
            Outcome::Allowed,
        );
        // A change of what the policy is told about the file (its counsellor, whether the
        // person is a minor, which follows the birth date) is recorded as such.
        let minor_after = access::is_minor(file.record(), self.clock.today());
        let mut changes = Vec::new();
        if reassigned {
            changes.push(format!(
                "counsellor={}",
                counsellor.as_deref().unwrap_or("-")
            ));
        }
        if minor_after != minor {
            changes.push(format!("access fact changed: minor={minor_after}"));
        }
        if !changes.is_empty() {
            let mut detail = changes.join(" ");
            if let Some(bg) = e.detail.take() {
                detail = format!("{detail} {bg}");
            }
            e.detail = Some(detail);
        }
        if !self.store.update_person(id, &stored.agency, &update, &e)? {
            return Err(VaultError::NotFound);
        }
        // The response holds the changed categories only, as the caller may read them for
        // this purpose (the NIR masked where a read would mask it): writing a category gives
        // no read of the others.
        let after = StoredPerson {
            counsellor: counsellor.clone(),
            ..stored
        };
        let grant = self.policies.grant(
            &caller.subject(),
            &access::facts(&after, minor_after),
            &self.situation(p, purpose),
        );
        let mut record = PersonInput {
            agency: Some(after.agency.clone()),
            ..Default::default()
        };
        for c in changed.iter().filter(|c| grant.allows(**c)) {
            record.take_category(file.record(), *c);
        }
        if grant.nir == rempart_policy::NirForm::LastDigits {
            access::mask_nir(&mut record);
        }
        // The entry went into the log with the update; containment was asked before it.
        self.disclose(
            p,
            PersonView {
                id: id.to_string(),
                record,
            },
            vec![Reached::of(p, &after)],
            Shape::Update,
            Record::Written,
        )
    }
}
