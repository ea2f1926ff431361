//! Proofs a third party can check with nothing but the log's public key.

use crate::checkpoint::Checkpoint;
use crate::entry::{leaf_of, AuditEntry};
use crate::merkle::{verify_consistency, verify_inclusion, Hash};
use serde::{Deserialize, Serialize};

/// Entry `seq` (with its canonical bytes) is in the tree of the signed `checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Entry number (1-based).
    pub seq: u64,
    /// The entry, readable; checked to be what `canonical` holds.
    pub entry: AuditEntry,
    /// The entry's canonical bytes (what the leaf hashes), hex.
    pub canonical: String,
    /// Audit path, hex, leaf to root.
    pub path: Vec<String>,
    /// The signed checkpoint the path leads to.
    pub checkpoint: Checkpoint,
}

/// The signed tree `first` is a prefix of the signed tree `second`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older checkpoint.
    pub first: Checkpoint,
    /// The newer checkpoint.
    pub second: Checkpoint,
    /// Consistency path, hex.
    pub path: Vec<String>,
}

fn hashes(path: &[String]) -> Option<Vec<Hash>> {
    path.iter()
        .map(|h| hex::decode(h).ok()?.try_into().ok())
        .collect()
}

/// Hex form of a path.
pub fn hex_path(path: &[Hash]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
}

impl InclusionProof {
    /// The proof of entry `seq` with canonical bytes `canonical`; `None` if they are not an
    /// entry.
    pub fn new(
        seq: u64,
        canonical: &[u8],
        path: &[Hash],
        checkpoint: Checkpoint,
    ) -> Option<InclusionProof> {
        Some(InclusionProof {
            seq,
            entry: AuditEntry::parse(canonical).ok()?,
            canonical: hex::encode(canonical),
            path: hex_path(path),
            checkpoint,
        })
    }

    /// Checks the checkpoint's signature, the entry's leaf, that the readable entry is the one
    /// hashed, and the path to the signed root.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), &'static str> {
        if !self.checkpoint.verify(public_key) {
            return Err("the checkpoint's signature does not verify with this public key");
        }
        let root = self.checkpoint.root_hash().ok_or("malformed root")?;
        let path = hashes(&self.path).ok_or("malformed path")?;
        if self.seq == 0 {
            return Err("entries are numbered from 1");
        }
        let canonical = hex::decode(&self.canonical).map_err(|_| "malformed canonical entry")?;
        match AuditEntry::parse(&canonical) {
            Ok(e) if e == self.entry => {}
            _ => return Err("the readable entry is not the entry hashed"),
        }
        let leaf = leaf_of(self.seq, &canonical);
        if verify_inclusion(&leaf, self.seq - 1, self.checkpoint.size, &path, &root) {
            Ok(())
        } else {
            Err("the entry is not in the signed tree")
        }
    }
}

impl ConsistencyProof {
    /// Checks both signatures and that the first tree is a prefix of the second.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), &'static str> {
        if !self.first.verify(public_key) || !self.second.verify(public_key) {
            return Err("a checkpoint's signature does not verify with this public key");
        }
        let (r1, r2) = (
            self.first.root_hash().ok_or("malformed root")?,
            self.second.root_hash().ok_or("malformed root")?,
        );
        let path = hashes(&self.path).ok_or("malformed path")?;
        if verify_consistency(self.first.size, self.second.size, &r1, &r2, &path) {
            Ok(())
        } else {
            Err("the older checkpoint is not a prefix of the newer one: history was rewritten")
        }
    }
}
