//! Data keys, sealing of categories, wrapping of data keys, blind indexes.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

const NONCE_LEN: usize = 12;

/// A cryptographic failure. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed: wrong key, or the ciphertext is not bound to this context.
    #[error("ciphertext does not authenticate for this person, category and key version")]
    Authentication,
    /// The ciphertext is too short to be one of ours.
    #[error("ciphertext is truncated")]
    Truncated,
    /// A data key was wrapped under a master key version this keyring does not hold.
    #[error("master key version {0} is not in the keyring")]
    UnknownMasterVersion(u32),
}

/// A 256-bit per-person data key. `Debug` shows nothing; zeroised on drop.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct DataKey([u8; 32]);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Decrypted bytes of one category: zeroised on drop, `Debug` shows nothing.
pub type Plaintext = Zeroizing<Vec<u8>>;

/// What a sealed category is bound to. The associated data is built from this, never from
/// what is stored beside the ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct FieldContext<'a> {
    /// The person's pseudonymous id.
    pub person: &'a str,
    /// The category name.
    pub category: &'a str,
    /// The data key version.
    pub key_version: u32,
}

impl FieldContext<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"rempart/field/v1\0");
        v.extend_from_slice(self.person.as_bytes());
        v.push(0);
        v.extend_from_slice(self.category.as_bytes());
        v.push(0);
        v.extend_from_slice(&self.key_version.to_be_bytes());
        v
    }
}

/// A sealed category: nonce ‖ AES-256-GCM ciphertext ‖ tag. Only [`DataKey::open`] with the
/// same context opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Sealed {
    /// Wraps stored bytes (they are checked when opened).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Sealed(bytes)
    }
    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Consumes into the bytes to store.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn seal_with(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    // Nonces come from the thread-local CSPRNG (ChaCha12, reseeded from the OS): random 96-bit
    // nonces under per-person keys never come near GCM's collision bound, and one getrandom
    // system call per category would dominate a bulk import. Keys still come from the OS.
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // AES-GCM encryption fails only for inputs beyond 64 GiB; our values are bounded.
        .unwrap_or_else(|_| unreachable!("AES-GCM input too large"));
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Truncated);
    }
    let cipher = Aes256Gcm::new(key.into());
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        DataKey(k)
    }

    /// Seals one category's bytes for `ctx`.
    pub fn seal(&self, ctx: &FieldContext<'_>, plaintext: &[u8]) -> Sealed {
        Sealed(seal_with(&self.0, &ctx.aad(), plaintext))
    }

    /// Opens a sealed category; fails unless it was sealed by this key for exactly `ctx`.
    pub fn open(&self, ctx: &FieldContext<'_>, sealed: &Sealed) -> Result<Plaintext, CryptoError> {
        open_with(&self.0, &ctx.aad(), &sealed.0)
    }

    pub(crate) fn from_bytes(b: [u8; 32]) -> Self {
        DataKey(b)
    }
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A data key wrapped by a master key version, bound to its person.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Master key version that wrapped it.
    pub master_version: u32,
    /// nonce ‖ ciphertext ‖ tag.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WrappedKey(v{}, {} bytes)",
            self.master_version,
            self.bytes.len()
        )
    }
}

pub(crate) fn wrap_aad(person: &str, master_version: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(b"rempart/datakey/v1\0");
    v.extend_from_slice(person.as_bytes());
    v.push(0);
    v.extend_from_slice(&master_version.to_be_bytes());
    v
}

pub(crate) fn wrap_with(master: &[u8; 32], version: u32, person: &str, dk: &DataKey) -> WrappedKey {
    WrappedKey {
        master_version: version,
        bytes: seal_with(master, &wrap_aad(person, version), dk.bytes()),
    }
}

pub(crate) fn unwrap_with(
    master: &[u8; 32],
    person: &str,
    w: &WrappedKey,
) -> Result<DataKey, CryptoError> {
    let pt = open_with(master, &wrap_aad(person, w.master_version), &w.bytes)?;
    let arr: [u8; 32] = pt
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Truncated)?;
    Ok(DataKey::from_bytes(arr))
}

/// The blind-index key: HMAC-SHA-256 over a kind label and a normalised value.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct BlindIndex([u8; 32]);

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndex(<redacted>)")
    }
}

impl BlindIndex {
    pub(crate) fn from_bytes(b: [u8; 32]) -> Self {
        BlindIndex(b)
    }
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The keyed hash of `value` in the index `kind`.
    pub fn hash(&self, kind: &str, value: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"rempart/blind/v1\0");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(p: &'a str, c: &'a str, v: u32) -> FieldContext<'a> {
        FieldContext {
            person: p,
            category: c,
            key_version: v,
        }
    }

    #[test]
    fn ciphertext_moved_to_another_person_category_or_version_fails() {
        let dk = DataKey::generate();
        let s = dk.seal(&ctx("p1", "identity", 1), b"Martin");
        assert_eq!(
            &dk.open(&ctx("p1", "identity", 1), &s).unwrap()[..],
            b"Martin"
        );
        assert_eq!(
            dk.open(&ctx("p2", "identity", 1), &s),
            Err(CryptoError::Authentication)
        );
        assert_eq!(
            dk.open(&ctx("p1", "contact", 1), &s),
            Err(CryptoError::Authentication)
        );
        assert_eq!(
            dk.open(&ctx("p1", "identity", 2), &s),
            Err(CryptoError::Authentication)
        );
        assert_eq!(
            DataKey::generate().open(&ctx("p1", "identity", 1), &s),
            Err(CryptoError::Authentication)
        );
        let mut tampered = s.clone().into_bytes();
        tampered[15] ^= 1;
        assert!(dk
            .open(&ctx("p1", "identity", 1), &Sealed::from_bytes(tampered))
            .is_err());
        assert_eq!(
            dk.open(&ctx("p1", "identity", 1), &Sealed::from_bytes(vec![1, 2])),
            Err(CryptoError::Truncated)
        );
    }

    #[test]
    fn two_seals_of_the_same_value_differ() {
        let dk = DataKey::generate();
        let c = ctx("p", "identity", 1);
        assert_ne!(dk.seal(&c, b"x"), dk.seal(&c, b"x"));
    }

    #[test]
    fn blind_index_is_keyed_and_domain_separated() {
        let a = BlindIndex::from_bytes([1; 32]);
        let b = BlindIndex::from_bytes([2; 32]);
        assert_eq!(a.hash("email", "x@y.fr"), a.hash("email", "x@y.fr"));
        assert_ne!(a.hash("email", "x@y.fr"), b.hash("email", "x@y.fr"));
        assert_ne!(a.hash("email", "x@y.fr"), a.hash("phone", "x@y.fr"));
    }

    #[test]
    fn debug_prints_no_key() {
        assert_eq!(
            format!("{:?}", DataKey::from_bytes([7; 32])),
            "DataKey(<redacted>)"
        );
        assert_eq!(
            format!("{:?}", BlindIndex::from_bytes([7; 32])),
            "BlindIndex(<redacted>)"
        );
    }
}
