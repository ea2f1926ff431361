//! The audit log: entries in one total order, their Merkle leaves and whole subtrees, and
//! signed checkpoints.

use crate::{AuditTicket, StoreError};
use rempart_audit::{AuditEntry, Checkpoint};

/// Called with (seq, canonical bytes, recorded leaf) of each audit entry; `false` stops the scan.
pub type AuditVisitor<'a> = dyn FnMut(u64, &[u8], &[u8]) -> bool + 'a;

/// A reader of the audit log's whole subtrees ([`rempart_audit::merkle::Subtrees`]).
pub type AuditSubtrees<'a> = dyn rempart_audit::merkle::Subtrees<Error = StoreError> + 'a;

/// Where the audit log lives. An entry is durable once `append_audit` returns, or once the
/// ticket of `submit_audit` completes with `Ok`: nothing it records may be released before.
pub trait AuditLog: Send + Sync {
    /// Appends audit entries in a transaction of their own (reads, searches, refusals): the
    /// caller returns nothing unless this succeeded.
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Hands entries over and returns at once; the ticket completes when they are durable (or
    /// failed). By default, the same as `append_audit`.
    fn submit_audit(&self, entries: &[AuditEntry]) -> AuditTicket {
        AuditTicket::ready(self.append_audit(entries))
    }
    /// Number of audit entries (the number of the last one).
    fn audit_len(&self) -> Result<u64, StoreError>;
    /// Calls `visit(seq, canonical bytes, recorded leaf)` for every entry after `after`, in
    /// order, until it returns `false`; returns how many were visited.
    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError>;
    /// The log's whole subtrees and leaves, for proofs and checkpoints that read O(log n)
    /// hashes. They are derived data: what they give must be checked against a signed root.
    fn audit_subtrees(&self) -> Result<Box<AuditSubtrees<'_>>, StoreError>;
    /// Records a signed checkpoint.
    fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError>;
    /// Every recorded checkpoint, by size.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// Takes, or renews, the right to sign checkpoints for `node` until `ttl_secs` from now
    /// (the database's clock); `false` while another node holds it. Only the holder signs, so
    /// that several nodes give one sequence of checkpoints; a node that cannot renew stops.
    /// A backend served by one process grants it always.
    fn checkpoint_lease(&self, _node: &str, _ttl_secs: i64) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// The latest recorded checkpoint (the largest), read alone: checkpoints accumulate (one
    /// every few seconds while the log grows), and the latest is read at every checkpoint and
    /// every request for it.
    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
}
