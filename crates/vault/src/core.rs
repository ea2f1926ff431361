//! The vault's core: the stores, the keyring, the clock and the policies, and what every
//! operation shares (audit entries, refusals, snapshots).

use crate::clock::Clock;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_crypto::Keyring;
use rempart_domain::{Agency, Category, FranceTravailPattern, Purpose, ValidationRules};
use rempart_policy::{Decide, Situation};
use rempart_store::{KeyStore, Reads, Snapshot, Store, StoreError};
use std::sync::Arc;

/// The vault service.
pub struct Vault {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: Arc<dyn KeyStore>,
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) france_travail: FranceTravailPattern,
    pub(crate) policies: Arc<dyn Decide>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

pub(crate) fn names(categories: impl IntoIterator<Item = Category>) -> Vec<String> {
    categories
        .into_iter()
        .map(|c| c.as_str().to_string())
        .collect()
}

impl Vault {
    /// A vault over these stores, keyring and clock.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyStore>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        france_travail: FranceTravailPattern,
        policies: Arc<dyn Decide>,
    ) -> Self {
        Vault {
            store,
            keys,
            keyring,
            clock,
            france_travail,
            policies,
        }
    }

    pub(crate) fn situation(&self, p: &Principal, purpose: Purpose) -> Situation {
        Situation::at(purpose, p.break_glass.is_some(), self.clock.now())
    }

    /// The validation rules as of now.
    pub fn rules(&self) -> ValidationRules {
        ValidationRules {
            today: self.clock.today(),
            france_travail: self.france_travail.clone(),
        }
    }

    /// An audit entry for an act of `p`.
    pub(crate) fn entry(
        &self,
        p: &Principal,
        action: Action,
        persons: Vec<String>,
        categories: Vec<String>,
        purpose: Option<Purpose>,
        outcome: Outcome,
    ) -> AuditEntry {
        AuditEntry {
            time: self.clock.now(),
            principal: p.name.clone(),
            token_id: p.token_id.clone(),
            agency: p.agency.as_str().to_string(),
            role: p.role.as_str().to_string(),
            action,
            persons,
            categories,
            purpose: purpose.map(|x| x.as_str().to_string()),
            client: p.client.clone(),
            request_id: p.request_id.clone(),
            outcome,
            detail: p.break_glass.as_ref().map(|j| format!("break_glass: {j}")),
        }
    }

    /// Records an administrative act of the local administrator (`cli`, agency `LOCAL`) that
    /// names no person, durably.
    pub(crate) fn record_local(&self, action: Action, detail: String) -> Result<(), VaultError> {
        let actor =
            Principal::local(Agency::parse("LOCAL").map_err(|_| StoreError::Corrupt("agency"))?);
        let mut e = self.entry(&actor, action, vec![], vec![], None, Outcome::Allowed);
        e.detail = Some(detail);
        Ok(self.store.append_audit(&[e])?)
    }

    /// Records a refusal, then returns `err`: a probe of another agency's files leaves a trace.
    pub(crate) fn denied(
        &self,
        p: &Principal,
        action: Action,
        id: &str,
        purpose: Option<Purpose>,
        err: VaultError,
    ) -> VaultError {
        if !matches!(err, VaultError::NotFound | VaultError::Forbidden(_)) {
            return err;
        }
        let e = self.entry(
            p,
            action,
            vec![id.to_string()],
            vec![],
            purpose,
            Outcome::Denied,
        );
        match self.store.append_audit(&[e]) {
            Ok(()) => err,
            Err(store) => store.into(),
        }
    }

    /// One read transaction, until dropped: for a request that only reads, authentication and
    /// the file then come from one state of the database ([`Vault::authenticate_in`],
    /// [`Vault::read_pending_audit_in`]), and the database's page cache is revalidated once
    /// instead of once per read. Writes made meanwhile (audit entries) are not seen by it.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, VaultError> {
        Ok(self.store.snapshot()?)
    }

    /// The store's point reads, each in a transaction of its own.
    pub fn reads(&self) -> &dyn Reads {
        &*self.store
    }

    /// Number of files.
    pub fn count(&self) -> Result<u64, VaultError> {
        Ok(self.store.count_persons()?)
    }
}
