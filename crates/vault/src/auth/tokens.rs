//! Rempart's API tokens: made at the console, shown once, only their SHA-256 kept; a token
//! names its id so that a wrong secret counts against its principal; its bounds (scopes,
//! client networks, a DPoP key) are tagged with its other fields; rotated with an overlap.

use super::{Presented, Refusal, TokenBounds};
use crate::core::*;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_crypto::{hash_token, token_id_of, ApiToken};
use rempart_domain::{Agency, Role};
use rempart_store::{Reads, StoreError, TokenChange, TokenRecord};
use subtle::ConstantTimeEq;

/// Roles of people: once agents sign in through the identity provider, no API token is made
/// or honoured for them.
pub(crate) fn is_person_role(role: Role) -> bool {
    matches!(role, Role::Counsellor | Role::Operator | Role::Dpo)
}

impl Vault {
    /// An API token's check.
    pub(super) fn authenticate_token(
        &self,
        reads: &dyn Reads,
        req: &Presented<'_>,
    ) -> Result<Principal, Box<Refusal>> {
        let presented = req.token;
        let hash = hash_token(presented);
        let rec = match token_id_of(presented) {
            Some(id) => {
                let rec = reads
                    .token_by_id(id)
                    .map_err(|e| store_refusal(e.into()))?
                    .ok_or_else(|| Refusal::new("api_token", "unknown"))?;
                // Compared in constant time: the row was found by its public id.
                if !bool::from(rec.hash.ct_eq(&hash)) {
                    let mut r = Refusal::new("api_token", "wrong_secret");
                    r.named = named(&rec);
                    r.token = Some(rec.id.clone());
                    r.against_principal = true;
                    return Err(r);
                }
                rec
            }
            None => reads
                .token_by_hash(&hash)
                .map_err(|e| store_refusal(e.into()))?
                .ok_or_else(|| Refusal::new("api_token", "unknown"))?,
        };
        let refusal = |reason: &str| {
            let mut r = Refusal::new("api_token", reason);
            r.named = named(&rec);
            r.token = Some(rec.id.clone());
            r
        };
        if !facts::token_verifies(self.keyring.facts(), &rec) {
            let mut r = refusal("integrity");
            r.error = self.integrity_alert(None, None, format!("token {}", rec.id));
            return Err(r);
        }
        if rec.revoked_at.is_some() {
            return Err(refusal("revoked"));
        }
        if rec.expires_at <= self.clock.now() {
            return Err(refusal("expired"));
        }
        let bounds = TokenBounds::parse(&rec.bounds).map_err(|e| {
            let mut r = refusal("bounds");
            r.error = e;
            r
        })?;
        if !bounds.admits(req.client) {
            // A token used from outside its networks: taken elsewhere. Counted against it.
            let mut r = refusal("client_not_allowed");
            r.against_principal = true;
            return Err(r);
        }
        if let Some(jkt) = &bounds.jkt {
            if let Err(e) = self.check_proof(req, jkt) {
                if matches!(e, rempart_oidc::OidcError::ProofsUnavailable) {
                    // Not the client's failure: not counted against it.
                    return Err(store_refusal(VaultError::ContainmentUnavailable));
                }
                let mut r = refusal(&format!("dpop: {e}"));
                r.against_principal = true;
                return Err(r);
            }
        } else if req.dpop_scheme {
            return Err(refusal("dpop_scheme_for_an_unbound_token"));
        }
        if rec.suspended {
            let mut r = refusal("suspended");
            r.error = VaultError::Suspended;
            return Err(r);
        }
        let role = Role::parse(&rec.role)
            .ok_or_else(|| store_refusal(StoreError::Corrupt("token role").into()))?;
        let agency = Agency::parse(&rec.agency)
            .map_err(|_| store_refusal(StoreError::Corrupt("token agency").into()))?;
        if self.oidc.is_some() && is_person_role(role) && !bounds.session {
            let mut r = refusal("person_token_with_oidc");
            r.counted = false;
            r.error = VaultError::Forbidden(
                "people sign in through the identity provider: API tokens are for services",
            );
            return Err(r);
        }
        let account = self
            .verified_account(reads, &rec.principal)
            .map_err(store_refusal)?;
        let since = match &account {
            Some(a) if a.disabled => return Err(refusal("disabled")),
            Some(a) if a.role != rec.role || a.agency != rec.agency => {
                return Err(refusal("account_changed"))
            }
            Some(a) => a.approved_at.max(rec.created_at),
            None => rec.created_at,
        };
        if !bounds.opens(req.scope) {
            let mut r = refusal("scope");
            r.counted = false;
            r.error = VaultError::Forbidden("this token's scopes do not open this route");
            return Err(r);
        }
        Ok(Principal::from_token(
            rec.id,
            rec.principal,
            role,
            agency,
            since,
        ))
    }

    /// Creates a token valid for `ttl_secs`, without bounds
    /// ([`Vault::create_bounded_token`]).
    pub fn create_token(
        &self,
        by: &Principal,
        principal: &str,
        role: Role,
        agency: &Agency,
        ttl_secs: i64,
    ) -> Result<(ApiToken, TokenRecord), VaultError> {
        self.create_bounded_token(
            by,
            principal,
            role,
            agency,
            ttl_secs,
            &TokenBounds::default(),
            self.oidc.is_some(),
        )
    }

