//! The one-time upgrade that tags the access facts of rows stored before tags existed.

use crate::{StoreError, StoredPerson, TokenRecord};
use rempart_audit::AuditEntry;

/// Tagging rows stored before access facts were tagged. Only the process that applied the
/// schema change introducing tags may do it (or one whose operator vouches for the untagged
/// rows): a flag in the database alone could be set again by someone who writes it, to have
/// forged rows tagged.
pub trait FactsUpgrade: Send + Sync {
    /// Up to `limit` files and tokens stored before access facts were tagged; both empty once
    /// [`FactsUpgrade::bind_facts`] has been told it is done (from then on an untagged row is
    /// a row written without the key), or when this process may not tag them.
    fn unbound_facts(
        &self,
        limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError>;
    /// Lets [`FactsUpgrade::unbound_facts`] and [`FactsUpgrade::bind_facts`] work although
    /// this process did not apply the schema change that introduced tags (an upgrade
    /// interrupted before its rows were all tagged): the operator vouches that the untagged
    /// rows were not written meanwhile.
    fn trust_untagged_rows(&self);
    /// Writes the tags of files and tokens stored before tags (only where none is set),
    /// with their audit entry; `done` ends the upgrade.
    fn bind_facts(
        &self,
        persons: &[(String, Vec<u8>)],
        tokens: &[(String, Vec<u8>)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}
