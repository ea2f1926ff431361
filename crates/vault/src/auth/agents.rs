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
use rempart_store::Reads;
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
        let signed_by = self.dpop.verify(&ProofRequest {
            proof,
            method: req.method,
            url: req.url,
            token: req.token,
            now: self.clock.now(),
        })?;
        if signed_by != jkt {
            return Err(OidcError::Proof("signed by another key than the token's"));
        }
        Ok(())
    }

    /// An access token of the identity provider's check.
    pub(super) fn authenticate_agent(
        &self,
        oidc: &Oidc,
        reads: &dyn Reads,
        req: &Presented<'_>,
    ) -> Result<Principal, Box<Refusal>> {
        let now = self.clock.now();
        let refusal = |e: OidcError| Refusal::new("oidc", reason(&e));
        let agent = oidc.agent(req.token, now).map_err(refusal)?;
        let mapped = oidc.map.map(&agent).map_err(refusal)?;
        let account = self
            .verified_account(reads, &mapped.principal)
            .map_err(super::tokens::store_refusal)?;
        let Some(account) = account else {
            return Err(Refusal::new("oidc", "unknown_agent"));
        };
        let role =
            Role::parse(&account.role).ok_or_else(|| Refusal::new("oidc", "account_role"))?;
        let agency =
            Agency::parse(&account.agency).map_err(|_| Refusal::new("oidc", "account_agency"))?;
        // From here the token's signature verified: its failures count against the principal.
        let against = |why: &str| {
            let mut r = Refusal::new("oidc", why);
            r.named = Some((account.name.clone(), role, agency.clone()));
            r.against_principal = true;
            r
        };
        if let Some(jkt) = &agent.jkt {
            self.check_proof(req, jkt)
                .map_err(|e| against(&format!("dpop: {}", reason(&e))))?;
        } else if req.dpop_scheme {
            return Err(against("dpop_scheme_for_an_unbound_token"));
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
            .account_state(&account)
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
    }
}
