//! Access tokens (RFC 9068 JWTs) checked against the issuer's keys: signature, `typ`, issuer,
//! audience, expiry and not-before. Claims are read only from a token whose signature verified.

use crate::jwks::Jwks;
use crate::OidcError;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

/// What an access token must be.
#[derive(Debug, Clone)]
pub struct AccessRules {
    /// The issuer (`iss`), exactly.
    pub issuer: String,
    /// Rempart's audience (`aud` must hold it).
    pub audience: String,
    /// Accepted signing algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (s).
    pub leeway: i64,
}

/// The asymmetric algorithms accepted by default.
pub(crate) const DEFAULT_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl AccessRules {
    /// Rules for `issuer` and `audience`, every asymmetric algorithm, a 30-second leeway.
    pub fn new(issuer: &str, audience: &str) -> AccessRules {
        AccessRules {
            issuer: issuer.trim_end_matches('/').to_string(),
            audience: audience.to_string(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: 30,
        }
    }
}

/// An agent as an access token (or an ID token) describes it, once its signature verified.
/// `Debug` shows the subject and times, not the claims.
#[derive(Clone)]
pub struct Agent {
    /// `sub`.
    pub subject: String,
    /// Every claim.
    pub claims: Map<String, Value>,
    /// `acr`, if any.
    pub acr: Option<String>,
    /// `amr`, if any.
    pub amr: Vec<String>,
    /// `jti`, if any.
    pub jti: Option<String>,
    /// `iat` (0 when absent).
    pub issued_at: i64,
    /// `exp`.
    pub expires_at: i64,
    /// `cnf.jkt`: the thumbprint of the key the token is bound to (DPoP).
    pub jkt: Option<String>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("subject", &self.subject)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("bound", &self.jkt.is_some())
            .finish_non_exhaustive()
    }
}

fn int(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_i64)
}

/// Checks a signed JWT's signature with the issuer's key and returns its claims (the header's
/// `typ` is returned for the caller to check). Expiry, issuer and audience are checked apart,
/// by the caller's clock.
pub(crate) fn verified_claims(
    jwks: &Jwks,
    algorithms: &[Algorithm],
    token: &str,
) -> Result<(Option<String>, Map<String, Value>), OidcError> {
    if token.len() > 16 * 1024 || token.split('.').count() != 3 {
        return Err(OidcError::Malformed);
    }
    crate::provider::install();
    let header = jsonwebtoken::decode_header(token).map_err(|_| OidcError::Malformed)?;
    if !algorithms.contains(&header.alg) {
        return Err(OidcError::Algorithm);
    }
    let key = jwks.key(header.kid.as_deref(), header.alg)?;
    let mut v = Validation::new(header.alg);
    // Times, issuer and audience are checked below, against the vault's clock.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v).map_err(|e| match e
        .kind()
    {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => OidcError::Signature,
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => OidcError::Algorithm,
        _ => OidcError::Malformed,
    })?;
    Ok((header.typ, data.claims))
}

/// Checks `iss`, `aud`, `exp`, `nbf` and `iat` against `now`, and reads the agent.
pub(crate) fn agent_of(
    claims: Map<String, Value>,
    issuer: &str,
    audience: &str,
    leeway: i64,
    now: i64,
) -> Result<Agent, OidcError> {
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(OidcError::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(OidcError::Audience);
    }
    let exp = int(&claims, "exp").ok_or(OidcError::Claim("exp".into()))?;
    if exp + leeway <= now {
        return Err(OidcError::Expired);
    }
    if int(&claims, "nbf").is_some_and(|nbf| nbf - leeway > now)
        || int(&claims, "iat").is_some_and(|iat| iat - leeway > now)
    {
        return Err(OidcError::NotYet);
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(OidcError::Claim("sub".into()))?
        .to_string();
    let acr = claims.get("acr").and_then(Value::as_str).map(String::from);
    let amr = match claims.get("amr") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => vec![],
    };
    let jkt = claims
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
        .map(String::from);
    Ok(Agent {
        subject,
        acr,
        amr,
        jti: claims.get("jti").and_then(Value::as_str).map(String::from),
        issued_at: int(&claims, "iat").unwrap_or(0),
        expires_at: exp,
        jkt,
        claims,
    })
}

/// Checks an access token: an RFC 9068 JWT (`typ` `at+jwt`) signed by a key of the issuer's
/// JWKS with an accepted algorithm, from the issuer, for the audience, not expired and already
/// valid at `now` (Unix seconds).
pub fn verify_access_token(
    jwks: &Jwks,
    rules: &AccessRules,
    token: &str,
    now: i64,
) -> Result<Agent, OidcError> {
    let (typ, claims) = verified_claims(jwks, &rules.algorithms, token)?;
    if !typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(OidcError::NotAccessToken);
    }
    agent_of(claims, &rules.issuer, &rules.audience, rules.leeway, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn issuer_audience_and_times_are_checked() {
        let ok = json!({"iss": "https://idp.example", "aud": ["x", "rempart"], "sub": "a", "exp": 1000, "iat": 900});
        assert!(agent_of(
            claims(ok.clone()),
            "https://idp.example/",
            "rempart",
            0,
            999
        )
        .is_ok());
        assert_eq!(
            agent_of(
                claims(ok.clone()),
                "https://idp.example",
                "rempart",
                0,
                1000
            )
            .err(),
            Some(OidcError::Expired)
        );
        assert_eq!(
            agent_of(
                claims(ok.clone()),
                "https://other.example",
                "rempart",
                0,
                950
            )
            .err(),
            Some(OidcError::Issuer)
        );
        assert_eq!(
            agent_of(claims(ok.clone()), "https://idp.example", "another", 0, 950).err(),
            Some(OidcError::Audience)
        );
        assert_eq!(
            agent_of(claims(ok), "https://idp.example", "rempart", 0, 800).err(),
            Some(OidcError::NotYet)
        );
        let no_exp = json!({"iss": "https://idp.example", "aud": "rempart", "sub": "a"});
        assert!(agent_of(claims(no_exp), "https://idp.example", "rempart", 0, 1).is_err());
        let nbf = json!({"iss": "i", "aud": "rempart", "sub": "a", "exp": 1000, "nbf": 960});
        assert_eq!(
            agent_of(claims(nbf.clone()), "i", "rempart", 0, 950).err(),
            Some(OidcError::NotYet)
        );
        assert!(agent_of(claims(nbf), "i", "rempart", 30, 950).is_ok());
    }

    #[test]
    fn the_agent_s_debug_shows_no_claim() {
        let c = json!({"iss": "i", "aud": "rempart", "sub": "a", "exp": 10, "email": "jeanne@example.fr"});
        let a = agent_of(claims(c), "i", "rempart", 0, 1).ok();
        assert!(!format!("{a:?}").contains("jeanne"));
    }
}
