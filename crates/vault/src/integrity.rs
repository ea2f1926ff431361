//! Authorisation facts checked against their tags before they are used; a row that does not
//! verify is refused and recorded as an integrity alert.

use crate::core::*;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::Agency;
use rempart_store::{FactsChange, StoreError, StoredPerson};

impl Vault {
    /// The new tag of a verified file's access facts once its counsellor and enrolments are
    /// these, written only over the tag it was read with.
    pub(crate) fn facts_change(
        &self,
        stored: &StoredPerson,
        counsellor: Option<&str>,
        partners: &[String],
    ) -> FactsChange {
        FactsChange {
            expected: stored.facts_tag.clone(),
            tag: facts::file_tag(
                self.keyring.facts(),
                &stored.id,
                &stored.agency,
                counsellor,
                partners,
            )
            .to_vec(),
        }
    }

    /// The stored file if its access facts verify; otherwise it is treated as missing
    /// (`NotFound`), with an integrity alert recorded.
    pub(crate) fn verified(&self, stored: StoredPerson) -> Result<StoredPerson, VaultError> {
        if facts::file_verifies(self.keyring.facts(), &stored) {
            return Ok(stored);
        }
        Err(self.integrity_alert(
            None,
            Some(&stored.id),
            "file access facts (agency, counsellor, enrolments)".to_string(),
        ))
    }

    /// Records that a stored row failed its integrity check (it was written without the key:
    /// the threat model's insider with write access to the database) and returns the refusal
    /// the row gets: `NotFound` for a file, `Unauthenticated` for a token. `what` names the
    /// kind of row, never a value.
    pub(crate) fn integrity_alert(
        &self,
        by: Option<&Principal>,
        person: Option<&str>,
        what: String,
    ) -> VaultError {
        tracing::error!(
            target: "rempart::integrity",
            row = %what,
            person = person.unwrap_or("-"),
            "a stored row does not verify against its tag: treated as absent"
        );
        let actor = match by {
            Some(p) => p.clone(),
            None => match Agency::parse("LOCAL") {
                Ok(local) => Principal::integrity(local),
                Err(_) => return StoreError::Corrupt("agency").into(),
            },
        };
        let mut e = self.entry(
            &actor,
            Action::IntegrityAlert,
            person.into_iter().map(str::to_string).collect(),
            vec![],
            None,
            Outcome::Denied,
        );
        e.detail = Some(format!("{what} do not verify"));
        if let Err(err) = self.store.append_audit(&[e]) {
            return err.into();
        }
        if person.is_some() {
            VaultError::NotFound
        } else {
            VaultError::Unauthenticated
        }
    }
}
