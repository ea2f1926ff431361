//! Rempart's tamper-evident audit log.
//!
//! [`AuditEntry`] is what is recorded for every act on personal data and every administrative
//! act: no plaintext personal value, only pseudonymous ids, category names and keyed hashes. The
//! leaf of entry number `seq` is `SHA-256(0x00 ‖ seq as 8 bytes big-endian ‖ canonical bytes)`,
//! so that reordering entries changes the tree; the canonical bytes are the compact binary form
//! of [`binary`] (logs written before it hold JSON entries, which still parse and verify).
//!
//! [`merkle`] is the Merkle tree of RFC 9162 (Certificate Transparency v2) §2.1: leaf
//! hash `SHA-256(0x00 ‖ entry)`, interior node `SHA-256(0x01 ‖ left ‖ right)`, the split at
//! the largest power of two below the size, inclusion and consistency proofs, and their
//! verification, which needs nothing but the hashes. It is checked against the published
//! Certificate Transparency test vectors.
//!
//! ```
//! use rempart_audit::merkle::{leaf_hash, root, inclusion_proof, verify_inclusion};
//! let leaves: Vec<_> = [b"a", b"b", b"c"].iter().map(|d| leaf_hash(*d)).collect();
//! let r = root(&leaves);
//! let proof = inclusion_proof(&leaves, 2);
//! assert!(verify_inclusion(&leaves[2], 2, 3, &proof, &r));
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

pub mod binary;
mod checkpoint;
mod entry;
pub mod merkle;
mod proof;
mod time;

pub use checkpoint::{Checkpoint, LogVerifier, Tamper, Verified, CHECKPOINT_FILE};
pub use entry::{leaf_of, principal_day_key, Action, AuditEntry, EntryError, Outcome};
pub use proof::{hex_path, ConsistencyProof, InclusionProof};
