//! Rempart's cryptography and key custody.
//!
//! - A [`Keyring`] holds the master key versions (which wrap per-person data keys) and the
//!   blind-index key. It lives in a key file outside the data directory, created `0600`,
//!   optionally encrypted under an Argon2id passphrase-derived key. It is never in the database.
//! - A [`DataKey`] is random per person. It seals each category with AES-256-GCM whose
//!   associated data binds the ciphertext to the person id, the category and the key version:
//!   a ciphertext moved to another person or category does not open.
//! - Blind indexes are HMAC-SHA-256 under their own key, over normalised values.
//! - API tokens are 256-bit random secrets; only their SHA-256 is stored.
//! - The facts authorisation relies on (a token's principal, role, agency and expiry; a file's
//!   agency, counsellor and enrolments) are tagged with HMAC-SHA-256 under a [`FactsKey`]
//!   derived from the key file: a row rewritten without the key no longer verifies.
//! - Every message Rempart sends carries a [`VerificationCode`] (HMAC-SHA-256 under a
//!   [`VerifyKey`] derived from the key file, over a serial, the recipient's keyed hash, the
//!   date and the agency): the recipient can check it, and a row written without the key does
//!   not verify.
//!
//! Every secret type prints nothing in `Debug` and zeroises on drop.
//!
//! ```
//! use rempart_crypto::{DataKey, FieldContext, Keyring};
//! let ring = Keyring::generate();
//! let dk = DataKey::generate();
//! let ctx = FieldContext { person: "p1", category: "identity", key_version: 1 };
//! let sealed = dk.seal(&ctx, b"Martin");
//! assert_eq!(&dk.open(&ctx, &sealed).unwrap()[..], b"Martin");
//! let other = FieldContext { person: "p2", ..ctx };
//! assert!(dk.open(&other, &sealed).is_err());
//! let wrapped = ring.wrap("p1", &dk);
//! assert!(ring.unwrap("p2", &wrapped).is_err());
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod facts;
mod keyring;
mod seal;
mod token;
mod verify;

pub use facts::{FactsKey, FactsKind, FactsTag};
pub use keyring::{KeyFileError, Keyring, Passphrase};
pub use seal::{BlindIndex, CryptoError, DataKey, FieldContext, Plaintext, Sealed, WrappedKey};
pub use token::{hash_token, token_id_of, ApiToken, TokenHash};
pub use verify::{
    CodeError, CodeSerial, VerificationCode, VerifyKey, CODE_CHARS, CODE_INPUT_MAX, SERIAL_BYTES,
};
