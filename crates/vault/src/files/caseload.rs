//! Caseloads and enrolments: assigning a file to a counsellor, enrolling a person with a
//! partner.

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use crate::sealing::Sealing;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Category, Purpose, ValidFile};
use rempart_policy::Act;
use rempart_store::PersonUpdate;

impl Vault {
    /// Assigns the file to a counsellor (`None`: to nobody): the follow-up category and the
    /// caseload change together, with their audit entry.
    pub fn assign(
        &self,
        p: &Principal,
        id: &str,
        counsellor: Option<&str>,
    ) -> Result<(), VaultError> {
        let (stored, dk) = self.authorise_whole_file(
            p,
            id,
            Act::Assign,
            Action::Assign,
            Purpose::Accompaniment,
            "the access policy does not allow you to assign this file",
        )?;
        let dk = dk.ok_or(VaultError::NotFound)?;
        let mut record = self.open(&stored, &dk, Category::ALL)?;
        record
            .followup
            .get_or_insert_with(Default::default)
            .counsellor = counsellor.map(str::to_string);
        let file = ValidFile::parse(record, &self.rules())?;
        let counsellor = file.counsellor().map(str::to_string);
        let s = Sealing {
            id,
            dk: &dk,
            version: stored.dk_version,
        };
        let update = PersonUpdate {
            fields: vec![(
                Category::Followup,
                s.seal(file.record(), Category::Followup),
            )],
            index: self.index_entries(&file),
            counsellor: Some(counsellor.clone()),
            facts: Some(self.facts_change(&stored, counsellor.as_deref(), &stored.partners)),
            now: self.clock.now(),
        };
        let mut e = self.entry(
            p,
            Action::Assign,
            vec![id.to_string()],
            names([Category::Followup]),
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "counsellor={}",
            counsellor.as_deref().unwrap_or("-")
        ));
        if !self.store.update_person(id, &stored.agency, &update, &e)? {
            return Err(VaultError::NotFound);
        }
        Ok(())
    }

    /// Enrols the person with a partner organisation (or ends the enrolment), so that the
    /// partner's principals see what the policy gives partners. `Ok(false)`: nothing to change.
    pub fn enrol(
        &self,
        p: &Principal,
        id: &str,
        partner: &Agency,
        enrolled: bool,
    ) -> Result<bool, VaultError> {
        let action = if enrolled {
            Action::Enrol
        } else {
            Action::Unenrol
        };
        let (stored, _) = self.authorise_whole_file(
            p,
            id,
            Act::Enrol,
            action,
            Purpose::Accompaniment,
            "the access policy does not allow you to enrol this person",
        )?;
        let mut partners = stored.partners.clone();
        partners.retain(|x| x != partner.as_str());
        if enrolled {
            partners.push(partner.as_str().to_string());
            partners.sort();
        }
        let change = self.facts_change(&stored, stored.counsellor.as_deref(), &partners);
        let mut e = self.entry(
            p,
            action,
            vec![id.to_string()],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("partner={}", partner.as_str()));
        Ok(self.store.set_enrolment(
            id,
            partner.as_str(),
            enrolled,
            &change,
            self.clock.now(),
            &e,
        )?)
    }
}
