//! `[auth]`: how failed credentials are met (delays, lockouts) and the server's public address;
//! `[oidc]`: the identity provider agents sign in at, how its claims map to principals, and the
//! second factor roles need.

use anyhow::{bail, Context, Result};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The `[auth]` of one source.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthLayer {
    pub lockout_after: Option<u32>,
    pub failure_window: Option<u64>,
    pub lockout: Option<u64>,
    pub backoff_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub public_url: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub lockouts: Option<crate::settings::GuardMode>,
}

impl AuthLayer {
    /// This layer with `over`'s values in place of its own wherever `over` has one.
    pub fn over(self, over: AuthLayer) -> AuthLayer {
        AuthLayer {
            lockout_after: over.lockout_after.or(self.lockout_after),
            failure_window: over.failure_window.or(self.failure_window),
            lockout: over.lockout.or(self.lockout),
            backoff_ms: over.backoff_ms.or(self.backoff_ms),
            backoff_max_ms: over.backoff_max_ms.or(self.backoff_max_ms),
            public_url: over.public_url.or(self.public_url),
            trusted_proxies: over.trusted_proxies.or(self.trusted_proxies),
            lockouts: over.lockouts.or(self.lockouts),
        }
    }

    /// The keys this layer does not set.
    pub fn unset(&self) -> Vec<&'static str> {
        [
            ("auth.lockout_after", self.lockout_after.is_none()),
            ("auth.failure_window", self.failure_window.is_none()),
            ("auth.lockout", self.lockout.is_none()),
            ("auth.backoff_ms", self.backoff_ms.is_none()),
            ("auth.backoff_max_ms", self.backoff_max_ms.is_none()),
            ("auth.public_url", self.public_url.is_none()),
            ("auth.trusted_proxies", self.trusted_proxies.is_none()),
            ("auth.lockouts", self.lockouts.is_none()),
        ]
        .into_iter()
        .filter_map(|(k, none)| none.then_some(k))
        .collect()
    }

    /// The settings, with the defaults where this layer has none.
    pub fn resolve(self) -> AuthSettings {
        let d = rempart_vault::GuessPolicy::default();
        AuthSettings {
            lockout_after: self.lockout_after.unwrap_or(d.lockout_after),
            failure_window: self.failure_window.unwrap_or(d.window_secs as u64),
            lockout: self.lockout.unwrap_or(d.lockout_secs as u64),
            backoff_ms: self.backoff_ms.unwrap_or(d.backoff_base.as_millis() as u64),
            backoff_max_ms: self
                .backoff_max_ms
                .unwrap_or(d.backoff_max.as_millis() as u64),
            public_url: self.public_url,
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            lockouts: self.lockouts.unwrap_or_default(),
        }
    }
}

/// `[auth]` in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Failures in the window that lock the address and suspend the principal (1 to 10).
    pub lockout_after: u32,
    /// The window failures are counted over (s).
    pub failure_window: u64,
    /// How long an address stays locked (s).
    pub lockout: u64,
    /// The delay of the answer to a first failure (ms); doubled at each further one.
    pub backoff_ms: u64,
    /// The longest delay (ms).
    pub backoff_max_ms: u64,
    /// The server's address as clients reach it, behind a reverse proxy.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Lockouts and delays on (`off`: for testing tools only).
    pub lockouts: crate::settings::GuardMode,
}

impl AuthSettings {
    /// `public_url`, checked: an `http` or `https` URL with a host, and nothing after it (no
    /// user information, path, query or fragment), without its trailing `/`.
    pub fn public_url(&self) -> Result<Option<String>> {
        let Some(u) = &self.public_url else {
            return Ok(None);
        };
        let bad = || {
            anyhow::anyhow!(
                "auth.public_url must be the server's address as clients reach it, such as https://rempart.example.fr (http or https, a host, an optional port, nothing after)"
            )
        };
        let parsed = url::Url::parse(u).map_err(|_| bad())?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host().is_none()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.path() != "/"
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(bad());
        }
        Ok(Some(parsed.as_str().trim_end_matches('/').to_string()))
    }

    /// The trusted proxies' addresses, or the one that is not an address.
    pub fn proxies(&self) -> Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.trim().parse().map_err(|_| {
                    anyhow::anyhow!("auth.trusted_proxies: {p:?} is not an IP address")
                })
            })
            .collect()
    }
}

