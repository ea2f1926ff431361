//! API tokens: 256-bit random secrets shown once; only their SHA-256 is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;

const PREFIX: &str = "rmp_";

/// A freshly created token. `Debug` shows nothing; [`ApiToken::reveal_once`] is the only way to
/// the secret, for printing it to its owner.
pub struct ApiToken(SecretString);

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// SHA-256 of a token, what the store keeps.
pub type TokenHash = [u8; 32];

impl ApiToken {
    /// A new random token and its hash.
    pub fn generate() -> (ApiToken, TokenHash) {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let s = format!("{PREFIX}{}", B64URL.encode(b));
        let h = hash_token(&s);
        (ApiToken(SecretString::from(s)), h)
    }

    /// A new random token that names its public id (`rmp_tok_….SECRET`), and its hash: a
    /// wrong secret presented with a right id is a failed guess against that token's
    /// principal, which can then be locked.
    pub fn generate_for(id: &str) -> (ApiToken, TokenHash) {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let s = format!("{PREFIX}{id}.{}", B64URL.encode(b));
        let h = hash_token(&s);
        (ApiToken(SecretString::from(s)), h)
    }

    /// The secret, to be shown to its owner once and never stored or logged.
    pub fn reveal_once(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The public id a presented token names (`rmp_tok_….SECRET` gives `tok_…`); `None` for a
/// token made before tokens named their id (looked up by hash), or for anything else.
pub fn token_id_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    (id.starts_with("tok_") && plain(id) && plain(secret)).then_some(id)
}

/// The hash under which a presented token is looked up. Tokens are 256-bit random values, so
/// a plain SHA-256 is enough (no dictionary to resist).
pub fn hash_token(presented: &str) -> TokenHash {
    Sha256::digest(presented.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_hash_to_what_is_stored() {
        let (a, ha) = ApiToken::generate();
        let (b, hb) = ApiToken::generate();
        assert_ne!(a.reveal_once(), b.reveal_once());
        assert_ne!(ha, hb);
        assert_eq!(hash_token(a.reveal_once()), ha);
        assert!(a.reveal_once().starts_with("rmp_") && a.reveal_once().len() == 47);
        assert_eq!(format!("{a:?}"), "ApiToken(<redacted>)");
    }

    #[test]
    fn a_token_names_its_id() {
        let (t, h) = ApiToken::generate_for("tok_0123456789abcdef");
        assert_eq!(token_id_of(t.reveal_once()), Some("tok_0123456789abcdef"));
        assert_eq!(hash_token(t.reveal_once()), h);
        let (old, _) = ApiToken::generate();
        assert_eq!(token_id_of(old.reveal_once()), None);
        for bad in [
            "",
            "rmp_",
            "rmp_.x",
            "rmp_tok_a.",
            "rmp_abc.def",
            "rmp_tok_a.b.c",
            "rmp_tok_a b.c",
        ] {
            assert_eq!(token_id_of(bad), None, "{bad}");
        }
    }
}
