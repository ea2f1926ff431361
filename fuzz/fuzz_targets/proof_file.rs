//! Files from outside the installation, parsed as `rempart audit check-proof` and `audit verify
//! --from-checkpoint` (and the witness file's lines) parse them: an inclusion proof, a
//! consistency proof or a checkpoint, as JSON. Never panic; nothing verifies under a key whose
//! secret nobody has; the Merkle verifiers, fed the parsed positions, sizes and paths past the
//! signature check, never panic either.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_audit::merkle::{verify_consistency, verify_inclusion, Hash};
use rempart_audit::{leaf_of, Checkpoint, ConsistencyProof, InclusionProof};

/// RFC 8032's first test key: a real public key, whose secret no fuzzer input can use.
const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn path(p: &[String]) -> Vec<Hash> {
    p.iter()
        .filter_map(|h| hex::decode(h).ok()?.try_into().ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(key) = <[u8; 32]>::try_from(hex::decode(KEY).unwrap_or_default()) else {
        return;
    };
    if let Ok(p) = serde_json::from_slice::<InclusionProof>(data) {
        assert!(p.verify(&key).is_err());
        let canonical = p
            .canonical
            .as_deref()
            .and_then(|c| hex::decode(c).ok())
            .unwrap_or_default();
        let root = p.checkpoint.root_hash().unwrap_or_default();
        let _ = verify_inclusion(
            &leaf_of(p.seq, &canonical),
            p.seq.wrapping_sub(1),
            p.checkpoint.size,
            &path(&p.path),
            &root,
        );
    }
    if let Ok(p) = serde_json::from_slice::<ConsistencyProof>(data) {
        assert!(p.verify(&key).is_err());
        let _ = verify_consistency(
            p.first.size,
            p.second.size,
            &p.first.root_hash().unwrap_or_default(),
            &p.second.root_hash().unwrap_or_default(),
            &path(&p.path),
        );
    }
    if let Ok(c) = serde_json::from_slice::<Checkpoint>(data) {
        assert!(!c.verify(&key));
    }
});
