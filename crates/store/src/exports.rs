//! Exports of files to a recipient, and the second operator's approval that a large one needs
//! before it runs (four eyes).

use crate::StoreError;
use rempart_audit::AuditEntry;

/// An export as stored: who asked, for whom, how many people, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    /// Public id (`exp_…`).
    pub id: String,
    /// The agency whose files are exported.
    pub agency: String,
    /// The recipient organisation's code.
    pub recipient: String,
    /// The purpose the recipient reads for.
    pub purpose: String,
    /// The principal who asked for it.
    pub requester: String,
    /// People it holds.
    pub people: u64,
    /// Their ids, as asked for (and approved): what runs.
    pub ids: Vec<String>,
    /// `awaiting_approval`, `ready` or `done`.
    pub state: String,
    /// The second operator who approved it.
    pub approver: Option<String>,
    /// When it was asked for, Unix seconds.
    pub created_at: i64,
}

/// Where exports are kept.
pub trait ExportStore: Send + Sync {
    /// Stores a new export, with its audit entry, in one transaction.
    fn insert_export(&self, export: &ExportRecord, audit: &AuditEntry) -> Result<(), StoreError>;
    /// One export.
    fn export(&self, id: &str) -> Result<Option<ExportRecord>, StoreError>;
    /// Moves an export from state `from` to `to` (setting its approver when given), with the
    /// audit entry, in one transaction; `Ok(false)` when it was not in state `from`.
    fn move_export(
        &self,
        id: &str,
        from: &str,
        to: &str,
        approver: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
