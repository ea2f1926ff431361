//! Agents signed in at the identity provider: an access token (JWT) checked against the
//! issuer's keys, its claims mapped by the configuration alone, the second factor its role
//! needs, a proof of possession when it is bound to a key, and a principal that exists as a
//! record, of the same agency and role, neither disabled nor suspended.

use super::{Presented, Refusal};
use crate::accounts::AccountState;
use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_domain::{Agency, Role};
use rempart_oidc::{
    AccessRules, Agent, ClaimMap, Dpop, Jwks, OidcError, ProofRequest, SecondFactor,
};
use rempart_store::{AccountRecord, Reads};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tokens whose signature was checked, kept until they expire, so that a request with a token
/// seen before costs a hash and a lookup.
const VERIFIED_MAX: usize = 20_000;

/// The identity provider as the vault uses it.
pub struct Oidc {
    /// Its keys.
    pub jwks: Arc<Jwks>,
    /// What its access tokens must be.
    pub rules: AccessRules,
    /// How claims map to principals.
    pub map: ClaimMap,
    /// The second factor roles need.
    pub second_factor: SecondFactor,
    /// Proofs of possession.
    pub dpop: Arc<Dpop>,
    verified: Mutex<HashMap<[u8; 32], Agent>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oidc({})", self.rules.issuer)
    }
}

impl Oidc {
    /// The provider with these keys and rules.
    pub fn new(
        jwks: Arc<Jwks>,
        rules: AccessRules,
        map: ClaimMap,
        second_factor: SecondFactor,
        dpop: Arc<Dpop>,
    ) -> Oidc {
        Oidc {
            jwks,
            rules,
            map,
            second_factor,
            dpop,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The agent an access token describes, its signature checked once per token: a token
    /// seen before is taken from the cache (its times checked again against `now`).
    pub fn agent(&self, token: &str, now: i64) -> Result<Agent, OidcError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(a) = self.verified.lock().ok().and_then(|m| m.get(&key).cloned()) {
            if a.expires_at + self.rules.leeway <= now {
                return Err(OidcError::Expired);
            }
            return Ok(a);
        }
        let a = rempart_oidc::verify_access_token(&self.jwks, &self.rules, token, now)?;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_MAX {
                m.retain(|_, a| a.expires_at > now);
                if m.len() >= VERIFIED_MAX {
                    m.clear();
                }
            }
            m.insert(key, a.clone());
        }
        Ok(a)
    }
}

impl Vault {
    /// Checks a proof of possession of the key `jkt` for the request.
    pub(super) fn check_proof(&self, req: &Presented<'_>, jkt: &str) -> Result<(), OidcError> {
        if !req.dpop_scheme {
            return Err(OidcError::ProofMissing);
        }
        let proof = req.proof.ok_or(OidcError::ProofMissing)?;
        self.dpop.verify_for(
            &ProofRequest {
                proof,
                method: req.method,
                url: req.url,
                token: req.token,
                now: self.clock.now(),
            },
            jkt,
        )
    }

    /// An access token of the identity provider's check.
    pub(super) fn authenticate_agent(
        &self,
        oidc: &Oidc,
        reads: &dyn Reads,
        req: &Presented<'_>,
    ) -> Result<Principal, Box<Refusal>> {
        let now = self.clock.now();
        let agent = oidc
            .agent(req.token, now)
            .map_err(|e| Refusal::new("oidc", reason(&e)))?;
        let (account, role, agency) =
            self.admit(oidc, reads, &agent, "oidc")
                .and_then(|admitted| {
                    // Bound to a key: a proof of possession, for this request and token.
                    let against = |why: String| {
                        let mut r = Refusal::new("oidc", why);
                        r.named = Some((admitted.0.name.clone(), admitted.1, admitted.2.clone()));
                        r.against_principal = true;
                        r
                    };
                    if let Some(jkt) = &agent.jkt {
                        self.check_proof(req, jkt).map_err(|e| match e {
                            // Not the agent's failure: not counted against it.
                            OidcError::ProofsUnavailable => {
                                super::tokens::store_refusal(VaultError::ContainmentUnavailable)
                            }
                            e => against(format!("dpop: {}", reason(&e))),
                        })?;
                    } else if req.dpop_scheme {
                        return Err(against("dpop_scheme_for_an_unbound_token".into()));
                    }
                    Ok(admitted)
                })?;
        let session = agent.jti.as_deref().unwrap_or(req.token);
        let id: [u8; 32] = Sha256::digest(session.as_bytes()).into();
        Ok(Principal::from_token(
            format!("oidc_{}", hex::encode(&id[..8])),
            account.name.clone(),
            role,
            agency,
            account.approved_at,
        ))
    }

