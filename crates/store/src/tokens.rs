//! API tokens (their hashes, never the tokens) and principals' suspensions.

use crate::{PrincipalRecord, StoreError, TokenChange, TokenRecord};
use rempart_audit::AuditEntry;

/// Where tokens and principals' suspensions live (their point reads are in [`crate::Reads`]).
pub trait TokenStore: Send + Sync {
    /// Stores a new token record, with its audit entry in the same transaction;
    /// `PrincipalSuspended` (nothing written) while its principal is suspended.
    fn insert_token(&self, token: &TokenRecord, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Every token that can be read, by creation time (hashes included: they are not
    /// secrets); a row that cannot be read is skipped.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Applies token changes (each only if the row still holds its expected tag) and, when
    /// given, a principal's suspension, with their audit entry, all in one transaction. For a
    /// principal, `changes` must name every one of its tokens, else `Conflict`. A principal
    /// restored (no longer suspended) closes its open alerts ([`crate::AlertStore`]), restored
    /// at its `since` by the principal of `audit`.
    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}