    /// Creates a token valid for `ttl_secs`, with `bounds`; the secret is returned once and
    /// only its hash is kept. A principal that exists as a record gets a token of its own role
    /// and agency only; once agents sign in through the identity provider (`oidc`), tokens are
    /// for services only (`people_sign_in`).
    #[allow(clippy::too_many_arguments)]
    pub fn create_bounded_token(
        &self,
        by: &Principal,
        principal: &str,
        role: Role,
        agency: &Agency,
        ttl_secs: i64,
        bounds: &TokenBounds,
        people_sign_in: bool,
    ) -> Result<(ApiToken, TokenRecord), VaultError> {
        if agency.as_str() == "LOCAL" {
            return Err(VaultError::Forbidden(
                "LOCAL is the local administrator's agency in the audit log; no token is made for it",
            ));
        }
        if people_sign_in && is_person_role(role) && !bounds.session {
            return Err(VaultError::Forbidden(
                "people sign in through the identity provider: API tokens are for services (role service or partner)",
            ));
        }
        // Logins are compared in lower case by the policies: one principal, one spelling.
        let name = principal.to_ascii_lowercase();
        match self.verified_account(self.reads(), &name)? {
            Some(a) if a.disabled => {
                return Err(VaultError::Forbidden("this principal is disabled"))
            }
            Some(a) if a.role != role.as_str() || a.agency != agency.as_str() => {
                return Err(VaultError::Rejected(
                    "this principal exists with another role or agency: its token must match",
                ))
            }
            _ => {}
        }
        let id = format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let (token, hash) = ApiToken::generate_for(&id);
        let now = self.clock.now();
        let mut rec = TokenRecord {
            id,
            hash,
            principal: name,
            role: role.as_str().to_string(),
            agency: agency.as_str().to_string(),
            created_at: now,
            expires_at: now.saturating_add(ttl_secs),
            suspended: false,
            revoked_at: None,
            bounds: bounds.to_text(),
            tag: None,
        };
        rec.tag = Some(facts::token_tag(self.keyring.facts(), &rec).to_vec());
        let mut e = self.entry(
            by,
            Action::TokenCreate,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "{} principal={} role={} agency={}{}",
            rec.id,
            rec.principal,
            rec.role,
            rec.agency,
            if rec.bounds.is_empty() {
                String::new()
            } else {
                format!(" bounds={}", rec.bounds)
            }
        ));
        self.store.insert_token(&rec, &e).map_err(|e| match e {
            StoreError::PrincipalSuspended => VaultError::Forbidden(
                "this principal is suspended: restore it before creating a token",
            ),
            e => e.into(),
        })?;
        Ok((token, rec))
    }

    /// Rotates a token without downtime: a new token with the same principal, role, agency and
    /// bounds, valid for `ttl_secs`; the old one keeps working for `overlap_secs` more (never
    /// longer than it would have), then expires. Both recorded in one entry.
    pub fn rotate_token(
        &self,
        by: &Principal,
        id: &str,
        ttl_secs: i64,
        overlap_secs: i64,
    ) -> Result<(ApiToken, TokenRecord), VaultError> {
        let old = self
            .store
            .tokens()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(VaultError::NotFound)?;
        if !facts::token_verifies(self.keyring.facts(), &old) {
            return Err(self.integrity_alert(None, None, format!("token {}", old.id)));
        }
        let now = self.clock.now();
        if old.revoked_at.is_some() || old.expires_at <= now {
            return Err(VaultError::State(
                "this token is revoked or expired: create a new one",
            ));
        }
        let role = Role::parse(&old.role).ok_or(StoreError::Corrupt("token role"))?;
        let agency = Agency::parse(&old.agency).map_err(|_| StoreError::Corrupt("token agency"))?;
        let bounds = TokenBounds::parse(&old.bounds)?;
        if bounds.session {
            return Err(VaultError::Forbidden(
                "a session is not rotated: its agent signs in again",
            ));
        }
        let (token, new) = self.create_bounded_token(
            by,
            &old.principal,
            role,
            &agency,
            ttl_secs,
            &bounds,
            self.oidc.is_some(),
        )?;
        let expires_at = old.expires_at.min(now.saturating_add(overlap_secs.max(0)));
        let after = TokenRecord {
            expires_at,
            ..old.clone()
        };
        let change = TokenChange {
            id: old.id.clone(),
            expected: old.tag.clone(),
            suspended: old.suspended,
            revoked_at: None,
            expires_at,
            tag: facts::token_tag(self.keyring.facts(), &after).to_vec(),
        };
        let mut e = self.entry(
            by,
            Action::TokenRotate,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "{} replaced_by={} old_expires_at={expires_at} principal={}",
            old.id, new.id, old.principal
        ));
        self.store.change_tokens(None, &[change], &e)?;
        Ok((token, new))
    }
}

fn named(rec: &TokenRecord) -> Option<(String, Role, Agency)> {
    Some((
        rec.principal.to_ascii_lowercase(),
        Role::parse(&rec.role)?,
        Agency::parse(&rec.agency).ok()?,
    ))
}

/// A refusal that is the store's failure (not counted as a guess against anyone's principal).
pub(super) fn store_refusal(e: VaultError) -> Box<Refusal> {
    let mut r = Refusal::new("api_token", "store");
    r.counted = false;
    r.error = e;
    r
}