    /// Whether the agent (its token's signature verified) may work here: its claims mapped by
    /// the configuration, a principal that exists as a record, of the agency and role its claims
    /// say when they say one, a second factor if its role needs one, neither disabled nor
    /// suspended.
    fn admit(
        &self,
        oidc: &Oidc,
        reads: &dyn Reads,
        agent: &Agent,
        credential: &'static str,
    ) -> Result<(AccountRecord, Role, Agency), Box<Refusal>> {
        let mapped = oidc
            .map
            .map(agent)
            .map_err(|e| Refusal::new(credential, reason(&e)))?;
        let account = self
            .verified_account(reads, &mapped.principal)
            .map_err(super::tokens::store_refusal)?;
        let Some(account) = account else {
            return Err(Refusal::new(credential, "unknown_agent"));
        };
        let role =
            Role::parse(&account.role).ok_or_else(|| Refusal::new(credential, "account_role"))?;
        let agency = Agency::parse(&account.agency)
            .map_err(|_| Refusal::new(credential, "account_agency"))?;
        // From here the token's signature verified: its failures count against the principal.
        let against = |why: &str| {
            let mut r = Refusal::new(credential, why);
            r.named = Some((account.name.clone(), role, agency.clone()));
            r.against_principal = true;
            r
        };
        // The principal is bound to the provider's (issuer, subject) at its first sign-in: a
        // later agent with the same claims but another subject is someone else.
        let bound = format!("{} {}", oidc.rules.issuer, agent.subject);
        match &account.subject {
            Some(s) if *s != bound => return Err(against("subject_differs")),
            Some(_) => {}
            None => self
                .bind_subject(&account, &bound)
                .map_err(super::tokens::store_refusal)?,
        }
        if mapped
            .agency
            .as_deref()
            .is_some_and(|a| a != account.agency)
        {
            return Err(against("agency_claim_differs"));
        }
        if mapped.role.as_deref().is_some_and(|r| r != account.role) {
            return Err(against("role_claim_differs"));
        }
        if oidc.second_factor.required_for(&account.role)
            && !oidc.second_factor.shown(agent.acr.as_deref(), &agent.amr)
        {
            let mut r = against("no_second_factor");
            r.error = VaultError::SecondFactor;
            return Err(r);
        }
        match self
            .account_state_in(reads, &account)
            .map_err(super::tokens::store_refusal)?
        {
            AccountState::Disabled | AccountState::Invalid => return Err(against("disabled")),
            AccountState::Suspended => {
                let mut r = against("suspended");
                r.against_principal = false;
                r.error = VaultError::Suspended;
                return Err(r);
            }
            AccountState::Active | AccountState::Probation => {}
        }
        Ok((account, role, agency))
    }

