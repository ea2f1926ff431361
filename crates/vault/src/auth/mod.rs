//! Authentication, behind one entry point ([`Vault::authenticate_request`]): a credential
//! presented with a request becomes a [`Principal`], or is refused and counted.
//!
//! - `tokens`: Rempart's API tokens (for services once agents sign in through the identity
//!   provider), their bounds (scopes, client addresses, a DPoP key), rotation;
//! - `agents`: access tokens of the identity provider (OpenID Connect), mapped to a principal
//!   that exists as a record;
//! - `guesses`: failures counted per address and per principal, delays, lockouts (shared by
//!   the nodes when they share their counts);
//! - `proofs`: the proofs of possession accepted, shared by the nodes likewise.

mod agents;
mod bounds;
mod guesses;
mod proofs;
mod tokens;

pub use agents::Oidc;
pub use bounds::{TokenBounds, SCOPES};
pub(crate) use guesses::Guesses;
pub use guesses::{GuessPolicy, LOCKOUT_AFTER_MAX};
pub(crate) use proofs::SharedProofs;

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::Agency;
use rempart_store::Reads;
use std::net::IpAddr;
use std::time::Duration;

/// A credential as a request presents it. `Debug` shows nothing of the token or proof.
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    /// The token (after `Bearer ` or `DPoP `).
    pub token: &'a str,
    /// Whether it came as `Authorization: DPoP`.
    pub dpop_scheme: bool,
    /// The `DPoP` header, if any.
    pub proof: Option<&'a str>,
    /// The request's method.
    pub method: &'a str,
    /// The request's URL, as the client addressed it.
    pub url: &'a str,
    /// The client's address.
    pub client: Option<IpAddr>,
    /// The scope the route needs (a token with scopes must hold it).
    pub scope: &'static str,
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Presented(<redacted>, {} {})", self.method, self.scope)
    }
}

impl<'a> Presented<'a> {
    /// A bearer token alone (the console's checks and tests): method `GET`, no client, scope
    /// `persons:read`.
    pub fn bearer(token: &'a str) -> Presented<'a> {
        Presented {
            token,
            dpop_scheme: false,
            proof: None,
            method: "GET",
            url: "",
            client: None,
            scope: "persons:read",
        }
    }
}

/// Why a credential was refused, for the log (never the secret): the kind of credential, the
/// reason, and the principal and token it named when it named one.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) credential: &'static str,
    pub(crate) reason: String,
    /// The principal it named, with its role and agency (to suspend it on a lockout).
    pub(crate) named: Option<(String, rempart_domain::Role, Agency)>,
    pub(crate) token: Option<String>,
    /// Whether it counts against the principal (a wrong secret for a named token; anything
    /// refused about an agent whose token's signature verified).
    pub(crate) against_principal: bool,
    /// What the caller is told.
    pub(crate) error: VaultError,
    /// Whether it is a failure to count and record (not for a store failure, nor for a right
    /// credential used on a route its scopes do not open).
    pub(crate) counted: bool,
}

impl Refusal {
    pub(crate) fn new(credential: &'static str, reason: impl Into<String>) -> Box<Refusal> {
        Box::new(Refusal {
            credential,
            reason: reason.into(),
            named: None,
            token: None,
            against_principal: false,
            error: VaultError::Unauthenticated,
            counted: true,
        })
    }
}

impl Vault {
    /// Checks a bearer token alone (no client address, no proof).
    pub fn authenticate(&self, presented: &str) -> Result<Principal, VaultError> {
        self.authenticate_request(self.reads(), &Presented::bearer(presented))
    }

    /// [`Vault::authenticate`], reading through `reads` (a snapshot).
    pub fn authenticate_in(
        &self,
        reads: &dyn Reads,
        presented: &str,
    ) -> Result<Principal, VaultError> {
        self.authenticate_request(reads, &Presented::bearer(presented))
    }

    /// Checks the credential of a request: refused at once from a locked address (`Locked`);
    /// a JWT goes to the identity provider's checks when one is configured, anything else is an
    /// API token. A refusal is counted (address, and principal when the credential named one),
    /// recorded in the audit log without the secret, and past the limit locks the address and
    /// suspends the principal with an alert.
    pub fn authenticate_request(
        &self,
        reads: &dyn Reads,
        req: &Presented<'_>,
    ) -> Result<Principal, VaultError> {
        let now = self.clock.now();
        if let Some(ip) = req.client {
            let locked = self.guesses.locked(self.shared.as_deref(), ip, now);
            if let Some(until) = locked {
                self.auth_counts
                    .locked_refusals
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(VaultError::Locked {
                    retry_after: (until - now).max(1) as u64,
                });
            }
        }
        let jwt = req.token.starts_with("eyJ") && req.token.split('.').count() == 3;
        let outcome = match (&self.oidc, jwt) {
            (Some(oidc), true) => self.authenticate_agent(oidc, reads, req),
            _ => self.authenticate_token(reads, req),
        };
        outcome.map_err(|r| self.refused(req, *r))
    }

