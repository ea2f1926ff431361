//! The master keyring and its key file.

use crate::facts::FactsKey;
use crate::seal::{unwrap_with, wrap_with, BlindIndex, CryptoError, DataKey, WrappedKey};
use crate::verify::VerifyKey;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

const FORMAT_PLAIN: &str = "rempart-keyring/1";
const FORMAT_SEALED: &str = "rempart-keyring/1+argon2id";

/// A passphrase protecting the key file. `Debug` shows nothing.
#[derive(Clone)]
pub struct Passphrase(SecretString);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl Passphrase {
    /// Wraps a passphrase; refuses one shorter than 12 characters.
    pub fn new(s: String) -> Result<Self, KeyFileError> {
        if s.chars().count() < 12 {
            return Err(KeyFileError::WeakPassphrase);
        }
        Ok(Passphrase(SecretString::from(s)))
    }
}

/// Why the key file could not be created, read or written. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// I/O on the key file.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Refused to overwrite.
    #[error("key file {0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
    /// Readable by group or others.
    #[error("key file {0} is readable by other users (mode {1:o}); run chmod 600 on it")]
    Permissions(PathBuf, u32),
    /// Not one of our key files, or damaged.
    #[error("key file {0} is not a valid Rempart keyring: {1}")]
    Format(PathBuf, String),
    /// The key file is passphrase-protected and none was given.
    #[error("key file {0} is protected by a passphrase: set REMPART_PASSPHRASE")]
    PassphraseRequired(PathBuf),
    /// Wrong passphrase or tampered file.
    #[error("key file {0} could not be opened with this passphrase")]
    WrongPassphrase(PathBuf),
    /// Passphrase too short.
    #[error("passphrase must have at least 12 characters")]
    WeakPassphrase,
}

/// The master key versions and the blind-index key. `Debug` shows only versions.
pub struct Keyring {
    current: u32,
    masters: BTreeMap<u32, Zeroizing<[u8; 32]>>,
    blind: BlindIndex,
    /// Ed25519 seed signing the audit log's checkpoints (absent in key files written before
    /// the audit log existed).
    audit: Option<Zeroizing<[u8; 32]>>,
    /// Derived from the blind-index key.
    facts: FactsKey,
    /// Derived from the blind-index key.
    verify: VerifyKey,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Keyring(current v{}, versions {:?}, <redacted>)",
            self.current,
            self.masters.keys().collect::<Vec<_>>()
        )
    }
}

#[derive(Serialize, Deserialize)]
struct PlainFile {
    format: String,
    current: u32,
    masters: BTreeMap<u32, String>,
    blind_index: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit_signing: Option<String>,
}

impl Drop for PlainFile {
    fn drop(&mut self) {
        for v in self.masters.values_mut() {
            v.zeroize();
        }
        self.blind_index.zeroize();
        if let Some(a) = self.audit_signing.as_mut() {
            a.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SealedFile {
    format: String,
    salt: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    sealed: String,
}

fn random32() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

fn decode32(path: &Path, s: &str) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let v = Zeroizing::new(
        B64.decode(s)
            .map_err(|_| KeyFileError::Format(path.into(), "bad base64".into()))?,
    );
    let arr: [u8; 32] = v
        .as_slice()
        .try_into()
        .map_err(|_| KeyFileError::Format(path.into(), "key is not 32 bytes".into()))?;
    Ok(Zeroizing::new(arr))
}

fn argon2_key(
    pass: &Passphrase,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
    path: &Path,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| KeyFileError::Format(path.into(), e.to_string()))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(pass.0.expose_secret().as_bytes(), salt, out.as_mut())
        .map_err(|e| KeyFileError::Format(path.into(), e.to_string()))?;
    Ok(out)
}

impl Keyring {
    /// A new keyring: master key version 1, a blind-index key and an audit signing key, all
    /// random.
    pub fn generate() -> Keyring {
        let mut masters = BTreeMap::new();
        masters.insert(1, Zeroizing::new(random32()));
        let blind = random32();
        Keyring {
            current: 1,
            masters,
            facts: FactsKey::derive(&blind),
            verify: VerifyKey::derive(&blind),
            blind: BlindIndex::from_bytes(blind),
            audit: Some(Zeroizing::new(random32())),
        }
    }