impl AuthSettings {
    /// The vault's policy, or which setting is out of range.
    pub fn policy(&self) -> Result<rempart_vault::GuessPolicy> {
        if !(1..=rempart_vault::LOCKOUT_AFTER_MAX).contains(&self.lockout_after) {
            bail!(
                "auth.lockout_after must be 1 to {} (the CNIL recommends a lockout after at most 10 failures)",
                rempart_vault::LOCKOUT_AFTER_MAX
            );
        }
        const MAX: u64 = 30 * 86_400;
        if !(1..=MAX).contains(&self.failure_window) || !(1..=MAX).contains(&self.lockout) {
            bail!("auth.failure_window and auth.lockout must be 1 s to 30 days ({MAX} s)");
        }
        Ok(rempart_vault::GuessPolicy {
            lockout_after: self.lockout_after,
            window_secs: self.failure_window as i64,
            lockout_secs: self.lockout as i64,
            backoff_base: Duration::from_millis(self.backoff_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms.max(self.backoff_ms)),
            lockouts: self.lockouts == crate::settings::GuardMode::On,
        })
    }
}

/// The `[oidc]` of one source.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcLayer {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub redirect_uri: Option<String>,
    pub principal_claim: Option<String>,
    pub agency_claim: Option<String>,
    pub agencies: Option<BTreeMap<String, String>>,
    pub role_claim: Option<String>,
    pub roles: Option<BTreeMap<String, String>>,
    pub acr: Option<Vec<String>>,
    pub without_second_factor: Option<Vec<String>>,
    pub leeway: Option<u64>,
}

impl OidcLayer {
    /// This layer with `over`'s values in place of its own wherever `over` has one.
    pub fn over(self, over: OidcLayer) -> OidcLayer {
        OidcLayer {
            issuer: over.issuer.or(self.issuer),
            audience: over.audience.or(self.audience),
            client_id: over.client_id.or(self.client_id),
            client_secret: over.client_secret.or(self.client_secret),
            redirect_uri: over.redirect_uri.or(self.redirect_uri),
            principal_claim: over.principal_claim.or(self.principal_claim),
            agency_claim: over.agency_claim.or(self.agency_claim),
            agencies: over.agencies.or(self.agencies),
            role_claim: over.role_claim.or(self.role_claim),
            roles: over.roles.or(self.roles),
            acr: over.acr.or(self.acr),
            without_second_factor: over.without_second_factor.or(self.without_second_factor),
            leeway: over.leeway.or(self.leeway),
        }
    }

    /// The keys this layer does not set.
    pub fn unset(&self) -> Vec<&'static str> {
        [
            ("oidc.issuer", self.issuer.is_none()),
            ("oidc.audience", self.audience.is_none()),
            ("oidc.client_id", self.client_id.is_none()),
            ("oidc.client_secret", self.client_secret.is_none()),
            ("oidc.redirect_uri", self.redirect_uri.is_none()),
            ("oidc.principal_claim", self.principal_claim.is_none()),
            ("oidc.agency_claim", self.agency_claim.is_none()),
            ("oidc.agencies", self.agencies.is_none()),
            ("oidc.role_claim", self.role_claim.is_none()),
            ("oidc.roles", self.roles.is_none()),
            ("oidc.acr", self.acr.is_none()),
            (
                "oidc.without_second_factor",
                self.without_second_factor.is_none(),
            ),
            ("oidc.leeway", self.leeway.is_none()),
        ]
        .into_iter()
        .filter_map(|(k, none)| none.then_some(k))
        .collect()
    }

    /// The settings: none without an issuer.
    pub fn resolve(self) -> Option<OidcSettings> {
        let issuer = self.issuer?;
        Some(OidcSettings {
            issuer,
            audience: self.audience.unwrap_or_else(|| "rempart".into()),
            client_id: self.client_id,
            client_secret: self.client_secret,
            redirect_uri: self.redirect_uri,
            principal_claim: self.principal_claim.unwrap_or_else(|| "email".into()),
            agency_claim: self.agency_claim,
            agencies: self.agencies.unwrap_or_default(),
            role_claim: self.role_claim,
            roles: self.roles.unwrap_or_default(),
            acr: self
                .acr
                .unwrap_or_else(|| vec!["eidas2".into(), "eidas3".into()]),
            without_second_factor: self.without_second_factor.unwrap_or_default(),
            leeway: self.leeway.unwrap_or(30),
        })
    }
}