    /// A sign-in refused before its agent is known (a `state` unknown or used, a code the
    /// provider refused, an ID token that does not hold): counted and recorded as any failed
    /// credential. Returns what the caller is told (`Locked` once the address is).
    pub fn refuse_sign_in(&self, client: Option<IpAddr>, reason: &str) -> VaultError {
        let req = Presented {
            client,
            ..Presented::bearer("")
        };
        self.refused(&req, *Refusal::new("oidc_sign_in", reason))
    }

    /// Until how many seconds from now `ip` is locked, if it is.
    pub fn locked_for(&self, ip: IpAddr) -> Option<u64> {
        let now = self.clock.now();
        self.guesses
            .locked(self.shared.as_deref(), ip, now)
            .map(|until| (until - now).max(1) as u64)
    }

    /// How long to wait before answering a refused credential from `ip`.
    pub fn auth_delay(&self, ip: IpAddr) -> Duration {
        self.guesses
            .delay(self.shared.as_deref(), ip, self.clock.now())
    }

    /// Counts and records a refusal; locks and suspends past the limit.
    fn refused(&self, req: &Presented<'_>, r: Refusal) -> VaultError {
        use std::sync::atomic::Ordering::Relaxed;
        if !r.counted {
            return r.error;
        }
        self.auth_counts.failures.fetch_add(1, Relaxed);
        let now = self.clock.now();
        let principal = r
            .named
            .as_ref()
            .filter(|_| r.against_principal)
            .map(|(n, _, _)| n.as_str());
        let f = self
            .guesses
            .fail(self.shared.as_deref(), req.client, principal, now);
        let Ok(local) = Agency::parse("LOCAL") else {
            return r.error;
        };
        let gate = Principal::gate(local.clone()).with_request(
            req.client.map(|c| c.to_string()),
            None,
            None,
        );
        let mut e = self.entry(
            &gate,
            Action::AuthFailure,
            vec![],
            vec![],
            None,
            Outcome::Denied,
        );
        e.detail = Some(format!(
            "credential={} reason={}{}{}{}",
            r.credential,
            r.reason,
            r.named
                .as_ref()
                .map(|(n, _, _)| format!(" principal={n}"))
                .unwrap_or_default(),
            r.token
                .as_ref()
                .map(|t| format!(" token={t}"))
                .unwrap_or_default(),
            format_args!(
                " failures_address={} failures_principal={}",
                f.address_failures, f.principal_failures
            )
        ));
        let mut entries = vec![e];
        if let Some(until) = f.address_locked {
            self.auth_counts.lockouts.fetch_add(1, Relaxed);
            let mut e = self.entry(
                &gate,
                Action::AuthLockout,
                vec![],
                vec![],
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!(
                "address={} failures={} until={until}",
                req.client.map(|c| c.to_string()).unwrap_or_default(),
                f.address_failures
            ));
            entries.push(e);
            tracing::warn!(client = ?req.client, failures = f.address_failures, "a client address was locked after repeated authentication failures");
        }
        if f.principal_locked {
            if let Some((name, role, agency)) = &r.named {
                self.auth_counts.lockouts.fetch_add(1, Relaxed);
                let p = Principal::from_token(
                    r.token.clone().unwrap_or_else(|| "-".into()),
                    name.clone(),
                    *role,
                    agency.clone(),
                    0,
                );
                match self.raise_alert(
                    &p,
                    "lockout",
                    format!(
                        "failures={} credential={}",
                        f.principal_failures, r.credential
                    ),
                    vec![],
                ) {
                    // Raised: not again in this window. Not raised: the next failure tries again.
                    Ok(_) => self.guesses.reported(self.shared.as_deref(), name, now),
                    Err(err) => {
                        tracing::error!(error = %err, "a principal past its failures could not be suspended")
                    }
                }
            }
        }
        if let Err(err) = self.store.append_audit(&entries) {
            tracing::error!(error = %err, "an authentication failure could not be recorded");
            return err.into();
        }
        if f.address_locked.is_some() {
            return VaultError::Locked {
                retry_after: self.guesses.policy.lockout_secs.max(1) as u64,
            };
        }
        r.error
    }
}
