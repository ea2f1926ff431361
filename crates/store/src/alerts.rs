//! Containment's alerts: a principal suspended, why, and the people its responses had shown.

use crate::{PrincipalRecord, StoreError, TokenChange};
use rempart_audit::AuditEntry;

/// An alert as stored: pseudonymous ids and names, never personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Public id (`alr_…`).
    pub id: String,
    /// When it was raised, Unix seconds.
    pub at: i64,
    /// The principal suspended.
    pub principal: String,
    /// Its role.
    pub role: String,
    /// Its agency.
    pub agency: String,
    /// The token whose response tripped.
    pub token: String,
    /// What tripped: `decoy` or `refusals`.
    pub trip: String,
    /// The signals and counts at the trip, as `key=value` words.
    pub signals: String,
    /// The people its responses had shown over the last day, in the order shown.
    pub people: Vec<String>,
    /// When the principal was restored, Unix seconds (`None`: still suspended).
    pub restored_at: Option<i64>,
    /// Who restored it.
    pub restored_by: Option<String>,
}

/// Where alerts live.
pub trait AlertStore: Send + Sync {
    /// Suspends a principal (its row and every one of its tokens, as
    /// [`crate::TokenStore::change_tokens`]) and records `alert`, with `audit`, all in one
    /// transaction: no suspension without its alert, no alert without its suspension.
    fn raise_alert(
        &self,
        alert: &AlertRecord,
        principal: &PrincipalRecord,
        changes: &[TokenChange],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError>;
    /// Alerts raised before `before` (an alert id; `None`: the newest), newest first, at most
    /// `limit`.
    fn alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError>;
    /// One alert.
    fn alert(&self, id: &str) -> Result<Option<AlertRecord>, StoreError>;
}
