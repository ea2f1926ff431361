//! The issuer's discovery document and signing keys, cached; fetched again when a token names a
//! key not in the cache (the issuer rotated its keys), at most once per `min_refresh`.

use crate::OidcError;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// What the issuer publishes at `/.well-known/openid-configuration` that Rempart uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// The issuer, as its tokens name it.
    pub issuer: String,
    /// Where its public keys are.
    pub jwks_uri: String,
    /// Where agents sign in.
    pub authorization_endpoint: String,
    /// Where codes are exchanged.
    pub token_endpoint: String,
    /// Where a session ends, if the issuer says.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    /// Keys without a `kid` (a set of one key).
    anonymous: Vec<(DecodingKey, Option<Algorithm>)>,
    fetched: Instant,
}

/// A key id asked for and not found after a fetch is not fetched for again before this.
const MISSING_FOR: Duration = Duration::from_secs(60);
/// Key ids remembered as missing, at most.
const MISSING_MAX: usize = 1024;

/// The issuer's keys, shared by every request.
pub struct Jwks {
    discovery: Discovery,
    keys: RwLock<Keys>,
    missing: std::sync::Mutex<HashMap<String, Instant>>,
    min_refresh: Duration,
    http: ureq::Agent,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jwks({})", self.discovery.issuer)
    }
}

fn provider(what: &str) -> impl Fn(ureq::Error) -> OidcError + '_ {
    move |e| OidcError::Provider(format!("{what}: {e}"))
}

/// Whether `url` may be fetched: HTTPS, or HTTP on the loopback interface (a provider on the
/// same machine, for trials and tests).
pub(crate) fn fetchable(url: &str) -> bool {
    url.starts_with("https://")
        || [
            "http://127.0.0.1:",
            "http://127.0.0.1/",
            "http://[::1]",
            "http://localhost:",
            "http://localhost/",
        ]
        .iter()
        .any(|p| url.starts_with(p))
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
    http: &ureq::Agent,
    url: &str,
    what: &str,
) -> Result<T, OidcError> {
    if !fetchable(url) {
        return Err(OidcError::Provider(format!(
            "{what}: only https:// (or http:// on the loopback interface) is fetched"
        )));
    }
    let mut r = http.get(url).call().map_err(provider(what))?;
    if r.status() != 200 {
        return Err(OidcError::Provider(format!("{what}: HTTP {}", r.status())));
    }
    let text = r
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(provider(what))?;
    serde_json::from_str(&text)
        .map_err(|_| OidcError::Provider(format!("{what}: not the JSON expected")))
}

fn load(set: &JwkSet) -> Keys {
    let mut by_kid = HashMap::new();
    let mut anonymous = Vec::new();
    for jwk in &set.keys {
        // Keys for encryption, or of a kind not supported, are not signing keys.
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) || !jwk.is_supported()
        {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok());
        match &jwk.common.key_id {
            Some(kid) => {
                by_kid.insert(kid.clone(), (key, alg));
            }
            None => anonymous.push((key, alg)),
        }
    }
    Keys {
        by_kid,
        anonymous,
        fetched: Instant::now(),
    }
}

impl Jwks {
    /// Reads the issuer's discovery document and keys. The document must name the same
    /// issuer (OpenID Connect Discovery 1.0, section 4.3).
    pub fn discover(issuer: &str, min_refresh: Duration) -> Result<Arc<Jwks>, OidcError> {
        let http = agent();
        let issuer = issuer.trim_end_matches('/');
        let d: Discovery = get_json(
            &http,
            &format!("{issuer}/.well-known/openid-configuration"),
            "discovery document",
        )?;
        if d.issuer.trim_end_matches('/') != issuer {
            return Err(OidcError::Provider(
                "discovery document: it names another issuer".into(),
            ));
        }
        let set: JwkSet = get_json(&http, &d.jwks_uri, "JWKS")?;
        let keys = load(&set);
        if keys.by_kid.is_empty() && keys.anonymous.is_empty() {
            return Err(OidcError::Provider(
                "JWKS: no signing key Rempart can use".into(),
            ));
        }
        Ok(Arc::new(Jwks {
            discovery: d,
            keys: RwLock::new(keys),
            missing: std::sync::Mutex::new(HashMap::new()),
            min_refresh,
            http,
        }))
    }

    /// The issuer's discovery document, as read at start.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.discovery.issuer
    }

    /// The key `kid` names (or the only key, without `kid`), fetching the keys again if it is
    /// not known (the issuer rotated): at most once per `min_refresh`, and not again for a
    /// minute for a key id a fetch did not find. The key's own algorithm, when it says one,
    /// must be `alg`.
    pub(crate) fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, OidcError> {
        if let Some(k) = self.cached(kid, alg)? {
            return Ok(k);
        }
        let kid_text = kid.unwrap_or("").to_string();
        let known_missing = self
            .missing
            .lock()
            .ok()
            .and_then(|m| m.get(&kid_text).map(|at| at.elapsed() < MISSING_FOR))
            .unwrap_or(false);
        let stale = !known_missing
            && self
                .keys
                .read()
                .map(|k| k.fetched.elapsed() >= self.min_refresh)
                .unwrap_or(true);
        if stale {
            let set: JwkSet = get_json(&self.http, &self.discovery.jwks_uri, "JWKS")?;
            let fresh = load(&set);
            if fresh.by_kid.is_empty() && fresh.anonymous.is_empty() {
                // An empty or unusable answer never replaces the keys known.
                return Err(OidcError::UnknownKey);
            }
            tracing::info!(
                keys = fresh.by_kid.len() + fresh.anonymous.len(),
                "the identity provider's keys were fetched again"
            );
            if let Ok(mut k) = self.keys.write() {
                *k = fresh;
            }
            if let Some(k) = self.cached(kid, alg)? {
                return Ok(k);
            }
            if let Ok(mut m) = self.missing.lock() {
                if m.len() >= MISSING_MAX {
                    m.retain(|_, at| at.elapsed() < MISSING_FOR);
                    if m.len() >= MISSING_MAX {
                        m.clear();
                    }
                }
                m.insert(kid_text, Instant::now());
            }
        }
        Err(OidcError::UnknownKey)
    }

    fn cached(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, OidcError> {
        let keys = self
            .keys
            .read()
            .map_err(|_| OidcError::Provider("key cache poisoned".into()))?;
        let found = match kid {
            Some(kid) => keys.by_kid.get(kid),
            None if keys.anonymous.len() == 1 && keys.by_kid.is_empty() => keys.anonymous.first(),
            None => None,
        };
        match found {
            Some((_, Some(a))) if *a != alg => Err(OidcError::Algorithm),
            Some((k, _)) => Ok(Some(k.clone())),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        assert!(fetchable(
            "https://auth.example.gouv.fr/.well-known/openid-configuration"
        ));
        assert!(fetchable("http://127.0.0.1:8080/jwks"));
        assert!(fetchable("http://localhost:9/x"));
        assert!(!fetchable("http://auth.example.gouv.fr/jwks"));
        assert!(!fetchable("http://127.0.0.1.evil.example/jwks"));
        assert!(!fetchable("file:///etc/passwd"));
    }
}
