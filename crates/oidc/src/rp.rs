//! The relying party: the authorisation-code flow with PKCE (S256), `state` and `nonce` of 43
//! characters each (ProConnect asks for at least 32), the code exchanged with the client's
//! secret, and the ID token checked (signature, issuer, audience, expiry, nonce).

use crate::access::{agent_of, verified_claims, Agent};
use crate::jwks::{agent, fetchable, Jwks};
use crate::OidcError;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Characters escaped in a query or form value: all but RFC 3986's unreserved ones.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, VALUE).to_string()
}

/// A secret text (a client secret, a PKCE verifier): `Debug` shows nothing.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    /// The secret, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Rempart as a client of the identity provider.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: Secret,
    /// Where the provider sends the agent back (`…/auth/callback`).
    pub redirect_uri: String,
    /// Scopes asked for (`openid` is always among them).
    pub scope: String,
    /// `acr_values` asked for, if any (e.g. `eidas2`).
    pub acr_values: Option<String>,
}

/// 32 random bytes, base64url: 43 characters.
pub fn random_text() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64URL.encode(b)
}

/// A sign-in begun: what must come back (`state`) and what checks the answer (`nonce`, the
/// PKCE verifier). `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Pending {
    /// `state`, sent and expected back.
    pub state: String,
    /// `nonce`, expected in the ID token.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: Secret,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending(<redacted>)")
    }
}

/// Begins a sign-in: the URL to send the agent to, and what to keep until it comes back.
pub fn begin(jwks: &Jwks, client: &Client) -> (String, Pending) {
    let p = Pending {
        state: random_text(),
        nonce: random_text(),
        verifier: Secret::new(random_text()),
    };
    let challenge = B64URL.encode(Sha256::digest(p.verifier.expose().as_bytes()));
    let mut url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
        jwks.discovery().authorization_endpoint,
        enc(&client.id),
        enc(&client.redirect_uri),
        enc(&client.scope),
        p.state,
        p.nonce,
        challenge
    );
    if let Some(acr) = &client.acr_values {
        url.push_str("&acr_values=");
        url.push_str(&enc(acr));
    }
    (url, p)
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
}

/// What a finished sign-in gives.
#[derive(Debug)]
pub struct SignedIn {
    /// The agent, as the ID token describes it.
    pub agent: Agent,
    /// The access token, if one was issued (not kept by Rempart's sessions).
    pub has_access_token: bool,
}

/// Exchanges `code` (its `state` already matched to `pending` by the caller) and checks the ID
/// token: signature by a key of the issuer, issuer, audience (the client), expiry, and the
/// `nonce` sent. A code used before is refused by the provider.
pub fn finish(
    jwks: &Jwks,
    client: &Client,
    pending: &Pending,
    code: &str,
    leeway: i64,
    now: i64,
) -> Result<SignedIn, OidcError> {
    if code.is_empty() || code.len() > 2048 {
        return Err(OidcError::Malformed);
    }
    let endpoint = &jwks.discovery().token_endpoint;
    if !fetchable(endpoint) {
        return Err(OidcError::Provider(
            "token endpoint: only https:// (or http:// on the loopback interface)".into(),
        ));
    }
    // RFC 6749 section 2.3.1: the id and secret form-encoded, then Basic.
    let basic = B64.encode(format!(
        "{}:{}",
        enc(&client.id),
        enc(client.secret.expose())
    ));
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
        enc(code),
        enc(&client.redirect_uri),
        enc(pending.verifier.expose())
    );
    let mut r = agent()
        .post(endpoint)
        .header("authorization", &format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(body)
        .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?;
    let status = r.status();
    let text = r
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?;
    if status != 200 {
        let error = serde_json::from_str::<TokenError>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        // The provider's error code only (`invalid_grant`: a code used or expired).
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(OidcError::Provider(format!(
            "the code was refused ({error})"
        )));
    }
    let t: TokenResponse = serde_json::from_str(&text)
        .map_err(|_| OidcError::Provider("token endpoint: no ID token in its answer".into()))?;
    let (_, claims) = verified_claims(jwks, &crate::access::DEFAULT_ALGORITHMS, &t.id_token)?;
    let agent = agent_of(claims, jwks.issuer(), &client.id, leeway, now)?;
    let nonce = agent.claims.get("nonce").and_then(|n| n.as_str());
    if nonce != Some(pending.nonce.as_str()) {
        return Err(OidcError::Nonce);
    }
    Ok(SignedIn {
        agent,
        has_access_token: t.access_token.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_nonce_and_verifier_are_long_and_distinct() {
        let a = random_text();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_text());
        let p = Pending {
            state: a,
            nonce: random_text(),
            verifier: Secret::new(random_text()),
        };
        assert_eq!(format!("{p:?}"), "Pending(<redacted>)");
        assert_eq!(
            format!("{:?}", Secret::new("s3cret".into())),
            "Secret(<redacted>)"
        );
    }

    #[test]
    fn values_are_escaped() {
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