/// `[oidc]` in force.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub audience: String,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub redirect_uri: Option<String>,
    pub principal_claim: String,
    pub agency_claim: Option<String>,
    pub agencies: BTreeMap<String, String>,
    pub role_claim: Option<String>,
    pub roles: BTreeMap<String, String>,
    pub acr: Vec<String>,
    pub without_second_factor: Vec<String>,
    pub leeway: u64,
}

impl OidcSettings {
    /// Rempart's own sign-in, when the client is configured (all three of client_id,
    /// client_secret and redirect_uri, or none).
    pub fn sign_in(&self) -> Result<Option<Arc<rempart_server::SignIn>>> {
        use rempart_vault::rempart_oidc::rp::{Client, Secret};
        match (&self.client_id, &self.client_secret, &self.redirect_uri) {
            (None, None, None) => Ok(None),
            (Some(id), Some(secret), Some(redirect)) => {
                if !(redirect.starts_with("https://") || redirect.starts_with("http://127.0.0.1") || redirect.starts_with("http://localhost")) {
                    bail!("oidc.redirect_uri must be https:// (or http:// on the loopback interface)");
                }
                Ok(Some(Arc::new(rempart_server::SignIn::new(
                    Client {
                        id: id.clone(),
                        secret: Secret::new(secrecy::ExposeSecret::expose_secret(secret).to_string()),
                        redirect_uri: redirect.clone(),
                        scope: "openid email profile".into(),
                        acr_values: None,
                    },
                    8 * 3600,
                ))))
            }
            _ => bail!("oidc.client_id, oidc.client_secret and oidc.redirect_uri go together (Rempart's own sign-in)"),
        }
    }

    /// The identity provider as the vault uses it: its discovery document and keys read now
    /// (an unreachable provider is an error at start, said with the issuer), the mapping
    /// checked (every agency and role a valid one).
    pub fn provider(&self) -> Result<Arc<rempart_vault::Oidc>> {
        use rempart_vault::rempart_oidc::{AccessRules, ClaimMap, Dpop, Jwks, SecondFactor};
        for (value, agency) in &self.agencies {
            rempart_domain::Agency::parse(agency).map_err(|_| {
                anyhow::anyhow!("oidc.agencies: {value:?} maps to an agency code that is not valid")
            })?;
        }
        for (value, role) in &self.roles {
            if rempart_domain::Role::parse(role).is_none() {
                bail!("oidc.roles: {value:?} maps to {role:?}, which is not a role (counsellor, partner, operator, dpo, service)");
            }
        }
        for role in &self.without_second_factor {
            if rempart_domain::Role::parse(role).is_none() {
                bail!("oidc.without_second_factor: {role:?} is not a role");
            }
        }
        let jwks = Jwks::discover(&self.issuer, Duration::from_secs(1)).with_context(|| {
            format!(
                "oidc.issuer {}: reading its discovery document and keys",
                self.issuer
            )
        })?;
        let mut rules = AccessRules::new(&self.issuer, &self.audience);
        rules.leeway = self.leeway as i64;
        Ok(Arc::new(rempart_vault::Oidc::new(
            jwks,
            rules,
            ClaimMap {
                principal_claim: self.principal_claim.clone(),
                agency_claim: self.agency_claim.clone(),
                agencies: self.agencies.clone(),
                role_claim: self.role_claim.clone(),
                roles: self.roles.clone(),
            },
            SecondFactor {
                acr: self.acr.clone(),
                exempt_roles: self.without_second_factor.clone(),
            },
            Arc::new(Dpop::new(rempart_vault::DPOP_WINDOW_SECS)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_or_lockout_out_of_range_is_refused_not_wrapped() {
        let ok = AuthLayer::default().resolve();
        assert!(ok.policy().is_ok());
        for (window, lockout) in [
            (0, 900),
            (900, 0),
            (u64::MAX, 900),
            (900, u64::MAX),
            (900, 31 * 86_400),
        ] {
            let s = AuthSettings {
                failure_window: window,
                lockout,
                ..AuthLayer::default().resolve()
            };
            assert!(s.policy().is_err(), "{window} {lockout}");
        }
    }
}
