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
    /// Containment, when enabled ([`Vault::with_guard`]): asked before personal data leaves.
    pub(crate) guard: Option<Arc<crate::containment::Containment>>,
    /// Where the nodes share containment's counts ([`Vault::with_shared_counts`]).
    pub(crate) shared: Option<Arc<dyn rempart_store::SharedGuard>>,
    /// What containment decided since start: refusals, and trips by kind.
    pub(crate) containment: Arc<ContainmentCounts>,
    /// Exports of more people than this need a second operator's approval.
    pub(crate) four_eyes_above: u64,
    /// Markers added to each export that holds files ([`Vault::with_export_markers`]).
    pub(crate) export_markers: usize,
    /// Where raised alerts are sent besides the database ([`Vault::with_alert_sink`]).
    pub(crate) alert_sink: Option<Arc<dyn crate::alerts::AlertSink>>,
    /// The identity provider agents sign in at ([`Vault::with_oidc`]).
    pub(crate) oidc: Option<Arc<crate::auth::Oidc>>,
    /// Proofs of possession of the keys tokens are bound to.
    pub(crate) dpop: Arc<rempart_oidc::Dpop>,
    /// Failed credential checks, per address and per principal.
    pub(crate) guesses: crate::auth::Guesses,
    /// Authentication failures and lockouts since start.
    pub(crate) auth_counts: Arc<AuthCounts>,
    /// How long a principal stays on probation after its approval (containment's, when on).
    pub(crate) probation_secs: i64,
    /// This process among the nodes of an installation: what it holds the checkpoint lease as.
    pub(crate) node: String,
}

/// Authentication failures and lockouts since start (for `/metrics`).
#[derive(Debug, Default)]
pub struct AuthCounts {
    /// Credentials refused.
    pub failures: std::sync::atomic::AtomicU64,
    /// Addresses locked and principals suspended after repeated failures.
    pub lockouts: std::sync::atomic::AtomicU64,
    /// Requests refused because their address was locked.
    pub locked_refusals: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

/// Whether `id` is a file id as the vault makes them: a UUID in its canonical text form
/// (lower-case, hyphenated). Anything else names no file: it is never looked up, and never
/// written to the audit log.
pub(crate) fn is_file_id(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_ok_and(|u| u.hyphenated().to_string() == id)
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
            guard: None,
            shared: None,
            alert_sink: None,
            oidc: None,
            dpop: Arc::new(rempart_oidc::Dpop::new(crate::DPOP_WINDOW_SECS)),
            guesses: crate::auth::Guesses::new(crate::auth::GuessPolicy::default()),
            auth_counts: Arc::default(),
            probation_secs: crate::accounts::PROBATION_SECS,
            containment: Arc::default(),
            four_eyes_above: crate::exports::FOUR_EYES_ABOVE,
            export_markers: crate::markers::EXPORT_MARKERS,
            node: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The same vault with containment: every response carrying personal data is first
    /// counted against the principal's budgets ([`rempart_guard`]), and refused
    /// ([`VaultError::Contained`]) or the principal suspended when they are overrun.
    pub fn with_guard(mut self, config: rempart_guard::GuardConfig) -> Vault {
        self.probation_secs = config.probation_secs as i64;
        let containment = match &self.shared {
            Some(parts) => crate::containment::Containment::Shared {
                config,
                parts: parts.clone(),
                down: std::sync::atomic::AtomicBool::new(false),
                probe: std::sync::Mutex::new(None),
            },
            None => crate::containment::Containment::Local(std::sync::Mutex::new(
                rempart_guard::Guard::new(config),
            )),
        };
        self.guard = Some(Arc::new(containment));
        self
    }

    /// The same vault with containment's counts shared by every node of the installation
    /// through `parts` (Redis, or the database): [`Vault::with_guard`], called after, keeps
    /// them there, so that a token used on several nodes in turn is held to the budget of one;
    /// when `parts` cannot be reached, responses with personal data are refused
    /// ([`VaultError::ContainmentUnavailable`]). A restore clears the principal's refusals
    /// there, with or without containment in this process.
    pub fn with_shared_counts(mut self, parts: Arc<dyn rempart_store::SharedGuard>) -> Vault {
        self.dpop
            .share(Arc::new(crate::auth::SharedProofs(parts.clone())));
        self.shared = Some(parts);
        self
    }

    /// Where containment keeps its counts, and whether they answer now (for `/healthz`; asks
    /// Redis or the database when they are shared).
    pub fn containment_state(&self) -> crate::containment::ContainmentState {
        match &self.guard {
            None => crate::containment::ContainmentState::Off,
            Some(c) => c.state(),
        }
    }

    /// What containment decided since this vault was opened.
    pub fn containment_counts(&self) -> ContainmentSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.containment;
        ContainmentSnapshot {
            refusals: c.refusals.load(Relaxed),
            decoy_trips: c.decoy_trips.load(Relaxed),
            refusal_trips: c.refusal_trips.load(Relaxed),
        }
    }

