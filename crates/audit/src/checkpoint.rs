//! Signed checkpoints of the log and the verification of a whole log against them.

use crate::entry::leaf_of;
use crate::merkle::{Hash, StreamingRoot};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A signed statement that the log's first `size` entries have Merkle root `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Number of entries covered.
    pub size: u64,
    /// Merkle root, hex.
    pub root: String,
    /// Unix seconds when it was made (read back from RFC 3339 text too).
    #[serde(deserialize_with = "crate::time::unix_or_rfc3339")]
    pub time: i64,
    /// Ed25519 signature of [`Checkpoint::message`], base64.
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes: a fixed text form of size, root and time.
    pub fn message(size: u64, root: &Hash, time: i64) -> Vec<u8> {
        format!(
            "rempart-audit-checkpoint/v1\n{size}\n{}\n{time}\n",
            hex::encode(root)
        )
        .into_bytes()
    }

    /// Builds a checkpoint from a signature made over [`Checkpoint::message`].
    pub fn new(size: u64, root: &Hash, time: i64, signature: &[u8; 64]) -> Checkpoint {
        Checkpoint {
            size,
            root: hex::encode(root),
            time,
            signature: B64.encode(signature),
        }
    }

    /// The root as bytes, if well formed.
    pub fn root_hash(&self) -> Option<Hash> {
        hex::decode(&self.root).ok()?.try_into().ok()
    }

    /// Whether the signature is valid for `public_key`. Strict Ed25519 verification: a public
    /// key of small order (for which signatures can be made without any secret) and
    /// non-canonical signatures are refused.
    pub fn verify(&self, public_key: &[u8; 32]) -> bool {
        let (Some(root), Ok(sig)) = (self.root_hash(), B64.decode(&self.signature)) else {
            return false;
        };
        let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(public_key) else {
            return false;
        };
        key.verify_strict(
            &Checkpoint::message(self.size, &root, self.time),
            &Signature::from_bytes(&sig),
        )
        .is_ok()
    }
}

/// What `rempart audit verify` found wrong; the first problem stops it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tamper {
    /// A checkpoint's signature does not verify with the public key.
    #[error("checkpoint of size {size} from the {origin} has an invalid signature (re-signed with another key, or edited)")]
    BadSignature {
        /// Size of the checkpoint.
        size: u64,
        /// `database` or `witness`.
        origin: &'static str,
    },
    /// Entry numbers are not 1, 2, 3… (an entry was deleted or inserted).
    #[error("entry {expected} is missing (found entry {found} in its place): entries were deleted or inserted")]
    Gap {
        /// The number expected.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// An entry's content no longer matches the leaf recorded for it.
    #[error("entry {seq} was edited or moved: its content does not match its recorded hash")]
    Edited {
        /// The entry.
        seq: u64,
    },
    /// The entries up to a checkpoint do not give its root.
    #[error("entries {from}..={to} do not match the signed checkpoint of size {to} (from the {origin}): the first bad entry is among them")]
    RootMismatch {
        /// First entry not covered by an earlier good checkpoint.
        from: u64,
        /// Checkpoint size.
        to: u64,
        /// `database` or `witness`.
        origin: &'static str,
    },
    /// A whole subtree stored beside the log (for proofs and checkpoints) does not match the
    /// entries: proofs that use it do not verify and no checkpoint is signed over it. The
    /// subtrees are derived data: deleted, they are rebuilt from the entries on the next open.
    #[error("the stored subtree at level {level}, index {index} (entries {first}..={last}) does not match the entries: delete the rows of audit_nodes; they are rebuilt at the next start")]
    Subtree {
        /// Height of the subtree.
        level: u32,
        /// Its position among the subtrees of that height.
        index: u64,
        /// Its first entry.
        first: u64,
        /// Its last entry.
        last: u64,
    },
    /// A checkpoint covers more entries than the log holds: entries at the end were removed,
    /// or the database was rolled back.
    #[error("the {origin} holds a checkpoint of size {size} but the log has only {len} entries: the log was truncated or rolled back; entry {first_missing} is the first missing")]
    Truncated {
        /// Checkpoint size.
        size: u64,
        /// Entries in the log.
        len: u64,
        /// First missing entry.
        first_missing: u64,
        /// `database` or `witness`.
        origin: &'static str,
    },
}

/// Where a checkpoint given with `--from-checkpoint` comes from, in [`Tamper`]'s messages.
pub const CHECKPOINT_FILE: &str = "checkpoint file";

