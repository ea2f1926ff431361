//! Authentication: a presented bearer token becomes a [`Principal`]; tokens are created here.

use crate::core::*;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_crypto::{hash_token, ApiToken};
use rempart_domain::{Agency, Role};
use rempart_store::{Reads, StoreError, TokenRecord};

impl Vault {
    /// Checks a presented token: unknown or expired is `Unauthenticated`, suspended is
    /// `Suspended`.
    pub fn authenticate(&self, presented: &str) -> Result<Principal, VaultError> {
        self.authenticate_in(self.reads(), presented)
    }

    /// [`Vault::authenticate`], reading through `reads` (a snapshot).
    pub fn authenticate_in(
        &self,
        reads: &dyn Reads,
        presented: &str,
    ) -> Result<Principal, VaultError> {
        let rec = reads
            .token_by_hash(&hash_token(presented))?
            .ok_or(VaultError::Unauthenticated)?;
        if !facts::token_verifies(self.keyring.facts(), &rec) {
            return Err(self.integrity_alert(None, None, format!("token {}", rec.id)));
        }
        if rec.expires_at <= self.clock.now() || rec.revoked_at.is_some() {
            return Err(VaultError::Unauthenticated);
        }
        if rec.suspended {
            return Err(VaultError::Suspended);
        }
        let role = Role::parse(&rec.role).ok_or(StoreError::Corrupt("token role"))?;
        let agency = Agency::parse(&rec.agency).map_err(|_| StoreError::Corrupt("token agency"))?;
        Ok(Principal::from_token(
            rec.id,
            rec.principal,
            role,
            agency,
            rec.created_at,
        ))
    }

    /// Creates a token valid for `ttl_secs`; the secret is returned once and only its hash is
    /// kept.
    pub fn create_token(
        &self,
        by: &Principal,
        principal: &str,
        role: Role,
        agency: &Agency,
        ttl_secs: i64,
    ) -> Result<(ApiToken, TokenRecord), VaultError> {
        if agency.as_str() == "LOCAL" {
            return Err(VaultError::Forbidden(
                "LOCAL is the local administrator's agency in the audit log; no token is made for it",
            ));
        }
        let (token, hash) = ApiToken::generate();
        let now = self.clock.now();
        let mut rec = TokenRecord {
            id: format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            hash,
            // Logins are compared in lower case by the policies: one principal, one spelling.
            principal: principal.to_ascii_lowercase(),
            role: role.as_str().to_string(),
            agency: agency.as_str().to_string(),
            created_at: now,
            expires_at: now.saturating_add(ttl_secs),
            suspended: false,
            revoked_at: None,
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
            "{} principal={} role={} agency={}",
            rec.id, rec.principal, rec.role, rec.agency
        ));
        self.store.insert_token(&rec, &e).map_err(|e| match e {
            StoreError::PrincipalSuspended => VaultError::Forbidden(
                "this principal is suspended: restore it before creating a token",
            ),
            e => e.into(),
        })?;
        Ok((token, rec))
    }
}