    /// The Ed25519 public key that verifies audit checkpoints, if this keyring signs them.
    pub fn audit_public_key(&self) -> Option<[u8; 32]> {
        self.audit.as_ref().map(|seed| {
            ed25519_dalek::SigningKey::from_bytes(seed)
                .verifying_key()
                .to_bytes()
        })
    }

    /// Signs an audit checkpoint message; `None` for a key file without an audit key.
    pub fn sign_audit(&self, message: &[u8]) -> Option<[u8; 64]> {
        use ed25519_dalek::Signer;
        self.audit.as_ref().map(|seed| {
            ed25519_dalek::SigningKey::from_bytes(seed)
                .sign(message)
                .to_bytes()
        })
    }

    /// The master key version that wraps new data keys.
    pub fn current_version(&self) -> u32 {
        self.current
    }

    /// Adds a new master key version and makes it current; older versions stay to unwrap
    /// keys not yet re-wrapped.
    pub fn rotate(&mut self) -> u32 {
        let v = self.current + 1;
        self.masters.insert(v, Zeroizing::new(random32()));
        self.current = v;
        v
    }

    /// Drops master key versions older than `keep_from` (after every data key was re-wrapped).
    pub fn retire_before(&mut self, keep_from: u32) {
        self.masters.retain(|v, _| *v >= keep_from);
    }

    /// Master key versions held.
    pub fn versions(&self) -> Vec<u32> {
        self.masters.keys().copied().collect()
    }

    /// Wraps a data key for `person` under the current master key.
    pub fn wrap(&self, person: &str, dk: &DataKey) -> WrappedKey {
        let k = self
            .masters
            .get(&self.current)
            .unwrap_or_else(|| unreachable!("current version is always held"));
        wrap_with(k, self.current, person, dk)
    }

    /// Unwraps `person`'s data key; fails if it was wrapped for someone else or tampered.
    pub fn unwrap(&self, person: &str, w: &WrappedKey) -> Result<DataKey, CryptoError> {
        let k = self
            .masters
            .get(&w.master_version)
            .ok_or(CryptoError::UnknownMasterVersion(w.master_version))?;
        unwrap_with(k, person, w)
    }

    /// Re-wraps a data key under the current master key without touching any sealed data.
    pub fn rewrap(&self, person: &str, w: &WrappedKey) -> Result<WrappedKey, CryptoError> {
        Ok(self.wrap(person, &self.unwrap(person, w)?))
    }

    /// The blind-index key.
    pub fn blind_index(&self) -> &BlindIndex {
        &self.blind
    }

    /// The key of the tags over authorisation facts (tokens, files' access facts), derived
    /// from the blind-index key: it never changes with master key rotation.
    pub fn facts(&self) -> &FactsKey {
        &self.facts
    }

    /// The key of the verification codes printed on the messages Rempart sends, derived from
    /// the blind-index key: it never changes with master key rotation.
    pub fn verify(&self) -> &VerifyKey {
        &self.verify
    }

    fn to_plain(&self) -> PlainFile {
        PlainFile {
            format: FORMAT_PLAIN.into(),
            current: self.current,
            masters: self
                .masters
                .iter()
                .map(|(v, k)| (*v, B64.encode(k.as_ref())))
                .collect(),
            blind_index: B64.encode(self.blind.bytes()),
            audit_signing: self.audit.as_ref().map(|a| B64.encode(a.as_ref())),
        }
    }

