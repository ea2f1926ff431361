//! The audit log's per-person index: derived data, kept behind the log, checked against it
//! and rebuilt from it.

use crate::{IndexCheck, StoreError};
use rempart_audit::AuditEntry;

/// Where the per-person index of the audit log lives. What it gives is always complete up to
/// the last entry of the log: the part not indexed yet is read from the log itself.
pub trait AuditIndex: Send + Sync {
    /// The latest audit entries naming `person`, newest first, with their sequence numbers.
    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError>;
    /// Compares the per-person index of the log (derived data, unsigned) with the persons the
    /// entries it covers name, in one snapshot of both; `progress(done, total)` per stretch.
    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError>;
    /// Visits, in log order, the entries of `principal` (compared without case) whose time is
    /// within `[since, until)`: through the index for the days the window covers (each entry is
    /// indexed under its principal and day), then the log's unindexed tail; a window of more
    /// than a year, or an index that names entries of another principal, falls back to
    /// reading the whole log. `visit` gets each entry's position and bytes, and returns `false`
    /// to stop.
    fn audit_visit_principal(
        &self,
        principal: &str,
        since: i64,
        until: i64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError>;
    /// Empties the per-person index and builds it again from the log; returns the entries
    /// indexed. Safe while a server runs on the same data.
    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError>;
}