    /// The same vault with exports of more than `people` people awaiting a second operator's
    /// approval.
    pub fn with_four_eyes_above(mut self, people: u64) -> Vault {
        self.four_eyes_above = people;
        self
    }

    /// The same vault sending every raised alert to `sink` too, once it is durable.
    pub fn with_alert_sink(mut self, sink: Arc<dyn crate::alerts::AlertSink>) -> Vault {
        self.alert_sink = Some(sink);
        self
    }

    /// The same vault letting agents sign in at an identity provider: its access tokens are
    /// checked, and API tokens are no longer made nor honoured for people (counsellors,
    /// operators, the DPO).
    pub fn with_oidc(mut self, oidc: Arc<crate::auth::Oidc>) -> Vault {
        self.oidc = Some(oidc);
        self
    }

    /// The same vault meeting failed credentials with `policy`.
    pub fn with_guesses(self, policy: crate::auth::GuessPolicy) -> Vault {
        Vault {
            guesses: crate::auth::Guesses::new(policy),
            ..self
        }
    }

    /// Whether agents sign in at an identity provider.
    pub fn people_sign_in(&self) -> bool {
        self.oidc.is_some()
    }

    /// The identity provider, if agents sign in at one.
    pub fn oidc(&self) -> Option<&Arc<crate::auth::Oidc>> {
        self.oidc.as_ref()
    }

    /// Authentication failures and lockouts since start.
    pub fn auth_counts(&self) -> &AuthCounts {
        &self.auth_counts
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
        // What a client put where a file id goes is recorded only if it is one: anything else
        // (an email, a NIR, a megabyte of text) names no file and stays out of the log.
        let persons = if is_file_id(id) {
            vec![id.to_string()]
        } else {
            vec![]
        };
        let e = self.entry(p, action, persons, vec![], purpose, Outcome::Denied);
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

#[cfg(test)]
mod tests {
    use super::is_file_id;

    #[test]
    fn only_canonical_uuids_are_file_ids() {
        assert!(is_file_id("096da531-fd8f-4c3b-ba1a-5b7821cf8e90"));
        assert!(is_file_id("00000000-0000-0000-0000-000000000000"));
        for not in [
            "",
            "096DA531-FD8F-4C3B-BA1A-5B7821CF8E90",
            "096da531fd8f4c3bba1a5b7821cf8e90",
            "{096da531-fd8f-4c3b-ba1a-5b7821cf8e90}",
            "urn:uuid:096da531-fd8f-4c3b-ba1a-5b7821cf8e90",
            "lea.martin@example.fr",
            "2060475113042 33",
        ] {
            assert!(!is_file_id(not), "{not}");
        }
        assert!(!is_file_id(&"a".repeat(60_000)));
    }
}

/// Containment's counters.
#[derive(Debug, Default)]
pub(crate) struct ContainmentCounts {
    pub(crate) refusals: std::sync::atomic::AtomicU64,
    pub(crate) decoy_trips: std::sync::atomic::AtomicU64,
    pub(crate) refusal_trips: std::sync::atomic::AtomicU64,
}

/// What containment decided since the vault was opened (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContainmentSnapshot {
    /// Responses refused (`429`).
    pub refusals: u64,
    /// Principals suspended for a decoy file.
    pub decoy_trips: u64,
    /// Principals suspended for repeated refusals.
    pub refusal_trips: u64,
}
