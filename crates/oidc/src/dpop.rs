//! Proofs of possession (DPoP, RFC 9449): a token bound to a key (`cnf.jkt`, or a Rempart
//! token made with a key's thumbprint) is honoured only with a fresh proof, signed by that key,
//! for this method and URL and this token, never seen before: by this process, or, when the
//! nodes share a [`ProofLedger`], by any node.

use crate::OidcError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Where the nodes of an installation record the proofs they accepted, so that a proof replayed
/// to another node is refused too.
pub trait ProofLedger: Send + Sync {
    /// Records `key` as used until `keep_until` (Unix seconds): `true` when no node had
    /// recorded it (or its time had passed at `now`). An error: nothing is known, and the proof
    /// is not accepted.
    fn first_use(&self, key: &str, now: i64, keep_until: i64) -> Result<bool, String>;
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The `DPoP` header's value.
    pub proof: &'a str,
    /// The request's method (`GET`).
    pub method: &'a str,
    /// The request's URL as the client addressed it (scheme, host, port, path).
    pub url: &'a str,
    /// The access token presented with it.
    pub token: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
}

/// The accepted proof algorithms (asymmetric only).
const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::RS384,
];

/// Most proofs remembered at once; past it, new proofs are refused until old ones age out
/// (fail closed rather than forget).
const SEEN_MAX: usize = 200_000;

/// Checks proofs and remembers those seen within the window.
pub struct Dpop {
    window: i64,
    seen: Mutex<HashMap<String, i64>>,
    /// Shared with the other nodes, when they share their counts (replaces `seen`).
    ledger: RwLock<Option<Arc<dyn ProofLedger>>>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("window", &self.window)
            .field("shared", &self.ledger().is_some())
            .finish_non_exhaustive()
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url.
pub fn jwk_thumbprint(jwk: &Jwk) -> Result<String, OidcError> {
    // Before jsonwebtoken is first used, which would fix its provider.
    crate::provider::install();
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| OidcError::Proof("the key's thumbprint cannot be computed"))
}

/// `url` as a proof's `htu` is compared (RFC 9449 section 4.3): its origin normalised as
/// RFC 3986 does (scheme and host lower-cased, the default port dropped), then its path exactly
/// as written (an empty one is `/`), without query and fragment. The path is not normalised:
/// the router routes the path as received, so `/a/../b` names another route than `/b`. `None`
/// for what is not an absolute http(s) URL with a host and no user information.
fn target(url: &str) -> Option<String> {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return None;
    }
    let origin = url::Url::parse(&format!("{scheme}://{authority}/")).ok()?;
    if !matches!(origin.scheme(), "http" | "https") || origin.host().is_none() {
        return None;
    }
    let origin = origin.as_str().trim_end_matches('/');
    Some(format!("{origin}{path}"))
}

/// The proof's header as JSON, to see what `jsonwebtoken`'s types would drop: a private key.
fn header_json(proof: &str) -> Result<serde_json::Value, OidcError> {
    let h = proof
        .split('.')
        .next()
        .ok_or(OidcError::Proof("not a JWT"))?;
    let bytes = B64URL
        .decode(h)
        .map_err(|_| OidcError::Proof("not a JWT"))?;
    serde_json::from_slice(&bytes).map_err(|_| OidcError::Proof("not a JWT"))
}

impl Dpop {
    /// Proofs are accepted `window` seconds around their `iat`.
    pub fn new(window: i64) -> Dpop {
        Dpop {
            window,
            seen: Mutex::new(HashMap::new()),
            ledger: RwLock::new(None),
        }
    }

    /// From now on, proofs are remembered in `ledger`, shared by the nodes, rather than in
    /// this process (or in the ledger given before).
    pub fn share(&self, ledger: Arc<dyn ProofLedger>) {
        *self.ledger.write().unwrap_or_else(PoisonError::into_inner) = Some(ledger);
    }