/// Verifies a log fed in order against checkpoints from the database and from the witness.
#[derive(Debug)]
pub struct LogVerifier {
    /// Roots to check at each size, with where they come from.
    expected: BTreeMap<u64, Vec<(Hash, &'static str)>>,
    /// The smallest size in `expected` not yet reached (`u64::MAX`: none).
    next_expected: u64,
    stream: StreamingRoot,
    last_good: u64,
    completed: Vec<(u32, u64, Hash)>,
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Entries after the last checkpoint (covered only by their recorded hashes).
    pub unchecked_tail: u64,
}

impl LogVerifier {
    /// Checks every checkpoint's signature, then prepares to recompute the tree.
    pub fn new(
        public_key: &[u8; 32],
        database: &[Checkpoint],
        witness: &[Checkpoint],
    ) -> Result<LogVerifier, Tamper> {
        LogVerifier::start(
            public_key,
            StreamingRoot::new(),
            &[(database, "database"), (witness, "witness")],
        )
    }

    /// [`LogVerifier::new`], with one more checkpoint to check, held outside the database
    /// (`--from-checkpoint FILE`) and named as such in messages.
    pub fn with_file(
        public_key: &[u8; 32],
        database: &[Checkpoint],
        witness: &[Checkpoint],
        file: &Checkpoint,
    ) -> Result<LogVerifier, Tamper> {
        LogVerifier::start(
            public_key,
            StreamingRoot::new(),
            &[
                (std::slice::from_ref(file), CHECKPOINT_FILE),
                (database, "database"),
                (witness, "witness"),
            ],
        )
    }

    fn start(
        public_key: &[u8; 32],
        stream: StreamingRoot,
        lists: &[(&[Checkpoint], &'static str)],
    ) -> Result<LogVerifier, Tamper> {
        let mut expected: BTreeMap<u64, Vec<(Hash, &'static str)>> = BTreeMap::new();
        for (list, source) in lists {
            for c in *list {
                let root =
                    c.root_hash()
                        .filter(|_| c.verify(public_key))
                        .ok_or(Tamper::BadSignature {
                            size: c.size,
                            origin: source,
                        })?;
                expected.entry(c.size).or_default().push((root, source));
            }
        }
        Ok(LogVerifier {
            next_expected: expected.keys().next().copied().unwrap_or(u64::MAX),
            expected,
            stream,
            last_good: 0,
            completed: Vec::new(),
        })
    }

    /// Feeds the next stored entry: its number, canonical bytes and recorded leaf.
    pub fn feed(&mut self, seq: u64, canonical: &[u8], recorded_leaf: &[u8]) -> Result<(), Tamper> {
        let expected = self.stream.size() + 1;
        if seq != expected {
            return Err(Tamper::Gap {
                expected,
                found: seq,
            });
        }
        let leaf = leaf_of(seq, canonical);
        if leaf.as_slice() != recorded_leaf {
            return Err(Tamper::Edited { seq });
        }
        self.stream.push_reporting(leaf, &mut self.completed);
        if seq < self.next_expected {
            return Ok(());
        }
        self.next_expected = self
            .expected
            .range(seq + 1..)
            .next()
            .map_or(u64::MAX, |(k, _)| *k);
        if let Some(roots) = self.expected.get(&seq) {
            let root = self.stream.root();
            for (r, source) in roots {
                if *r != root {
                    return Err(Tamper::RootMismatch {
                        from: self.last_good + 1,
                        to: seq,
                        origin: source,
                    });
                }
            }
            self.last_good = seq;
        }
        Ok(())
    }

    /// The whole subtrees completed since the last call, as (level, index, root), to be
    /// compared with the ones stored beside the log.
    pub fn take_completed(&mut self) -> Vec<(u32, u64, Hash)> {
        std::mem::take(&mut self.completed)
    }

    /// Ends the verification: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Verified, Tamper> {
        let len = self.stream.size();
        if let Some((&size, roots)) = self.expected.range(len + 1..).next() {
            let source = roots.first().map(|r| r.1).unwrap_or("database");
            return Err(Tamper::Truncated {
                size,
                len,
                first_missing: len + 1,
                origin: source,
            });
        }
        let checkpoints = self.expected.values().map(Vec::len).sum();
        Ok(Verified {
            entries: len,
            checkpoints,
            unchecked_tail: len - self.last_good,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity point as a public key: under cofactorless, non-strict verification the
    /// "signature" (R = identity, s = 0) is valid for every message, no secret needed.
    #[test]
    fn a_small_order_public_key_does_not_make_any_checkpoint_valid() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let cp = Checkpoint::new(12, &[9u8; 32], 1_795_000_000, &forged);
        let key = VerifyingKey::from_bytes(&identity).expect("a point of the curve");
        assert!(
            ed25519_dalek::Verifier::verify(
                &key,
                &Checkpoint::message(cp.size, &[9u8; 32], cp.time),
                &Signature::from_bytes(&forged)
            )
            .is_ok(),
            "the weakness this test guards against"
        );
        assert!(!cp.verify(&identity));
    }
}