    fn from_plain(path: &Path, p: &PlainFile) -> Result<Keyring, KeyFileError> {
        if p.format != FORMAT_PLAIN {
            return Err(KeyFileError::Format(
                path.into(),
                format!("unknown format {:?}", p.format),
            ));
        }
        let mut masters = BTreeMap::new();
        for (v, k) in &p.masters {
            masters.insert(*v, decode32(path, k)?);
        }
        if !masters.contains_key(&p.current) {
            return Err(KeyFileError::Format(
                path.into(),
                "current master key version missing".into(),
            ));
        }
        let b = decode32(path, &p.blind_index)?;
        let audit = p
            .audit_signing
            .as_deref()
            .map(|a| decode32(path, a))
            .transpose()?;
        Ok(Keyring {
            current: p.current,
            masters,
            facts: FactsKey::derive(&b),
            verify: VerifyKey::derive(&b),
            blind: BlindIndex::from_bytes(*b),
            audit,
        })
    }

    fn serialise(
        &self,
        path: &Path,
        pass: Option<&Passphrase>,
    ) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let inner = Zeroizing::new(
            serde_json::to_vec_pretty(&self.to_plain())
                .map_err(|e| KeyFileError::Format(path.into(), e.to_string()))?,
        );
        let Some(pass) = pass else { return Ok(inner) };
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let (m, t, p) = (64 * 1024, 3, 1);
        let k = argon2_key(pass, &salt, m, t, p, path)?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = Aes256Gcm::new(k.as_ref().into())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &inner,
                    aad: FORMAT_SEALED.as_bytes(),
                },
            )
            .map_err(|_| KeyFileError::Format(path.into(), "encryption failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ct);
        let f = SealedFile {
            format: FORMAT_SEALED.into(),
            salt: B64.encode(salt),
            m_cost_kib: m,
            t_cost: t,
            p_cost: p,
            sealed: B64.encode(sealed),
        };
        Ok(Zeroizing::new(serde_json::to_vec_pretty(&f).map_err(
            |e| KeyFileError::Format(path.into(), e.to_string()),
        )?))
    }

    /// Creates a new key file (mode 0600); refuses to overwrite an existing one.
    pub fn create_file(&self, path: &Path, pass: Option<&Passphrase>) -> Result<(), KeyFileError> {
        let bytes = self.serialise(path, pass)?;
        let io = |source| KeyFileError::Io {
            path: path.into(),
            source,
        };
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(path.into())
            } else {
                io(e)
            }
        })?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }

    /// Replaces the key file atomically (write a temporary file beside it, fsync, rename), so
    /// that a crash leaves either the old or the new keyring, never half of one.
    pub fn replace_file(&self, path: &Path, pass: Option<&Passphrase>) -> Result<(), KeyFileError> {
        let tmp = path.with_extension("rotating");
        let _ = fs::remove_file(&tmp);
        self.create_file(&tmp, pass)?;
        fs::rename(&tmp, path).map_err(|source| KeyFileError::Io {
            path: path.into(),
            source,
        })?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Reads a key file; refuses one readable by group or others.
    pub fn load(path: &Path, pass: Option<&Passphrase>) -> Result<Keyring, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.into(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::Permissions(path.into(), mode));
            }
        }
        let bytes = Zeroizing::new(fs::read(path).map_err(io)?);
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| KeyFileError::Format(path.into(), "not JSON".into()))?;
        let format = value
            .get("format")
            .and_then(|f| f.as_str())
            .unwrap_or_default()
            .to_string();
        let plain_bytes: Zeroizing<Vec<u8>> = if format == FORMAT_SEALED {
            let pass = pass.ok_or_else(|| KeyFileError::PassphraseRequired(path.into()))?;
            let f: SealedFile = serde_json::from_value(value)
                .map_err(|e| KeyFileError::Format(path.into(), e.to_string()))?;
            let salt = B64
                .decode(&f.salt)
                .map_err(|_| KeyFileError::Format(path.into(), "bad salt".into()))?;
            let sealed = B64
                .decode(&f.sealed)
                .map_err(|_| KeyFileError::Format(path.into(), "bad ciphertext".into()))?;
            if sealed.len() < 28 {
                return Err(KeyFileError::Format(
                    path.into(),
                    "ciphertext truncated".into(),
                ));
            }
            let k = argon2_key(pass, &salt, f.m_cost_kib, f.t_cost, f.p_cost, path)?;
            let (nonce, ct) = sealed.split_at(12);
            Zeroizing::new(
                Aes256Gcm::new(k.as_ref().into())
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ct,
                            aad: FORMAT_SEALED.as_bytes(),
                        },
                    )
                    .map_err(|_| KeyFileError::WrongPassphrase(path.into()))?,
            )
        } else {
            bytes
        };
        let plain: PlainFile = serde_json::from_slice(&plain_bytes)
            .map_err(|_| KeyFileError::Format(path.into(), "unexpected content".into()))?;
        Keyring::from_plain(path, &plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_is_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master.key");
        let ring = Keyring::generate();
        ring.create_file(&p, None).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(matches!(
            ring.create_file(&p, None),
            Err(KeyFileError::Exists(_))
        ));
        let back = Keyring::load(&p, None).unwrap();
        let dk = DataKey::generate();
        let w = ring.wrap("p", &dk);
        assert!(back.unwrap("p", &w).is_ok());
        assert_eq!(
            back.blind_index().hash("e", "v"),
            ring.blind_index().hash("e", "v")
        );
    }

    #[test]
    fn a_world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        Keyring::generate().create_file(&p, None).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Keyring::load(&p, None),
            Err(KeyFileError::Permissions(_, 0o644))
        ));
    }

    #[test]
    fn passphrase_protected_file_needs_the_right_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let ring = Keyring::generate();
        let pass = Passphrase::new("correct horse battery staple".into()).unwrap();
        ring.create_file(&p, Some(&pass)).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(!text.contains(&B64.encode(ring.blind_index().bytes())));
        assert!(matches!(
            Keyring::load(&p, None),
            Err(KeyFileError::PassphraseRequired(_))
        ));
        let wrong = Passphrase::new("wrong horse battery staple".into()).unwrap();
        assert!(matches!(
            Keyring::load(&p, Some(&wrong)),
            Err(KeyFileError::WrongPassphrase(_))
        ));
        let back = Keyring::load(&p, Some(&pass)).unwrap();
        assert_eq!(
            back.blind_index().hash("e", "v"),
            ring.blind_index().hash("e", "v")
        );
        assert!(Passphrase::new("short".into()).is_err());
    }

    #[test]
    fn rotation_rewraps_without_changing_the_data_key() {
        let mut ring = Keyring::generate();
        let dk = DataKey::generate();
        let w1 = ring.wrap("p", &dk);
        assert_eq!(ring.rotate(), 2);
        let w2 = ring.rewrap("p", &w1).unwrap();
        assert_eq!(w2.master_version, 2);
        assert_eq!(ring.unwrap("p", &w2).unwrap().bytes(), dk.bytes());
        ring.retire_before(2);
        assert_eq!(
            ring.unwrap("p", &w1).unwrap_err(),
            CryptoError::UnknownMasterVersion(1)
        );
        assert!(
            ring.unwrap("q", &w2).is_err(),
            "a wrapped key is bound to its person"
        );
    }

    #[test]
    fn audit_signatures_survive_the_key_file_and_verify_with_the_public_key_only() {
        use ed25519_dalek::Verifier;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let ring = Keyring::generate();
        ring.create_file(&p, None).unwrap();
        let back = Keyring::load(&p, None).unwrap();
        let sig = back.sign_audit(b"checkpoint").unwrap();
        let public =
            ed25519_dalek::VerifyingKey::from_bytes(&ring.audit_public_key().unwrap()).unwrap();
        assert!(public
            .verify(b"checkpoint", &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok());
        assert!(public
            .verify(b"other", &ed25519_dalek::Signature::from_bytes(&sig))
            .is_err());
        let other = Keyring::generate().sign_audit(b"checkpoint").unwrap();
        assert!(public
            .verify(b"checkpoint", &ed25519_dalek::Signature::from_bytes(&other))
            .is_err());
    }

    #[test]
    fn debug_shows_versions_only() {
        let s = format!("{:?}", Keyring::generate());
        assert_eq!(s, "Keyring(current v1, versions [1], <redacted>)");
    }
}
