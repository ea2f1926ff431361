//! The cost of OpenID Connect access tokens: a local issuer (a key of its own, RSA as
//! ProConnect signs with or Ed25519, its discovery document and JWKS served over HTTP on
//! loopback) signs RFC 9068 access tokens; the validation of one (signature, claims) is timed,
//! first seen and seen again, and `rempart serve` with `[oidc]` is loaded with one of them
//! beside the bearer-token server.

use anyhow::{Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The signing algorithm of an [`Issuer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSA PKCS#1 v1.5 with SHA-256, a 2048-bit key (ProConnect's).
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// Its name in a JWT.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// The issuer: its key, and the address of its documents.
pub struct Issuer {
    key: EncodingKey,
    alg: Alg,
    kid: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Issuer {
    /// A new key, and a thread serving the discovery document and the JWKS (for the life of
    /// the process).
    pub fn start(alg: Alg) -> Result<Issuer> {
        // Before anything is signed: the first use of jsonwebtoken would fix its provider.
        rempart_vault::rempart_oidc::install_jwt_provider();
        let (key, jwk) = match alg {
            Alg::EdDsa => {
                use ed25519_dalek::pkcs8::EncodePrivateKey;
                let sk = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
                let der = sk.to_pkcs8_der().context("encoding the issuer's key")?;
                (
                    EncodingKey::from_ed_der(der.as_bytes()),
                    json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(sk.verifying_key().as_bytes())}),
                )
            }
            Alg::Rs256 => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                use rsa::traits::PublicKeyParts;
                let sk = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
                    .context("making the issuer's RSA key")?;
                let der = sk
                    .to_pkcs1_der()
                    .map_err(|_| anyhow::anyhow!("encoding the issuer's key"))?;
                let public = sk.to_public_key();
                (
                    EncodingKey::from_rsa_der(der.as_bytes()),
                    json!({"kty": "RSA", "n": B64URL.encode(public.n_bytes()), "e": B64URL.encode(public.e_bytes())}),
                )
            }
        };
        let kid = "bench-1".to_string();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let discovery = json!({
            "issuer": base,
            "jwks_uri": format!("{base}/jwks"),
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
        })
        .to_string();
        let mut jwk = jwk;
        jwk["alg"] = json!(alg.name());
        jwk["use"] = json!("sig");
        jwk["kid"] = json!(kid);
        let jwks = json!({ "keys": [jwk] }).to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the head.
                let mut h = String::new();
                while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                let body = if line.contains("/.well-known/openid-configuration") {
                    &discovery
                } else {
                    &jwks
                };
                let mut s = &stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(Issuer {
            key,
            alg,
            kid,
            base,
        })
    }

    /// An access token for `email`, valid an hour.
    pub fn token(&self, email: &str, audience: &str, jti: u64) -> Result<String> {
        let mut h = Header::new(match self.alg {
            Alg::Rs256 => Algorithm::RS256,
            Alg::EdDsa => Algorithm::EdDSA,
        });
        h.typ = Some("at+jwt".into());
        h.kid = Some(self.kid.clone());
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": self.base, "aud": audience, "sub": format!("sub-{email}"), "email": email,
            "acr": "eidas2", "amr": ["pwd", "otp"], "iat": now, "exp": now + 3600,
            "jti": format!("bench-{jti}"), "client_id": "bench", "scope": "openid",
        });
        Ok(jsonwebtoken::encode(&h, &claims, &self.key)?)
    }
}

/// Microseconds per validation of an access token: first seen (signature and claims, the
/// JWKS cached), and seen again (the token's earlier check found by its hash), over `n` each.
pub fn validation_cost(issuer: &Issuer, n: usize) -> Result<(f64, f64)> {
    use rempart_vault::rempart_oidc::{AccessRules, ClaimMap, Dpop, Jwks, SecondFactor};
    let jwks = Jwks::discover(&issuer.base, Duration::from_secs(1))?;
    let oidc = rempart_vault::Oidc::new(
        jwks,
        AccessRules::new(&issuer.base, "rempart"),
        ClaimMap {
            principal_claim: "email".into(),
            ..ClaimMap::default()
        },
        SecondFactor::default(),
        std::sync::Arc::new(Dpop::new(60)),
    );
    let tokens = (0..n as u64)
        .map(|k| issuer.token("c.bench@ml.fr", "rempart", k))
        .collect::<Result<Vec<_>>>()?;
    let now = chrono::Utc::now().timestamp();
    let t = Instant::now();
    for tok in &tokens {
        oidc.agent(tok, now).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let first = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    for tok in &tokens {
        oidc.agent(tok, now).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let again = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    Ok((first, again))
}
