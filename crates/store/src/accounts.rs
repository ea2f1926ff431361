//! Principals as records (accounts), and the requests that create, raise or move them: a
//! request made by one operator takes effect only when a second one approves it.

use crate::{AlertRecord, StoreError};
use rempart_audit::AuditEntry;

/// A principal as a record: who it is, where, with which role, and who made and approved it.
/// Its suspension stays in its suspension record ([`crate::PrincipalRecord`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Principal name (lower case), e.g. `c.durand`.
    pub name: String,
    /// Agency code.
    pub agency: String,
    /// Role name.
    pub role: String,
    /// Disabled: it authenticates no more, whatever its credential.
    pub disabled: bool,
    /// Who asked for it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Who approved its current role and agency.
    pub approved_by: String,
    /// When its current role and agency were approved, Unix seconds: its probation counts
    /// from there.
    pub approved_at: i64,
    /// The identity provider's issuer and subject (`ISS SUB`) the principal is bound to, from
    /// its first sign-in (`None`: not signed in yet).
    pub subject: Option<String>,
    /// Tag over every field above, made with the key.
    pub tag: Option<Vec<u8>>,
}

/// A request to create a principal, raise its role or move it to another agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRequest {
    /// Public id (`req_…`).
    pub id: String,
    /// `create`, `role` or `move`.
    pub kind: String,
    /// The principal.
    pub name: String,
    /// Its agency once approved.
    pub agency: String,
    /// Its role once approved.
    pub role: String,
    /// Who asked.
    pub requested_by: String,
    /// The asker's agency.
    pub requested_from: String,
    /// Unix seconds.
    pub requested_at: i64,
    /// Who decided (`None`: pending).
    pub decided_by: Option<String>,
    /// Unix seconds.
    pub decided_at: Option<i64>,
    /// Approved or refused (`None`: pending).
    pub approved: Option<bool>,
    /// Tag over every field above, made with the key.
    pub tag: Option<Vec<u8>>,
}

/// Where accounts and their requests live (an account's point read is in [`crate::Reads`]).
pub trait AccountStore: Send + Sync {
    /// Every account that can be read, by name.
    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError>;
    /// Every request, newest first.
    fn account_requests(&self) -> Result<Vec<AccountRequest>, StoreError>;
    /// One request.
    fn account_request(&self, id: &str) -> Result<Option<AccountRequest>, StoreError>;
    /// Records a request with its alert (recorded closed: it suspends no one) and its entry,
    /// in one transaction. `Conflict` (nothing written) while another request for the same
    /// principal is pending.
    fn request_account(
        &self,
        request: &AccountRequest,
        alert: &AlertRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Decides a request, in one transaction: `decided` replaces the request only if it is
    /// still pending and holds the tag `expected`; `account`, when given, is written only if
    /// the account's row still holds its expected tag (`None`: no row); then the alert and the
    /// entry. `Conflict` (nothing written) otherwise.
    fn decide_account_request(
        &self,
        decided: &AccountRequest,
        expected: &[u8],
        account: Option<(&AccountRecord, Option<&[u8]>)>,
        alert: &AlertRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Writes an account (created, disabled or enabled) only if its row still holds
    /// `expected` (`None`: no row), with its entry, in one transaction; `Conflict` otherwise.
    fn put_account(
        &self,
        account: &AccountRecord,
        expected: Option<&[u8]>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}