    /// Binds `account` to `subject` (`ISS SUB`), over its row as read; a row bound meanwhile to
    /// the same subject is fine, to another is refused. Recorded.
    fn bind_subject(&self, account: &AccountRecord, subject: &str) -> Result<(), VaultError> {
        let mut a = AccountRecord {
            subject: Some(subject.to_string()),
            ..account.clone()
        };
        a.tag = Some(crate::facts::account_tag(self.keyring.facts(), &a).to_vec());
        let by = Principal::gate(
            Agency::parse(&account.agency)
                .map_err(|_| rempart_store::StoreError::Corrupt("account agency"))?,
        );
        let mut e = self.entry(
            &by,
            rempart_audit::Action::SignIn,
            vec![],
            vec![],
            None,
            rempart_audit::Outcome::Allowed,
        );
        e.detail = Some(format!(
            "bound principal={} subject={subject}",
            account.name
        ));
        match self.store.put_account(&a, account.tag.as_deref(), &e) {
            Ok(()) => Ok(()),
            Err(rempart_store::StoreError::Conflict(_)) => {
                match self.verified_account(self.reads(), &account.name)? {
                    Some(now) if now.subject.as_deref() == Some(subject) => Ok(()),
                    _ => Err(VaultError::Unauthenticated),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Signs an agent in after the relying party's flow (its ID token checked by the caller):
    /// the same admission as an access token's, then a session token of the principal's role
    /// and agency, valid `ttl_secs`, shown once. Recorded (`sign_in`, with `acr` and `amr`); a
    /// refusal is counted and recorded as any failed credential.
    pub fn sign_in(
        &self,
        agent: &Agent,
        client: Option<std::net::IpAddr>,
        ttl_secs: i64,
    ) -> Result<(rempart_crypto::ApiToken, rempart_store::TokenRecord), VaultError> {
        let Some(oidc) = self.oidc.clone() else {
            return Err(VaultError::Forbidden("no identity provider is configured"));
        };
        let req = Presented {
            client,
            ..Presented::bearer("")
        };
        let (account, role, agency) = self
            .admit(&oidc, self.reads(), agent, "oidc_sign_in")
            .map_err(|r| self.refused(&req, *r))?;
        let bounds = super::TokenBounds {
            session: true,
            ..super::TokenBounds::default()
        };
        let by = Principal::from_token(
            "-".into(),
            account.name.clone(),
            role,
            agency.clone(),
            account.approved_at,
        )
        .with_request(client.map(|c| c.to_string()), None, None);
        let (token, rec) =
            self.create_bounded_token(&by, &account.name, role, &agency, ttl_secs, &bounds, false)?;
        let mut e = self.entry(
            &by,
            rempart_audit::Action::SignIn,
            vec![],
            vec![],
            None,
            rempart_audit::Outcome::Allowed,
        );
        e.detail = Some(format!(
            "session={} acr={} amr={}",
            rec.id,
            agent.acr.as_deref().unwrap_or("-"),
            if agent.amr.is_empty() {
                "-".to_string()
            } else {
                agent.amr.join(",")
            }
        ));
        self.store.append_audit(&[e])?;
        Ok((token, rec))
    }
}

/// A short reason for the log.
fn reason(e: &OidcError) -> String {
    match e {
        OidcError::Malformed => "malformed".into(),
        OidcError::NotAccessToken => "not_an_access_token".into(),
        OidcError::Algorithm => "algorithm".into(),
        OidcError::UnknownKey => "unknown_key".into(),
        OidcError::Signature => "signature".into(),
        OidcError::Issuer => "issuer".into(),
        OidcError::Audience => "audience".into(),
        OidcError::Expired => "expired".into(),
        OidcError::NotYet => "not_yet_valid".into(),
        OidcError::SecondFactor => "no_second_factor".into(),
        OidcError::ProofMissing => "proof_missing".into(),
        OidcError::Proof(why) => format!("proof_{}", why.replace(' ', "_")),
        OidcError::Nonce => "nonce".into(),
        OidcError::Claim(c) => format!("claim_{c}"),
        OidcError::Provider(_) => "provider_unreachable".into(),
        OidcError::ProofsUnavailable => "proofs_unavailable".into(),
    }
}
