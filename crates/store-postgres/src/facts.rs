//! Tagging rows stored before access facts were tagged: none on PostgreSQL, whose schema has
//! tagged them from its first version. An untagged row here was written without the key, and
//! no process may tag it.

use crate::PgStore;
use rempart_audit::AuditEntry;
use rempart_store::{FactsUpgrade, StoreError, StoredPerson, TokenRecord};

impl FactsUpgrade for PgStore {
    fn unbound_facts(
        &self,
        _limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError> {
        Ok((Vec::new(), Vec::new()))
    }

    /// Nothing to trust: no row on PostgreSQL predates tags.
    fn trust_untagged_rows(&self) {}

    fn bind_facts(
        &self,
        _persons: &[(String, Vec<u8>)],
        _tokens: &[(String, Vec<u8>)],
        _done: bool,
        _audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}
