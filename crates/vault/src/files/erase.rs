//! Erasing a file: its key first, then its rows.

use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::Purpose;
use rempart_policy::Act;

impl Vault {
    /// Erases a file by destroying its data key, then removes its sealed rows.
    pub fn erase(&self, p: &Principal, id: &str) -> Result<(), VaultError> {
        let (stored, _) = self.authorise_whole_file(
            p,
            id,
            Act::Erase,
            Action::Erase,
            Purpose::DataSubjectRequest,
            "the access policy does not allow you to erase this file",
        )?;
        // The key goes first: from this point no copy of the file store can be read. Then the
        // sealed rows go, with the audit entry, in one transaction; if that fails, running the
        // erasure again finds the rows, no key, and finishes (the key stays destroyed).
        self.keys.destroy_key(id)?;
        let e = self.entry(
            p,
            Action::Erase,
            vec![id.to_string()],
            names(stored.fields.iter().map(|f| f.0)),
            None,
            Outcome::Allowed,
        );
        self.store.delete_person(id, &e)?;
        Ok(())
    }
}
