//! Rempart's side of OpenID Connect, with no HTTP server in it:
//!
//! - [`Jwks`]: the issuer's discovery document and signing keys, fetched at start and again
//!   when a token names a key not seen yet (the issuer rotated), at most every few seconds;
//! - [`AccessRules`] and [`verify_access_token`]: an access token (RFC 9068 JWT) checked for
//!   its signature, issuer, audience, expiry and not-before, into an [`Agent`];
//! - [`ClaimMap`] and [`SecondFactor`]: the operator's configuration, the only way claims
//!   become a principal, an agency and a role, and the `acr`/`amr` a role must show;
//! - [`Dpop`]: proofs of possession (RFC 9449) of the key a token is bound to;
//! - [`rp`]: the relying party's authorisation-code flow with PKCE, `state` and `nonce`.
//!
//! Nothing here prints a token, a proof or a secret: errors name what failed, never a value.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access;
mod dpop;
mod jwks;
mod mapping;
mod provider;
pub mod rp;

pub use access::{verify_access_token, AccessRules, Agent};
pub use dpop::{jwk_thumbprint, Dpop, ProofLedger, ProofRequest};
pub use jsonwebtoken::Algorithm;
pub use jwks::{Discovery, Jwks};
pub use mapping::{ClaimMap, Mapped, SecondFactor};
pub use provider::install as install_jwt_provider;

/// Why a credential of the identity provider was refused: what failed, never a value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// Not a JWT, or a part of it is not what it must be.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `typ` is not `at+jwt` (an ID token is not an access token).
    #[error("the token is not an access token (typ at+jwt)")]
    NotAccessToken,
    /// An algorithm not accepted (never `none` nor a shared-secret one).
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    /// Signed with a key the issuer does not publish.
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// Another issuer.
    #[error("the token is from another issuer")]
    Issuer,
    /// Another audience.
    #[error("the token is for another audience")]
    Audience,
    /// Expired.
    #[error("the token has expired")]
    Expired,
    /// Not valid yet (`nbf`, or issued in the future).
    #[error("the token is not valid yet")]
    NotYet,
    /// The sign-in showed no second factor the role needs.
    #[error("the sign-in did not use a second factor")]
    SecondFactor,
    /// A token bound to a key (`cnf.jkt`) came without a proof of possession.
    #[error("this token is bound to a key: a DPoP proof is needed")]
    ProofMissing,
    /// The proof of possession does not hold.
    #[error("the DPoP proof does not hold: {0}")]
    Proof(&'static str),
    /// The ID token's nonce is not the one sent.
    #[error("the ID token's nonce is not the one sent")]
    Nonce,
    /// A claim is missing, or has a value the configuration does not map.
    #[error("claim `{0}` is missing or its value is not mapped by the configuration")]
    Claim(String),
    /// The identity provider could not be reached, or answered something unusable.
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The proofs the nodes share (whether this one was used) cannot be reached: the proof is
    /// not accepted.
    #[error("the proofs already used cannot be read now")]
    ProofsUnavailable,
}
