//! Proofs a third party can check with nothing but the log's public key.

use crate::checkpoint::Checkpoint;
use crate::entry::{leaf_of, AuditEntry};
use crate::merkle::{verify_consistency, verify_inclusion, Hash};
use serde::{Deserialize, Serialize};

/// Entry `seq` is in the tree of the signed `checkpoint`: with its canonical bytes, or, for a
/// caller who may not see who made the entry, with its fields naming people, tokens and
/// addresses redacted and only its leaf (the hash of the canonical bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Entry number (1-based).
    pub seq: u64,
    /// The entry, readable; checked to be what `canonical` holds (when it is given).
    pub entry: AuditEntry,
    /// The entry's canonical bytes (what the leaf hashes), hex; absent from a redacted proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
    /// The entry's leaf, hex: `SHA-256(0x00 ‖ seq ‖ canonical)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<String>,
    /// The entry's principal, token, client address, request id, persons and detail are
    /// redacted (`entry` shows `<redacted>`, and no canonical bytes are given).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// Audit path, hex, leaf to root.
    pub path: Vec<String>,
    /// The signed checkpoint the path leads to.
    pub checkpoint: Checkpoint,
}

/// What a redacted entry shows instead of a name, a token id or a justification.
pub const REDACTED: &str = "<redacted>";

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
            canonical: Some(hex::encode(canonical)),
            leaf: Some(hex::encode(leaf_of(seq, canonical))),
            redacted: false,
            path: hex_path(path),
            checkpoint,
        })
    }

    /// The same proof without what names who made the entry (principal, token id, client
    /// address, request id, persons, detail) and without the canonical bytes: it still proves
    /// that the entry's leaf is in the signed tree, and shows the act, its time, role, agency,
    /// categories, purpose and outcome as the server read them. Those readable fields are not
    /// bound to the leaf (only the whole canonical entry is), so [`InclusionProof::verify`]
    /// checks the leaf alone.
    pub fn redact(mut self) -> InclusionProof {
        let e = &mut self.entry;
        e.principal = REDACTED.into();
        e.token_id = REDACTED.into();
        e.client = None;
        e.request_id = None;
        e.persons = Vec::new();
        e.detail = e.detail.as_ref().map(|_| REDACTED.into());
        self.canonical = None;
        self.redacted = true;
        self
    }

    /// Checks the checkpoint's signature, the entry's leaf, that the readable entry is the one
    /// hashed (when the canonical bytes are given), and the path to the signed root.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), &'static str> {
        if !self.checkpoint.verify(public_key) {
            return Err("the checkpoint's signature does not verify with this public key");
        }
        let root = self.checkpoint.root_hash().ok_or("malformed root")?;
        let path = hashes(&self.path).ok_or("malformed path")?;
        if self.seq == 0 {
            return Err("entries are numbered from 1");
        }
        let leaf: Hash = match (&self.canonical, &self.leaf) {
            (Some(c), given) => {
                let canonical = hex::decode(c).map_err(|_| "malformed canonical entry")?;
                match AuditEntry::parse(&canonical) {
                    Ok(e) if e == self.entry && !self.redacted => {}
                    _ => return Err("the readable entry is not the entry hashed"),
                }
                let leaf = leaf_of(self.seq, &canonical);
                if given.as_ref().is_some_and(|g| *g != hex::encode(leaf)) {
                    return Err("the leaf given is not the entry's");
                }
                leaf
            }
            (None, Some(l)) if self.redacted => hex::decode(l)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("malformed leaf")?,
            (None, _) => return Err("the proof has neither the entry's bytes nor its leaf"),
        };
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
