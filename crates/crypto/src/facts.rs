//! A MAC over the facts that authorisation relies on (a token's principal, role, agency,
//! expiry and status; a file's agency, assigned counsellor and enrolments), under a key
//! derived from the key file: someone who can write the database but holds no key cannot
//! forge a token or move a file into a caseload of their choosing.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// What a tag binds; each kind of record has its own, so that a tag never verifies for a
/// record of another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactsKind {
    /// An API token's row.
    Token,
    /// A file's access facts.
    File,
    /// A principal's suspension.
    Principal,
    /// A principal's account (agency, role, state, who made and approved it).
    Account,
    /// A request to create, raise or move a principal, and its decision.
    AccountRequest,
}

impl FactsKind {
    fn label(self) -> &'static [u8] {
        match self {
            FactsKind::Token => b"token",
            FactsKind::File => b"file",
            FactsKind::Principal => b"principal",
            FactsKind::Account => b"account",
            FactsKind::AccountRequest => b"account-request",
        }
    }
}

/// A tag over authorisation facts: 32 bytes of HMAC-SHA-256.
pub type FactsTag = [u8; 32];

/// The key of authorisation-fact tags, derived from the key file (HKDF-SHA-256 over the
/// blind-index key, with its own label), so that no key file needs a new entry. `Debug`
/// shows nothing.
pub struct FactsKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for FactsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FactsKey(<redacted>)")
    }
}

/// A key of its own for `label`, derived (HKDF-SHA-256 expand) from a uniformly random 32-byte
/// key of the key file.
pub(crate) fn derive_key(from: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<Sha256>::from_prk(from)
        .unwrap_or_else(|_| unreachable!("a 32-byte PRK is long enough for SHA-256"));
    let mut k = Zeroizing::new([0u8; 32]);
    hk.expand(label, k.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA-256 length"));
    k
}

/// HMAC-SHA-256 under `key` of `domain`, `label`, then `parts`, each part length-prefixed: no
/// two lists of parts give the same input.
pub(crate) fn framed_mac(
    key: &[u8; 32],
    domain: &[u8],
    label: &[u8],
    parts: &[&[u8]],
) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(domain);
    m.update(label);
    m.update(&(parts.len() as u64).to_be_bytes());
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

impl FactsKey {
    /// Derives the key from a uniformly random 32-byte key of the key file.
    pub(crate) fn derive(from: &[u8; 32]) -> FactsKey {
        FactsKey(derive_key(from, b"rempart/authorisation-facts/v1"))
    }

    fn mac(&self, kind: FactsKind, parts: &[&[u8]]) -> Hmac<Sha256> {
        framed_mac(&self.0, b"rempart/facts/v1\0", kind.label(), parts)
    }

    /// The tag of `parts` as a record of `kind`.
    pub fn tag(&self, kind: FactsKind, parts: &[&[u8]]) -> FactsTag {
        self.mac(kind, parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `parts` as a record of `kind` (compared in constant time).
    pub fn verify(&self, kind: FactsKind, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac(kind, parts).verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_tag_binds_every_part_its_order_its_split_and_its_kind() {
        let k = FactsKey::derive(&[7; 32]);
        let t = k.tag(FactsKind::File, &[b"p1", b"ML-075-13", b"c.durand"]);
        assert!(k.verify(FactsKind::File, &[b"p1", b"ML-075-13", b"c.durand"], &t));
        assert!(!k.verify(FactsKind::File, &[b"p1", b"ML-093-01", b"c.durand"], &t));
        assert!(!k.verify(FactsKind::File, &[b"p1", b"ML-075-13c", b".durand"], &t));
        assert!(!k.verify(FactsKind::File, &[b"ML-075-13", b"p1", b"c.durand"], &t));
        assert!(!k.verify(FactsKind::Token, &[b"p1", b"ML-075-13", b"c.durand"], &t));
        assert!(!k.verify(
            FactsKind::File,
            &[b"p1", b"ML-075-13", b"c.durand"],
            &t[..31]
        ));
        let other = FactsKey::derive(&[8; 32]);
        assert!(!other.verify(FactsKind::File, &[b"p1", b"ML-075-13", b"c.durand"], &t));
        assert_eq!(format!("{k:?}"), "FactsKey(<redacted>)");
    }
}
