//! Per-recipient export markers: synthetic files added to an export, unique to it, kept as
//! decoy files of the exporting agency, so that a leaked copy of the export names where it
//! came from.

use crate::{NewPerson, StoreError};
use rempart_audit::AuditEntry;

/// One marker: a decoy file made for one export, and where that export went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerRecord {
    /// The marker's file id (a decoy file of `agency`).
    pub person: String,
    /// The export it was added to (`exp_…`).
    pub export: String,
    /// The exporting agency.
    pub agency: String,
    /// The recipient organisation the export went to.
    pub recipient: String,
    /// When the export ran, Unix seconds.
    pub at: i64,
}

/// Where markers are kept.
pub trait MarkerStore: Send + Sync {
    /// Runs an export: moves it from state `from` to `to`, inserts `files` (its markers, decoy
    /// files: `decoy` set) with `markers` linking each to the export, and the audit entry, in one
    /// transaction; `Ok(false)` and nothing written when the export was not in state `from`.
    fn run_export_with_markers(
        &self,
        id: &str,
        from: &str,
        to: &str,
        files: &[NewPerson],
        markers: &[MarkerRecord],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The marker that is this file, if it is one.
    fn marker(&self, person: &str) -> Result<Option<MarkerRecord>, StoreError>;
    /// The markers of an export, in file id order.
    fn export_markers(&self, export: &str) -> Result<Vec<MarkerRecord>, StoreError>;
}