    fn ledger(&self) -> Option<Arc<dyn ProofLedger>> {
        self.ledger
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Checks a proof for `req` and returns the thumbprint of the key that signed it; the
    /// caller compares it with the token's. A proof is accepted once.
    pub fn verify(&self, req: &ProofRequest<'_>) -> Result<String, OidcError> {
        self.check(req, None)
    }

    /// Checks a proof for `req`, signed by the key whose thumbprint is `jkt` (the token's): a
    /// proof signed by another key is refused before it is recorded as used (so that whoever
    /// holds a stolen bound token cannot fill the record with proofs of keys of their own).
    pub fn verify_for(&self, req: &ProofRequest<'_>, jkt: &str) -> Result<(), OidcError> {
        self.check(req, Some(jkt)).map(|_| ())
    }

    fn check(&self, req: &ProofRequest<'_>, jkt: Option<&str>) -> Result<String, OidcError> {
        if req.proof.len() > 8 * 1024 || req.proof.split('.').count() != 3 {
            return Err(OidcError::Proof("not a JWT"));
        }
        crate::provider::install();
        let raw = header_json(req.proof)?;
        let header =
            jsonwebtoken::decode_header(req.proof).map_err(|_| OidcError::Proof("not a JWT"))?;
        if header.typ.as_deref() != Some("dpop+jwt") {
            return Err(OidcError::Proof("typ is not dpop+jwt"));
        }
        if !ALGORITHMS.contains(&header.alg) {
            return Err(OidcError::Proof("its algorithm is not accepted"));
        }
        let private = raw.get("jwk").and_then(|j| j.as_object()).is_some_and(|j| {
            ["d", "p", "q", "dp", "dq", "qi", "k"]
                .iter()
                .any(|k| j.contains_key(*k))
        });
        if private {
            return Err(OidcError::Proof("its jwk holds a private key"));
        }
        let jwk = header.jwk.ok_or(OidcError::Proof("no jwk in its header"))?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| OidcError::Proof("its jwk is not a usable public key"))?;
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<ProofClaims>(req.proof, &key, &v)
            .map_err(|_| OidcError::Proof("its signature or claims do not verify"))?
            .claims;
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(OidcError::Proof("jti"));
        }
        if claims.htm != req.method {
            return Err(OidcError::Proof("htm is not the request's method"));
        }
        let expected = target(req.url);
        if expected.is_none() || target(&claims.htu) != expected {
            return Err(OidcError::Proof("htu is not the request's URL"));
        }
        if claims.iat.abs_diff(req.now) > self.window.unsigned_abs() {
            return Err(OidcError::Proof("iat is too far from now"));
        }
        let ath = B64URL.encode(Sha256::digest(req.token.as_bytes()));
        if claims.ath.as_deref() != Some(ath.as_str()) {
            return Err(OidcError::Proof("ath is not the token's hash"));
        }
        let signed_by = jwk_thumbprint(&jwk)?;
        if jkt.is_some_and(|jkt| jkt != signed_by) {
            return Err(OidcError::Proof("signed by another key than the token's"));
        }
        self.remember(&signed_by, &claims.jti, claims.iat, req.now)?;
        Ok(signed_by)
    }

    /// Until when a proof issued at `iat` is recorded as used in a shared ledger: a window
    /// longer than it may be accepted (until `iat + window`, on the accepting node's clock), so
    /// that a node whose clock is behind by up to a window, or a record pruned by a node ahead,
    /// never reopens it.
    fn recorded_until(&self, iat: i64) -> i64 {
        iat.saturating_add(self.window.saturating_mul(2))
            .saturating_add(1)
    }

    fn remember(&self, jkt: &str, jti: &str, iat: i64, now: i64) -> Result<(), OidcError> {
        if let Some(ledger) = self.ledger() {
            // Hashed: a key of a fixed size, whatever the jti.
            let key = hex_sha256(&format!("{jkt} {jti}"));
            return match ledger.first_use(&key, now, self.recorded_until(iat)) {
                Ok(true) => Ok(()),
                Ok(false) => Err(OidcError::Proof("this proof was used already")),
                Err(e) => {
                    tracing::error!(error = %e, "the proofs the nodes share cannot be reached: proofs are refused");
                    Err(OidcError::ProofsUnavailable)
                }
            };
        }
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| OidcError::Proof("replay cache poisoned"))?;
        if seen.len() >= SEEN_MAX {
            seen.retain(|_, until| *until > now);
            if seen.len() >= SEEN_MAX {
                return Err(OidcError::Proof("too many proofs at once: try again"));
            }
        }
        let key = format!("{jkt} {jti}");
        if seen.contains_key(&key) {
            return Err(OidcError::Proof("this proof was used already"));
        }
        seen.insert(key, iat.saturating_add(self.window).saturating_add(1));
        Ok(())
    }
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_drops_query_and_fragment_and_case_of_the_host() {
        assert_eq!(
            target("HTTPS://Api.Example:8443/v1/persons/x?purpose=a#f").as_deref(),
            Some("https://api.example:8443/v1/persons/x")
        );
        assert_eq!(target("http://127.0.0.1:80"), target("http://127.0.0.1/"));
        assert_eq!(
            target("http://[::1]:8080/v1"),
            target("http://[0::1]:8080/v1")
        );
        assert_eq!(target("not a url"), None);
        assert_eq!(target("mailto:a@b.example"), None);
        assert_eq!(target("file:///etc/passwd"), None);
        assert_eq!(target("https://u:p@a.example/x"), None);
        // The path is compared as the router sees it: dot segments and backslashes are not
        // resolved into another route.
        assert_ne!(
            target("https://a.example/v1/x/../audit"),
            target("https://a.example/v1/audit")
        );
        assert_ne!(
            target("https://a.example/v1/x\\..\\audit"),
            target("https://a.example/v1/audit")
        );
        assert_ne!(
            target("https://a.example/%7e"),
            target("https://a.example/~")
        );
        assert_ne!(
            target("https://a.example:8443/v1/x"),
            target("https://a.example/v1/x")
        );
        assert_ne!(
            target("https://a.example/v1/X"),
            target("https://a.example/v1/x")
        );
    }

    #[test]
    fn a_shared_record_outlives_every_moment_its_proof_is_accepted_with_a_window_to_spare() {
        let d = Dpop::new(60);
        for iat in [-5_000_000_000, 0, 1_000, 1_700_000_000] {
            // Accepted until iat + window on the accepting node's clock; a ledger reads a
            // record as gone from `keep_until` on, maybe on a clock a window ahead.
            let last_accepted = iat + 60;
            assert!(d.recorded_until(iat) > last_accepted + 60, "{iat}");
        }
    }

    /// A client's Ed25519 key, and its public JWK.
    fn client_key() -> (jsonwebtoken::EncodingKey, Jwk) {
        use ring::signature::{Ed25519KeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": B64URL.encode(pair.public_key().as_ref()),
        }))
        .unwrap();
        (jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()), jwk)
    }

    fn proof(key: &(jsonwebtoken::EncodingKey, Jwk), jti: &str, token: &str, iat: i64) -> String {
        crate::provider::install();
        let mut h = jsonwebtoken::Header::new(Algorithm::EdDSA);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(key.1.clone());
        let claims = serde_json::json!({
            "jti": jti, "htm": "GET", "htu": "https://rempart.example/v1/persons",
            "iat": iat, "ath": B64URL.encode(Sha256::digest(token.as_bytes())),
        });
        jsonwebtoken::encode(&h, &claims, &key.0).unwrap()
    }

    /// The nodes' ledger, as a shared store keeps it: key, until when.
    #[derive(Default)]
    struct Ledger {
        kept: Mutex<HashMap<String, i64>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl ProofLedger for Ledger {
        fn first_use(&self, key: &str, now: i64, keep_until: i64) -> Result<bool, String> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err("unreachable".into());
            }
            let mut kept = self.kept.lock().unwrap();
            match kept.get(key) {
                Some(until) if *until > now => Ok(false),
                _ => {
                    kept.insert(key.to_string(), keep_until);
                    Ok(true)
                }
            }
        }
    }

    #[test]
    fn a_shared_ledger_records_a_proof_once_after_its_key_is_checked_and_fails_closed() {
        let now = 1_700_000_000;
        let req = |p: &'static str| ProofRequest {
            proof: p,
            method: "GET",
            url: "https://rempart.example/v1/persons",
            token: "tok",
            now,
        };
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let ledger = Arc::new(Ledger::default());
        let (one, other) = (Dpop::new(60), Dpop::new(60));
        one.share(ledger.clone());
        other.share(ledger.clone());
        let client = client_key();
        let jkt = jwk_thumbprint(&client.1).unwrap();
        let thief = client_key();

        // Signed by another key than the token's: refused, and nothing recorded.
        let forged = leak(proof(&thief, "j-1", "tok", now));
        assert!(one.verify_for(&req(forged), &jkt).is_err());
        assert!(ledger.kept.lock().unwrap().is_empty());

        // Accepted once, recorded a window past its last acceptable moment; replayed to the
        // other node, refused.
        let good = leak(proof(&client, "j-2", "tok", now));
        one.verify_for(&req(good), &jkt).unwrap();
        let kept: Vec<i64> = ledger.kept.lock().unwrap().values().copied().collect();
        assert_eq!(kept, vec![now + 121]);
        assert!(matches!(
            other.verify_for(&req(good), &jkt),
            Err(OidcError::Proof("this proof was used already"))
        ));

        // The ledger unreachable: not accepted (fails closed), whatever the proof.
        ledger.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let fresh = leak(proof(&client, "j-3", "tok", now));
        assert!(matches!(
            other.verify_for(&req(fresh), &jkt),
            Err(OidcError::ProofsUnavailable)
        ));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let d = Dpop::new(60);
        for p in ["", "a.b.c", "....", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AA"] {
            let r = d.verify(&ProofRequest {
                proof: p,
                method: "GET",
                url: "https://x/",
                token: "t",
                now: 0,
            });
            assert!(r.is_err());
        }
    }
}
