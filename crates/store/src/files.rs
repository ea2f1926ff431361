//! Sealed files and their blind indexes, caseloads and enrolments. Every write carries its
//! audit entries, committed in the same transaction as the write.

use crate::{FactsChange, ListScope, NewPerson, PersonUpdate, StoreError, StoredPerson};
use rempart_audit::AuditEntry;

/// Where sealed files and their blind indexes live (their point reads are in
/// [`crate::Reads`]).
pub trait FileStore: Send + Sync {
    /// Inserts files, all or none, with their audit entries in the same transaction.
    fn insert_persons(&self, persons: &[NewPerson], audit: &[AuditEntry])
        -> Result<(), StoreError>;
    /// Applies an update to a file of `agency`, with its audit entry in the same transaction;
    /// `false` (and nothing written) if there is none.
    fn update_person(
        &self,
        id: &str,
        agency: &str,
        update: &PersonUpdate,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Removes a file and its index entries, with its audit entry in the same transaction;
    /// `false` if there was none.
    fn delete_person(&self, id: &str, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Ids of files of `scope` whose blind index `kind` holds `hash`, in id order (the caller
    /// decides which of them may be seen; files outside the scope never take a place).
    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Files of `scope` with ids after `after`, in id order.
    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError>;
    /// Files stored before caseloads existed (schema migration 6) whose assigned counsellor is
    /// still to be read from their sealed follow-up category, after `after`, in id order; none
    /// once [`FileStore::set_caseloads`] has been told the backfill is done.
    fn caseload_backfill(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError>;
    /// Records the assigned counsellors read from those files, with their audit entry; `done`
    /// ends the backfill.
    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Enrols the person with `partner` (`enrolled`) or ends the enrolment, with the new tag
    /// of the access facts and its audit entry in the same transaction; `false` (nothing
    /// written) if there is no such file, or nothing to change.
    fn set_enrolment(
        &self,
        person: &str,
        partner: &str,
        enrolled: bool,
        facts: &FactsChange,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Number of files, decoys left out.
    fn count_persons(&self) -> Result<u64, StoreError>;
    /// Agencies with files, decoys left out, in order, and the decoys each holds.
    fn agencies(&self) -> Result<Vec<(String, u64)>, StoreError>;
}
