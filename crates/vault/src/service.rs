//! The vault operations.

use crate::access::{self, Caller};
use crate::clock::Clock;
use crate::codec;
use crate::facts;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_crypto::{hash_token, ApiToken, DataKey, FieldContext, Keyring, Sealed, WrappedKey};
use rempart_domain::{
    Agency, Category, FranceTravailPattern, Identity, PersonInput, Purpose, Role, SearchTerm,
    ValidFile, ValidationErrors, ValidationRules,
};
use rempart_policy::{Act, Decide, LogAct, Situation, Target};
use rempart_store::{
    FactsChange, IndexEntry, KeyStore, ListScope, NewPerson, PersonUpdate, Reads, Snapshot, Store,
    StoreError, StoredKey, StoredPerson, TokenRecord,
};
use serde::Serialize;
use std::sync::Arc;

/// The data key version of new files (per-person data-key rotation is not implemented yet,
/// so every file is sealed under version 1 of its own key).
const DATA_KEY_VERSION: u32 = 1;
/// Most results a search returns.
const SEARCH_LIMIT: usize = 20;
/// Most files a search looks at, before the policy keeps those the caller may see.
const SEARCH_CANDIDATES: usize = 200;
/// Most files a listing looks at for one page (those the caller may not see are skipped).
const LIST_SCAN: usize = 5_000;
/// Longest break-glass justification kept.
pub const JUSTIFICATION_MAX: usize = 500;

/// Who is calling: established by [`Vault::authenticate`] from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Public id of the token used.
    pub token_id: String,
    /// Principal name, e.g. `c.durand`.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Agency.
    pub agency: Agency,
    /// Client address, for the audit log.
    pub client: Option<String>,
    /// Request id, for the audit log.
    pub request_id: Option<String>,
    /// Break-glass: the written justification given to read past the caseload, if any. It
    /// is recorded with every entry of the request; it must say why, not name the person.
    pub break_glass: Option<String>,
}

impl Principal {
    /// Rempart itself, recording what no caller did (an integrity alert for a row that does
    /// not verify, before anyone is authenticated): principal `integrity`, token `-`.
    fn integrity(agency: Agency) -> Principal {
        Principal {
            token_id: "-".into(),
            name: "integrity".into(),
            role: Role::Operator,
            agency,
            client: None,
            request_id: None,
            break_glass: None,
        }
    }

    /// The local administrator running a command on the server (`rempart import`,
    /// `token create`, `keys rotate`): recorded as principal `cli`, token `-`.
    pub fn local(agency: Agency) -> Principal {
        Principal {
            token_id: "-".into(),
            name: "cli".into(),
            role: Role::Operator,
            agency,
            client: None,
            request_id: None,
            break_glass: None,
        }
    }
}

fn names(categories: impl IntoIterator<Item = Category>) -> Vec<String> {
    categories
        .into_iter()
        .map(|c| c.as_str().to_string())
        .collect()
}

/// One access in a file's history, as shown to the caller.
#[derive(Debug, Serialize)]
pub struct Access {
    /// Position in the audit log.
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    /// Who.
    pub principal: String,
    /// Their role.
    pub role: String,
    /// Their agency.
    pub agency: String,
    /// What.
    pub action: Action,
    /// Which categories.
    pub categories: Vec<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Allowed or denied.
    pub outcome: Outcome,
}

/// What the policy decided for one principal, act and file, and why.
#[derive(Debug)]
pub struct Explanation {
    /// The file's agency.
    pub agency: String,
    /// Its assigned counsellor.
    pub counsellor: Option<String>,
    /// Partners the person is enrolled with.
    pub partners: Vec<String>,
    /// Whether the person is a minor today.
    pub minor: bool,
    /// Per category (`nir_last_digits` for the masked NIR, `(whole file)` for acts on the
    /// whole file): the decision and the policies that made it.
    pub decisions: Vec<(String, rempart_policy::Verdict)>,
}

/// One break-glass read, for the DPO's review.
#[derive(Debug, Serialize)]
pub struct BreakGlassUse {
    /// Position in the audit log.
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    /// Who.
    pub principal: String,
    /// What.
    pub action: Action,
    /// Which files.
    pub persons: Vec<String>,
    /// Which categories were returned.
    pub categories: Vec<String>,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Why, in the counsellor's words.
    pub justification: String,
}

/// Checks a break-glass justification: 10 to 500 characters of text, no control characters.
pub fn justification(raw: &str) -> Result<String, &'static str> {
    let j = raw.trim();
    let n = j.chars().count();
    if !(10..=JUSTIFICATION_MAX).contains(&n) || j.chars().any(char::is_control) {
        return Err("a break-glass justification is 10 to 500 characters of plain text");
    }
    Ok(j.to_string())
}

/// Why an operation did not happen. Messages never contain personal data or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No token, an unknown token, or an expired one.
    #[error("missing, unknown or expired token")]
    Unauthenticated,
    /// The principal is suspended.
    #[error("this principal is suspended")]
    Suspended,
    /// Not allowed (never used for a file of another agency: that is `NotFound`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such file visible to the caller.
    #[error("no such file")]
    NotFound,
    /// Invalid input, every field named.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// A stored ciphertext did not authenticate: tampering or a moved ciphertext.
    #[error("stored data failed its integrity check")]
    Integrity,
    /// The log's stored subtrees do not give the root of the latest signed checkpoint: the
    /// log was altered; `rempart audit verify` names where.
    #[error("the audit log does not match its latest signed checkpoint (size {0}); run `rempart audit verify`")]
    AuditMismatch(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The witness file failed.
    #[error(transparent)]
    Witness(#[from] crate::witness::WitnessError),
    /// `audit verify` found no witness (the file missing or empty) for a log with signed
    /// checkpoints: a log cut back together with its checkpoints would go unnoticed.
    #[error("the witness holds no checkpoint (missing or empty) but the database holds {checkpoints} signed checkpoint(s), the latest of size {latest}")]
    NoWitness {
        /// Checkpoints in the database.
        checkpoints: usize,
        /// Size of the latest.
        latest: u64,
    },
    /// Writing an export failed.
    #[error("writing the export: {0}")]
    Output(std::io::Error),
    /// The key file has no audit signing key (written before the audit log existed).
    #[error(
        "the key file has no audit signing key; create a new installation with `rempart init`"
    )]
    NoAuditKey,
}

/// A file as shown to a caller: only the categories read.
#[derive(Serialize)]
pub struct PersonView {
    /// Pseudonymous id.
    pub id: String,
    /// The categories read, agency included; the others absent.
    #[serde(flatten)]
    pub record: PersonInput,
}

impl std::fmt::Debug for PersonView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonView({}, <redacted>)", self.id)
    }
}

/// A search or listing result: the id and the identity fields.
#[derive(Serialize)]
pub struct SearchHit {
    /// Pseudonymous id.
    pub id: String,
    /// Identity category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

/// A page of the caller's caseload.
#[derive(Serialize)]
pub struct Page {
    /// Files of this page.
    pub items: Vec<SearchHit>,
    /// Cursor of the next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Progress of a long operation: called with (done, total).
pub type ImportProgress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Data keys re-wrapped by this run.
    pub rewrapped: u64,
}

/// The vault service.
pub struct Vault {
    pub(crate) store: Arc<dyn Store>,
    keys: Arc<dyn KeyStore>,
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) clock: Arc<dyn Clock>,
    france_travail: FranceTravailPattern,
    policies: Arc<dyn Decide>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

struct Sealing<'a> {
    id: &'a str,
    dk: &'a DataKey,
    version: u32,
}

impl Sealing<'_> {
    fn ctx(&self, c: Category) -> FieldContext<'_> {
        FieldContext {
            person: self.id,
            category: c.as_str(),
            key_version: self.version,
        }
    }
    fn seal(&self, record: &PersonInput, c: Category) -> Option<Vec<u8>> {
        codec::encode(record, c).map(|pt| self.dk.seal(&self.ctx(c), &pt).into_bytes())
    }
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

    fn situation(&self, p: &Principal, purpose: Purpose) -> Situation {
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
    fn record_local(&self, action: Action, detail: String) -> Result<(), VaultError> {
        let actor =
            Principal::local(Agency::parse("LOCAL").map_err(|_| StoreError::Corrupt("agency"))?);
        let mut e = self.entry(&actor, action, vec![], vec![], None, Outcome::Allowed);
        e.detail = Some(detail);
        Ok(self.store.append_audit(&[e])?)
    }

    /// Records a refusal, then returns `err`: a probe of another agency's files leaves a trace.
    fn denied(
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

    fn index_entries(&self, file: &ValidFile) -> Vec<IndexEntry> {
        file.search_terms()
            .iter()
            .map(|t| self.index_entry(t))
            .collect()
    }

    fn index_entry(&self, t: &SearchTerm) -> IndexEntry {
        (
            t.kind.code(),
            self.keyring
                .blind_index()
                .hash(t.kind.label(), t.normalised_value()),
        )
    }

    fn seal_new(&self, file: &ValidFile) -> (NewPerson, StoredKey) {
        let id = uuid::Uuid::new_v4().to_string();
        let dk = DataKey::generate();
        let s = Sealing {
            id: &id,
            dk: &dk,
            version: DATA_KEY_VERSION,
        };
        let fields = Category::ALL
            .iter()
            .filter_map(|c| s.seal(file.record(), *c).map(|b| (*c, b)))
            .collect();
        let wrapped = self.keyring.wrap(&id, &dk);
        let key = StoredKey {
            person: id.clone(),
            master_version: wrapped.master_version,
            wrapped: wrapped.bytes,
        };
        let facts_tag = facts::file_tag(
            self.keyring.facts(),
            &id,
            file.agency().as_str(),
            file.counsellor(),
            &[],
        )
        .to_vec();
        let person = NewPerson {
            id,
            agency: file.agency().as_str().to_string(),
            counsellor: file.counsellor().map(str::to_string),
            dk_version: DATA_KEY_VERSION,
            fields,
            index: self.index_entries(file),
            now: self.clock.now(),
            facts_tag,
        };
        (person, key)
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
        Ok(Principal {
            token_id: rec.id,
            name: rec.principal,
            role,
            agency,
            client: None,
            request_id: None,
            break_glass: None,
        })
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

    /// Creates a file, if the policy lets the caller write each of its categories.
    pub fn create(&self, p: &Principal, input: PersonInput) -> Result<String, VaultError> {
        let file = ValidFile::parse(input, &self.rules())?;
        let caller = Caller::of(p);
        let how = self.situation(p, Purpose::Accompaniment);
        let facts = rempart_policy::FileFacts {
            id: "",
            agency: file.agency().as_str(),
            counsellor: file.counsellor(),
            partners: &[],
            minor: access::is_minor(file.record(), self.clock.today()),
        };
        let refused = Category::ALL.iter().any(|&c| {
            file.record().has(c)
                && !self.policies.allows(
                    &caller.subject(),
                    Act::Create,
                    &facts,
                    &how,
                    Target::Category(c),
                )
        });
        if refused {
            let e = self.entry(p, Action::Create, vec![], vec![], None, Outcome::Denied);
            self.store.append_audit(&[e])?;
            return Err(VaultError::Forbidden(
                "the access policy does not allow you to create this file",
            ));
        }
        let (person, key) = self.seal_new(&file);
        let id = person.id.clone();
        // Key first: a crash in between leaves an orphan key (harmless), never a file
        // without its key.
        self.keys.put_keys(std::slice::from_ref(&key))?;
        let e = self.entry(
            p,
            Action::Create,
            vec![id.clone()],
            names(person.fields.iter().map(|f| f.0)),
            None,
            Outcome::Allowed,
        );
        self.store
            .insert_persons(std::slice::from_ref(&person), &[e])?;
        Ok(id)
    }

    /// Whether `p` may create a file in `agency` at all, decided before the body is validated.
    /// A file always has its identity: a caller the policy refuses the identity of a file of
    /// that agency (assigned to `counsellor`, as the body says), minor or adult, can create
    /// none, and is refused here as [`Vault::create`] would refuse it (recorded `denied`),
    /// without the cost of validation. `agency` is the body's, or the caller's own when the body
    /// has none that parses (validation then names it).
    pub fn may_create(
        &self,
        p: &Principal,
        agency: Option<&str>,
        counsellor: Option<&str>,
    ) -> Result<(), VaultError> {
        let agency = agency
            .and_then(|a| Agency::parse(a).ok())
            .unwrap_or_else(|| p.agency.clone());
        let counsellor = counsellor.map(|c| c.trim().to_ascii_lowercase());
        let caller = Caller::of(p);
        let how = self.situation(p, Purpose::Accompaniment);
        let allowed = [false, true].into_iter().any(|minor| {
            let facts = rempart_policy::FileFacts {
                id: "",
                agency: agency.as_str(),
                counsellor: counsellor.as_deref(),
                partners: &[],
                minor,
            };
            self.policies.allows(
                &caller.subject(),
                Act::Create,
                &facts,
                &how,
                Target::Category(Category::Identity),
            )
        });
        if allowed {
            return Ok(());
        }
        let e = self.entry(p, Action::Create, vec![], vec![], None, Outcome::Denied);
        self.store.append_audit(&[e])?;
        Err(VaultError::Forbidden(
            "the access policy does not allow you to create this file",
        ))
    }

    /// Imports valid files, all or none; sealing runs on every core.
    pub fn import(
        &self,
        files: &[ValidFile],
        progress: ImportProgress<'_>,
    ) -> Result<usize, VaultError> {
        let total = files.len() as u64;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let chunk = files.len().div_ceil(threads).max(1);
        let done = std::sync::atomic::AtomicU64::new(0);
        let sealed: Vec<(NewPerson, StoredKey)> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    let done = &done;
                    s.spawn(move || {
                        let mut out = Vec::with_capacity(part.len());
                        for (i, f) in part.iter().enumerate() {
                            out.push(self.seal_new(f));
                            if i % 1000 == 999 {
                                let d = done.fetch_add(1000, std::sync::atomic::Ordering::Relaxed)
                                    + 1000;
                                progress(d / 2, total);
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        if sealed.len() != files.len() {
            return Err(VaultError::Integrity);
        }
        let (persons, keys): (Vec<NewPerson>, Vec<StoredKey>) = sealed.into_iter().unzip();
        self.keys.put_keys(&keys)?;
        progress(total * 3 / 4, total);
        // One import entry per agency, naming every file created.
        let mut by_agency: std::collections::BTreeMap<
            &str,
            (Vec<String>, std::collections::BTreeSet<Category>),
        > = Default::default();
        for p in &persons {
            let slot = by_agency.entry(p.agency.as_str()).or_default();
            slot.0.push(p.id.clone());
            slot.1.extend(p.fields.iter().map(|f| f.0));
        }
        let mut audit = Vec::new();
        for (agency, (ids, cats)) in by_agency {
            let actor =
                Principal::local(Agency::parse(agency).map_err(|_| StoreError::Corrupt("agency"))?);
            let mut e = self.entry(
                &actor,
                Action::Import,
                ids,
                names(cats),
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!("files={}", e.persons.len()));
            audit.push(e);
        }
        if let Err(e) = self.store.insert_persons(&persons, &audit) {
            // Nothing of the import stays: the keys written for it are destroyed again.
            for k in &keys {
                let _ = self.keys.destroy_key(&k.person);
            }
            return Err(e.into());
        }
        progress(total, total);
        Ok(persons.len())
    }

    /// A stored file and its data key; `NotFound` for a missing or erased one. Whether the
    /// caller may see it is for the policy to say.
    fn load(&self, id: &str) -> Result<(StoredPerson, DataKey), VaultError> {
        self.load_in(self.reads(), id)
    }

    /// [`Vault::load`], reading the file through `reads` (a snapshot).
    fn load_in(&self, reads: &dyn Reads, id: &str) -> Result<(StoredPerson, DataKey), VaultError> {
        let stored = reads.get_person(id)?.ok_or(VaultError::NotFound)?;
        let stored = self.verified(stored)?;
        let dk = self.data_key(id)?.ok_or(VaultError::NotFound)?;
        Ok((stored, dk))
    }

    /// The new tag of a verified file's access facts once its counsellor and enrolments are
    /// these, written only over the tag it was read with.
    fn facts_change(
        &self,
        stored: &StoredPerson,
        counsellor: Option<&str>,
        partners: &[String],
    ) -> FactsChange {
        FactsChange {
            expected: stored.facts_tag.clone(),
            tag: facts::file_tag(
                self.keyring.facts(),
                &stored.id,
                &stored.agency,
                counsellor,
                partners,
            )
            .to_vec(),
        }
    }

    /// The stored file if its access facts verify; otherwise it is treated as missing
    /// (`NotFound`), with an integrity alert recorded.
    fn verified(&self, stored: StoredPerson) -> Result<StoredPerson, VaultError> {
        if facts::file_verifies(self.keyring.facts(), &stored) {
            return Ok(stored);
        }
        Err(self.integrity_alert(
            None,
            Some(&stored.id),
            "file access facts (agency, counsellor, enrolments)".to_string(),
        ))
    }

    /// Records that a stored row failed its integrity check (it was written without the key:
    /// the threat model's insider with write access to the database) and returns the refusal
    /// the row gets: `NotFound` for a file, `Unauthenticated` for a token. `what` names the
    /// kind of row, never a value.
    fn integrity_alert(
        &self,
        by: Option<&Principal>,
        person: Option<&str>,
        what: String,
    ) -> VaultError {
        tracing::error!(
            target: "rempart::integrity",
            row = %what,
            person = person.unwrap_or("-"),
            "a stored row does not verify against its tag: treated as absent"
        );
        let actor = match by {
            Some(p) => p.clone(),
            None => match Agency::parse("LOCAL") {
                Ok(local) => Principal::integrity(local),
                Err(_) => return StoreError::Corrupt("agency").into(),
            },
        };
        let mut e = self.entry(
            &actor,
            Action::IntegrityAlert,
            person.into_iter().map(str::to_string).collect(),
            vec![],
            None,
            Outcome::Denied,
        );
        e.detail = Some(format!("{what} do not verify"));
        if let Err(err) = self.store.append_audit(&[e]) {
            return err.into();
        }
        if person.is_some() {
            VaultError::NotFound
        } else {
            VaultError::Unauthenticated
        }
    }

    fn data_key(&self, id: &str) -> Result<Option<DataKey>, VaultError> {
        let Some(key) = self.keys.get_key(id)? else {
            return Ok(None);
        };
        self.keyring
            .unwrap(
                id,
                &WrappedKey {
                    master_version: key.master_version,
                    bytes: key.wrapped,
                },
            )
            .map(Some)
            .map_err(|_| VaultError::Integrity)
    }

    fn open(
        &self,
        stored: &StoredPerson,
        dk: &DataKey,
        wanted: &[Category],
    ) -> Result<PersonInput, VaultError> {
        let s = Sealing {
            id: &stored.id,
            dk,
            version: stored.dk_version,
        };
        let mut record = PersonInput {
            agency: Some(stored.agency.clone()),
            ..Default::default()
        };
        for (c, bytes) in &stored.fields {
            if !wanted.contains(c) {
                continue;
            }
            let pt = dk
                .open(&s.ctx(*c), &Sealed::from_bytes(bytes.clone()))
                .map_err(|_| VaultError::Integrity)?;
            codec::decode(*c, &pt, &mut record).map_err(|_| VaultError::Integrity)?;
        }
        Ok(record)
    }

    /// Whether the person of a stored file is a minor today (from the sealed birth date).
    fn minor(&self, stored: &StoredPerson, dk: &DataKey) -> Result<bool, VaultError> {
        let identity = self.open(stored, dk, &[Category::Identity])?;
        Ok(access::is_minor(&identity, self.clock.today()))
    }

    /// Whether the caller may see anything of the file for some purpose: a refused act on a
    /// file the caller cannot see at all is answered as "not found", never "forbidden".
    fn visible_at_all(&self, p: &Principal, stored: &StoredPerson, minor: bool) -> bool {
        let caller = Caller::of(p);
        let facts = access::facts(stored, minor);
        Purpose::ALL.iter().any(|&purpose| {
            self.policies
                .grant(&caller.subject(), &facts, &self.situation(p, purpose))
                .any()
        })
    }

    /// Refuses an act the policy did not allow: `NotFound` if the caller can see nothing of
    /// the file, else `Forbidden(why)`; recorded either way.
    fn refuse(
        &self,
        p: &Principal,
        action: Action,
        stored: &StoredPerson,
        minor: bool,
        purpose: Option<Purpose>,
        why: &'static str,
    ) -> VaultError {
        let err = if self.visible_at_all(p, stored, minor) {
            VaultError::Forbidden(why)
        } else {
            VaultError::NotFound
        };
        self.denied(p, action, &stored.id, purpose, err)
    }

    /// Reads the categories `wanted` (all when `None`) that the policy lets the caller see
    /// for `purpose`; the others are absent. A file of which nothing may be seen is
    /// `NotFound`, as a missing one.
    pub fn read(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<PersonView, VaultError> {
        let (view, ticket) = self.read_pending_audit(p, id, purpose, wanted)?;
        ticket.wait()?;
        Ok(view)
    }

    /// [`Vault::read`] in two halves, for an asynchronous caller: the view and the ticket of its
    /// audit entry. **The view must not leave before the ticket completes with `Ok`** (no log,
    /// no data); awaiting the ticket does not hold a thread.
    pub fn read_pending_audit(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<(PersonView, rempart_store::AuditTicket), VaultError> {
        self.read_pending_audit_in(self.reads(), p, id, purpose, wanted)
    }

    /// [`Vault::read_pending_audit`], reading the file through `reads` (a snapshot).
    pub fn read_pending_audit_in(
        &self,
        reads: &dyn Reads,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        wanted: Option<&[Category]>,
    ) -> Result<(PersonView, rempart_store::AuditTicket), VaultError> {
        let (stored, dk) = self
            .load_in(reads, id)
            .map_err(|e| self.denied(p, Action::Read, id, Some(purpose), e))?;
        // The identity is opened once: for the minor test, and returned if allowed.
        let identity = self.open(&stored, &dk, &[Category::Identity])?;
        let minor = access::is_minor(&identity, self.clock.today());
        let caller = Caller::of(p);
        let grant = self.policies.grant(
            &caller.subject(),
            &access::facts(&stored, minor),
            &self.situation(p, purpose),
        );
        if !grant.any() {
            return Err(self.denied(p, Action::Read, id, Some(purpose), VaultError::NotFound));
        }
        let wanted: Vec<Category> = wanted
            .unwrap_or(Category::ALL)
            .iter()
            .copied()
            .filter(|c| grant.allows(*c))
            .collect();
        let others: Vec<Category> = wanted
            .iter()
            .copied()
            .filter(|c| *c != Category::Identity)
            .collect();
        let mut record = self.open(&stored, &dk, &others)?;
        if wanted.contains(&Category::Identity) {
            record.identity = identity.identity;
        }
        let masked = grant.nir == rempart_policy::NirForm::LastDigits;
        if masked {
            access::mask_nir(&mut record);
        }
        let returned = stored
            .fields
            .iter()
            .map(|f| f.0)
            .filter(|c| wanted.contains(c))
            .map(|c| access::read_name(c, masked))
            .collect();
        let entry = self.entry(
            p,
            Action::Read,
            vec![stored.id.clone()],
            returned,
            Some(purpose),
            Outcome::Allowed,
        );
        let ticket = self.store.submit_audit(&[entry]);
        Ok((
            PersonView {
                id: stored.id,
                record,
            },
            ticket,
        ))
    }

    /// Replaces the categories present in `patch`, if the policy lets the caller write each
    /// of them (and assign the file, when the patch changes its counsellor); the result must
    /// be a valid file. Returns the changed categories as the caller may read them.
    pub fn update(
        &self,
        p: &Principal,
        id: &str,
        purpose: Purpose,
        patch: PersonInput,
    ) -> Result<PersonView, VaultError> {
        if !Category::ALL.iter().any(|c| patch.has(*c)) {
            return Err(VaultError::Invalid(rempart_domain::ValidationErrors(vec![
                rempart_domain::FieldError {
                    field: "body".into(),
                    message: "give at least one category to change".into(),
                },
            ])));
        }
        let (stored, dk) = self
            .load(id)
            .map_err(|e| self.denied(p, Action::Update, id, Some(purpose), e))?;
        let mut record = self.open(&stored, &dk, Category::ALL)?;
        let minor = access::is_minor(&record, self.clock.today());
        let changed: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| patch.has(*c))
            .collect();
        let caller = Caller::of(p);
        let facts = access::facts(&stored, minor);
        let how = self.situation(p, purpose);
        let allowed = |act, target| {
            self.policies
                .allows(&caller.subject(), act, &facts, &how, target)
        };
        if !changed
            .iter()
            .all(|c| allowed(Act::Update, Target::Category(*c)))
        {
            return Err(self.refuse(
                p,
                Action::Update,
                &stored,
                minor,
                Some(purpose),
                "the access policy does not allow you to change these categories of this file",
            ));
        }
        if patch.agency.as_deref().is_some_and(|a| {
            Agency::parse(a).ok().map(|a| a.as_str().to_string()) != Some(stored.agency.clone())
        }) {
            return Err(self.denied(
                p,
                Action::Update,
                id,
                Some(purpose),
                VaultError::Forbidden("a file cannot be moved to another agency"),
            ));
        }
        for c in &changed {
            record.take_category(&patch, *c);
        }
        let file = ValidFile::parse(record, &self.rules())?;
        // The counsellor changes only through a patch of the follow-up: otherwise it is the
        // verified one, whatever an older follow-up ciphertext written back by hand says.
        let counsellor = if patch.has(Category::Followup) {
            file.counsellor().map(str::to_string)
        } else {
            stored.counsellor.clone()
        };
        let reassigned = counsellor != stored.counsellor;
        if reassigned && !allowed(Act::Assign, Target::File) {
            return Err(self.refuse(
                p,
                Action::Update,
                &stored,
                minor,
                Some(purpose),
                "the access policy does not allow you to assign this file",
            ));
        }
        let s = Sealing {
            id,
            dk: &dk,
            version: stored.dk_version,
        };
        let update = PersonUpdate {
            fields: changed
                .iter()
                .map(|c| (*c, s.seal(file.record(), *c)))
                .collect(),
            index: self.index_entries(&file),
            counsellor: reassigned.then(|| counsellor.clone()),
            facts: reassigned
                .then(|| self.facts_change(&stored, counsellor.as_deref(), &stored.partners)),
            now: self.clock.now(),
        };
        let mut e = self.entry(
            p,
            Action::Update,
            vec![id.to_string()],
            names(changed.iter().copied()),
            Some(purpose),
            Outcome::Allowed,
        );
        // A change of what the policy is told about the file (its counsellor, whether the
        // person is a minor, which follows the birth date) is recorded as such.
        let minor_after = access::is_minor(file.record(), self.clock.today());
        let mut changes = Vec::new();
        if reassigned {
            changes.push(format!(
                "counsellor={}",
                counsellor.as_deref().unwrap_or("-")
            ));
        }
        if minor_after != minor {
            changes.push(format!("access fact changed: minor={minor_after}"));
        }
        if !changes.is_empty() {
            let mut detail = changes.join(" ");
            if let Some(bg) = e.detail.take() {
                detail = format!("{detail} {bg}");
            }
            e.detail = Some(detail);
        }
        if !self.store.update_person(id, &stored.agency, &update, &e)? {
            return Err(VaultError::NotFound);
        }
        // The response holds the changed categories only, as the caller may read them for
        // this purpose (the NIR masked where a read would mask it): writing a category gives
        // no read of the others.
        let after = StoredPerson {
            counsellor: counsellor.clone(),
            ..stored
        };
        let grant = self.policies.grant(
            &caller.subject(),
            &access::facts(&after, minor_after),
            &self.situation(p, purpose),
        );
        let mut record = PersonInput {
            agency: Some(after.agency.clone()),
            ..Default::default()
        };
        for c in changed.iter().filter(|c| grant.allows(**c)) {
            record.take_category(file.record(), *c);
        }
        if grant.nir == rempart_policy::NirForm::LastDigits {
            access::mask_nir(&mut record);
        }
        Ok(PersonView {
            id: id.to_string(),
            record,
        })
    }

    /// Checks an act on a whole file (erase, assign, enrol, access history): the stored file
    /// and its data key (`None` once destroyed) if the policy allows it, else the refusal,
    /// recorded.
    fn authorise_whole_file(
        &self,
        p: &Principal,
        id: &str,
        act: Act,
        action: Action,
        purpose: Purpose,
        why: &'static str,
    ) -> Result<(StoredPerson, Option<DataKey>), VaultError> {
        let Some(stored) = self.store.get_person(id)? else {
            return Err(self.denied(p, action, id, None, VaultError::NotFound));
        };
        let stored = self
            .verified(stored)
            .map_err(|e| self.denied(p, action, id, None, e))?;
        let dk = self.data_key(id)?;
        // A file whose key is already gone (an erasure cut short) is decided as an adult's.
        let minor = match &dk {
            Some(dk) => self.minor(&stored, dk)?,
            None => false,
        };
        let caller = Caller::of(p);
        if !self.policies.allows(
            &caller.subject(),
            act,
            &access::facts(&stored, minor),
            &self.situation(p, purpose),
            Target::File,
        ) {
            return Err(self.refuse(p, action, &stored, minor, None, why));
        }
        Ok((stored, dk))
    }

    /// Assigns the file to a counsellor (`None`: to nobody): the follow-up category and the
    /// caseload change together, with their audit entry.
    pub fn assign(
        &self,
        p: &Principal,
        id: &str,
        counsellor: Option<&str>,
    ) -> Result<(), VaultError> {
        let (stored, dk) = self.authorise_whole_file(
            p,
            id,
            Act::Assign,
            Action::Assign,
            Purpose::Accompaniment,
            "the access policy does not allow you to assign this file",
        )?;
        let dk = dk.ok_or(VaultError::NotFound)?;
        let mut record = self.open(&stored, &dk, Category::ALL)?;
        record
            .followup
            .get_or_insert_with(Default::default)
            .counsellor = counsellor.map(str::to_string);
        let file = ValidFile::parse(record, &self.rules())?;
        let counsellor = file.counsellor().map(str::to_string);
        let s = Sealing {
            id,
            dk: &dk,
            version: stored.dk_version,
        };
        let update = PersonUpdate {
            fields: vec![(
                Category::Followup,
                s.seal(file.record(), Category::Followup),
            )],
            index: self.index_entries(&file),
            counsellor: Some(counsellor.clone()),
            facts: Some(self.facts_change(&stored, counsellor.as_deref(), &stored.partners)),
            now: self.clock.now(),
        };
        let mut e = self.entry(
            p,
            Action::Assign,
            vec![id.to_string()],
            names([Category::Followup]),
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "counsellor={}",
            counsellor.as_deref().unwrap_or("-")
        ));
        if !self.store.update_person(id, &stored.agency, &update, &e)? {
            return Err(VaultError::NotFound);
        }
        Ok(())
    }

    /// Enrols the person with a partner organisation (or ends the enrolment), so that the
    /// partner's principals see what the policy gives partners. `Ok(false)`: nothing to change.
    pub fn enrol(
        &self,
        p: &Principal,
        id: &str,
        partner: &Agency,
        enrolled: bool,
    ) -> Result<bool, VaultError> {
        let action = if enrolled {
            Action::Enrol
        } else {
            Action::Unenrol
        };
        let (stored, _) = self.authorise_whole_file(
            p,
            id,
            Act::Enrol,
            action,
            Purpose::Accompaniment,
            "the access policy does not allow you to enrol this person",
        )?;
        let mut partners = stored.partners.clone();
        partners.retain(|x| x != partner.as_str());
        if enrolled {
            partners.push(partner.as_str().to_string());
            partners.sort();
        }
        let change = self.facts_change(&stored, stored.counsellor.as_deref(), &partners);
        let mut e = self.entry(
            p,
            action,
            vec![id.to_string()],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("partner={}", partner.as_str()));
        Ok(self.store.set_enrolment(
            id,
            partner.as_str(),
            enrolled,
            &change,
            self.clock.now(),
            &e,
        )?)
    }

    /// Erases a file by destroying its data key, then removes its sealed rows.
    pub fn erase(&self, p: &Principal, id: &str) -> Result<(), VaultError> {
        let (stored, _) = self.authorise_whole_file(
            p,
            id,
            Act::Erase,
            Action::Erase,
            Purpose::DataSubjectRequest,
            "the access policy does not allow you to erase this file",
        )?;
        // The key goes first: from this point no copy of the file store can be read. Then the
        // sealed rows go, with the audit entry, in one transaction; if that fails, running the
        // erasure again finds the rows, no key, and finishes (the key stays destroyed).
        self.keys.destroy_key(id)?;
        let e = self.entry(
            p,
            Action::Erase,
            vec![id.to_string()],
            names(stored.fields.iter().map(|f| f.0)),
            None,
            Outcome::Allowed,
        );
        self.store.delete_person(id, &e)?;
        Ok(())
    }

    /// The identity of a stored file, if the policy lets the caller read it for `purpose`.
    fn identity_if_allowed(
        &self,
        caller: &Caller,
        how: &Situation,
        stored: &StoredPerson,
    ) -> Result<Option<SearchHit>, VaultError> {
        if !facts::file_verifies(self.keyring.facts(), stored) {
            return match self.verified(stored.clone()) {
                Err(VaultError::NotFound) | Ok(_) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let Some(dk) = self.data_key(&stored.id)? else {
            return Ok(None);
        };
        let rec = self.open(stored, &dk, &[Category::Identity])?;
        let minor = access::is_minor(&rec, self.clock.today());
        let allowed = self.policies.allows(
            &caller.subject(),
            Act::Read,
            &access::facts(stored, minor),
            how,
            Target::Category(Category::Identity),
        );
        Ok(allowed.then(|| SearchHit {
            id: stored.id.clone(),
            identity: rec.identity,
        }))
    }

    /// Exact search through a blind index, among the files whose identity the policy lets the
    /// caller read for `purpose`.
    pub fn search(
        &self,
        p: &Principal,
        purpose: Purpose,
        term: &SearchTerm,
    ) -> Result<Vec<SearchHit>, VaultError> {
        let (kind, hash) = self.index_entry(term);
        // Only files the caller could see are candidates: matches in other agencies cannot
        // crowd out the one searched for.
        let ids =
            self.store
                .find_by_index(kind, &hash, &Self::scope_of(p, false), SEARCH_CANDIDATES)?;
        let caller = Caller::of(p);
        let how = self.situation(p, purpose);
        let mut hits = Vec::new();
        for id in ids {
            if hits.len() == SEARCH_LIMIT {
                break;
            }
            let Some(stored) = self.store.get_person(&id)? else {
                continue;
            };
            if let Some(hit) = self.identity_if_allowed(&caller, &how, &stored)? {
                hits.push(hit);
            }
        }
        // The search term is recorded as its blind-index value, never in clear.
        let mut e = self.entry(
            p,
            Action::Search,
            hits.iter().map(|h| h.id.clone()).collect(),
            names([Category::Identity]),
            Some(purpose),
            Outcome::Allowed,
        );
        let term = format!(
            "{}:{}",
            term.kind.label(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, hash)
        );
        e.detail = Some(match e.detail {
            Some(bg) => format!("{term} {bg}"),
            None => term,
        });
        self.store.append_audit(&[e])?;
        Ok(hits)
    }

    /// A page of the caller's files after `cursor`: a counsellor's caseload, the people
    /// enrolled with a partner, the agency's files for the other roles; only those whose
    /// identity the policy lets the caller read for `purpose`.
    pub fn list(
        &self,
        p: &Principal,
        purpose: Purpose,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, VaultError> {
        let limit = limit.clamp(1, 200);
        let caller = Caller::of(p);
        let name = p.name.to_ascii_lowercase();
        let scope = match Self::scope_of(p, true) {
            ListScope::Caseload { agency, .. } => ListScope::Caseload {
                agency,
                counsellor: &name,
            },
            other => other,
        };
        let how = self.situation(p, purpose);
        // Files the caller may not see are skipped, and the cursor is only ever the id of a
        // file returned: it never reveals another one. At most LIST_SCAN files are looked at
        // per page; the walk is recorded with the listing.
        let mut items = Vec::with_capacity(limit);
        let mut after = cursor.map(str::to_string);
        let mut scanned = 0usize;
        let mut more = false;
        'pages: while scanned < LIST_SCAN {
            let batch = (limit + 1).max(64).min(LIST_SCAN - scanned + 1);
            let rows = self.store.list_persons(&scope, after.as_deref(), batch)?;
            let end = rows.len() < batch;
            for stored in rows {
                if items.len() == limit {
                    more = true;
                    break 'pages;
                }
                scanned += 1;
                after = Some(stored.id.clone());
                if let Some(hit) = self.identity_if_allowed(&caller, &how, &stored)? {
                    items.push(hit);
                }
                if scanned == LIST_SCAN {
                    break;
                }
            }
            if end {
                break;
            }
        }
        if scanned == LIST_SCAN {
            // The scan stopped early: the next page starts after the last file returned.
            more = !items.is_empty();
        }
        let next_cursor = if more {
            items.last().map(|h| h.id.clone())
        } else {
            None
        };
        let mut e = self.entry(
            p,
            Action::List,
            items.iter().map(|h| h.id.clone()).collect(),
            names([Category::Identity]),
            Some(purpose),
            Outcome::Allowed,
        );
        let walk = format!("scanned={scanned}");
        e.detail = Some(match e.detail.take() {
            Some(bg) => format!("{walk} {bg}"),
            None => walk,
        });
        self.store.append_audit(&[e])?;
        Ok(Page { items, next_cursor })
    }

    /// The files a role works with, for listings (`caseload`: a counsellor's own) and searches:
    /// a counsellor's caseload or agency, the people enrolled with a partner, the agency's
    /// files for the other roles.
    fn scope_of(p: &Principal, caseload: bool) -> ListScope<'_> {
        match p.role {
            Role::Counsellor if caseload => ListScope::Caseload {
                agency: p.agency.as_str(),
                counsellor: &p.name,
            },
            Role::Partner => ListScope::Enrolled(p.agency.as_str()),
            _ => ListScope::Agency(p.agency.as_str()),
        }
    }

    /// Fills in the caseload of files stored before caseloads existed, from the assigned
    /// counsellor in their sealed follow-up category; resumable, and nothing to do once done.
    /// Recorded as one `assign` entry per batch, by the local administrator. Returns how many
    /// files were assigned.
    pub fn backfill_caseloads(&self) -> Result<u64, VaultError> {
        let mut after: Option<String> = None;
        let mut total = 0u64;
        loop {
            let batch = self.store.caseload_backfill(after.as_deref(), 500)?;
            let done = batch.len() < 500;
            let mut assignments = Vec::new();
            for stored in &batch {
                let Some(dk) = self.data_key(&stored.id)? else {
                    continue;
                };
                let followup = self.open(stored, &dk, &[Category::Followup])?;
                if let Some(c) = followup.followup.and_then(|f| f.counsellor) {
                    assignments.push((stored.id.clone(), c));
                }
            }
            after = batch.last().map(|s| s.id.clone());
            let actor = Principal::local(
                Agency::parse("LOCAL").map_err(|_| StoreError::Corrupt("agency"))?,
            );
            let mut e = self.entry(
                &actor,
                Action::Assign,
                assignments.iter().map(|a| a.0.clone()).collect(),
                names([Category::Followup]),
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!("caseload backfill files={}", assignments.len()));
            self.store.set_caseloads(&assignments, done, &e)?;
            total += assignments.len() as u64;
            if done {
                return Ok(total);
            }
        }
    }

    /// Re-wraps every data key under the keyring's current master version, in batches,
    /// without opening any file. Safe to interrupt and run again: it resumes where it stopped.
    pub fn rewrap_all(
        &self,
        batch: usize,
        progress: ImportProgress<'_>,
    ) -> Result<RotationReport, VaultError> {
        let current = self.keyring.current_version();
        let total = self.keys.count_below_version(current)?;
        let mut done = 0u64;
        loop {
            let rows = self.keys.keys_below_version(current, batch.max(1))?;
            if rows.is_empty() {
                break;
            }
            let mut out = Vec::with_capacity(rows.len());
            for k in rows {
                let w = self
                    .keyring
                    .rewrap(
                        &k.person,
                        &WrappedKey {
                            master_version: k.master_version,
                            bytes: k.wrapped,
                        },
                    )
                    .map_err(|_| VaultError::Integrity)?;
                out.push(StoredKey {
                    person: k.person,
                    master_version: w.master_version,
                    wrapped: w.bytes,
                });
            }
            self.keys.rewrap_keys(&out)?;
            done += out.len() as u64;
            progress(done, total);
        }
        self.record_local(
            Action::KeyRotate,
            format!("master_version={current} rewrapped={done}"),
        )?;
        Ok(RotationReport { rewrapped: done })
    }

    /// Keys still wrapped under an older master version (non-zero means a rotation is
    /// unfinished).
    pub fn pending_rewrap(&self) -> Result<u64, VaultError> {
        Ok(self
            .keys
            .count_below_version(self.keyring.current_version())?)
    }

    /// The access history of a file visible to `p`, newest first; reading it is itself
    /// recorded.
    pub fn accesses(
        &self,
        p: &Principal,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Access>, VaultError> {
        self.authorise_whole_file(
            p,
            id,
            Act::ReadAccesses,
            Action::ReadAccesses,
            Purpose::DataSubjectRequest,
            "the access policy does not allow you to read this file's access history",
        )?;
        self.store.append_audit(&[self.entry(
            p,
            Action::ReadAccesses,
            vec![id.to_string()],
            vec![],
            None,
            Outcome::Allowed,
        )])?;
        Ok(self
            .store
            .audit_for_person(id, limit.clamp(1, 1000))?
            .into_iter()
            .map(|(seq, e)| Access {
                seq,
                time: e.time,
                principal: e.principal,
                role: e.role,
                agency: e.agency,
                action: e.action,
                categories: e.categories,
                purpose: e.purpose,
                outcome: e.outcome,
            })
            .collect())
    }

    /// Explains what the policy decides for a principal acting on a file: the facts the
    /// policy was given and, per category (or for the whole file), the decision and the
    /// policies that made it. For operators (`rempart policy check`); returns no personal data.
    pub fn explain(
        &self,
        who: &Principal,
        id: &str,
        act: Act,
        purpose: Purpose,
    ) -> Result<Explanation, VaultError> {
        let (stored, dk) = self.load(id)?;
        let minor = self.minor(&stored, &dk)?;
        let caller = Caller::of(who);
        let facts = access::facts(&stored, minor);
        let how = self.situation(who, purpose);
        let targets: Vec<Target> = if act.per_category() {
            Category::ALL
                .iter()
                .map(|c| Target::Category(*c))
                .chain((act == Act::Read).then_some(Target::NirLastDigits))
                .collect()
        } else {
            vec![Target::File]
        };
        let decisions = targets
            .into_iter()
            .map(|t| {
                let v = self
                    .policies
                    .decide(&caller.subject(), act, &facts, &how, t);
                (
                    if t == Target::File {
                        "(whole file)".to_string()
                    } else {
                        t.as_str().to_string()
                    },
                    v,
                )
            })
            .collect();
        Ok(Explanation {
            agency: stored.agency.clone(),
            counsellor: stored.counsellor.clone(),
            partners: stored.partners.clone(),
            minor,
            decisions,
        })
    }

    /// The break-glass reads of the DPO's agency since Unix time `since`, oldest first, with
    /// their justification: the DPO's review list. Reading it is recorded.
    pub fn break_glass_uses(
        &self,
        p: &Principal,
        since: i64,
    ) -> Result<Vec<BreakGlassUse>, VaultError> {
        self.audit_reader(p, LogAct::ReviewBreakGlass, Action::ReadAccesses)?;
        let mut e = self.entry(
            p,
            Action::ReadAccesses,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("break_glass_review since={since}"));
        self.store.append_audit(&[e])?;
        let mut out = Vec::new();
        let mut failed = None;
        let marker = b"break_glass: ";
        self.store.audit_visit(0, &mut |seq, bytes, _| {
            if !bytes.windows(marker.len()).any(|w| w == marker) {
                return true;
            }
            match AuditEntry::parse(bytes) {
                Ok(e) => {
                    let justification = e
                        .detail
                        .as_deref()
                        .and_then(|d| d.split_once("break_glass: "))
                        .map(|(_, j)| j.to_string());
                    if let Some(justification) = justification {
                        if e.time >= since && e.agency == p.agency.as_str() {
                            out.push(BreakGlassUse {
                                seq,
                                time: e.time,
                                principal: e.principal,
                                action: e.action,
                                persons: e.persons,
                                categories: e.categories,
                                outcome: e.outcome,
                                justification,
                            });
                        }
                    }
                    true
                }
                Err(_) => {
                    failed = Some(StoreError::Corrupt("audit entry"));
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(out)
    }

    /// Signs a checkpoint of the whole log (unless the latest one already covers it), records
    /// it in the database and appends it to the witness. Returns the latest checkpoint.
    pub fn checkpoint(
        &self,
        witness: &crate::witness::Witness,
    ) -> Result<rempart_audit::Checkpoint, VaultError> {
        let latest = self.store.latest_checkpoint()?;
        // Nothing new since the latest checkpoint: no need to read the log again.
        let len = self.store.audit_len()?;
        if let Some(l) = latest.as_ref().filter(|l| l.size == len) {
            return Ok(l.clone());
        }
        // Resume from the latest signed checkpoint: its tree is read from the stored subtrees
        // (O(log n)) and must give its signed root; the entries after it are hashed again from
        // their content, not taken from stored leaves. Without a checkpoint, the whole log is.
        let mut stream = match &latest {
            Some(l) => {
                let s = rempart_audit::merkle::StreamingRoot::resume(
                    &mut *self.store.audit_subtrees()?,
                    l.size,
                )
                .map_err(|_| VaultError::AuditMismatch(l.size))?;
                if Some(s.root()) != l.root_hash() {
                    return Err(VaultError::AuditMismatch(l.size));
                }
                s
            }
            None => rempart_audit::merkle::StreamingRoot::new(),
        };
        let mut gap = false;
        self.store
            .audit_visit(stream.size(), &mut |seq, bytes, _| {
                if seq != stream.size() + 1 {
                    gap = true;
                    return false;
                }
                stream.push(rempart_audit::leaf_of(seq, bytes));
                true
            })?;
        if gap {
            return Err(StoreError::Corrupt("audit log has a gap").into());
        }
        if let Some(l) = latest.filter(|l| l.size == stream.size()) {
            return Ok(l);
        }
        let (size, root, time) = (stream.size(), stream.root(), self.clock.now());
        let sig = self
            .keyring
            .sign_audit(&rempart_audit::Checkpoint::message(size, &root, time))
            .ok_or(VaultError::NoAuditKey)?;
        let cp = rempart_audit::Checkpoint::new(size, &root, time, &sig);
        self.store.insert_checkpoint(&cp)?;
        witness.append(&cp)?;
        Ok(cp)
    }

    fn checkpoint_of_size(&self, size: u64) -> Result<rempart_audit::Checkpoint, VaultError> {
        self.store
            .checkpoints()?
            .into_iter()
            .find(|c| c.size == size)
            .ok_or(VaultError::NotFound)
    }

    /// A proof that entry `seq` is in the signed checkpoint of `size` (the latest by default).
    /// Only operators and the DPO may ask: entries say who read which file.
    pub fn inclusion_proof(
        &self,
        p: &Principal,
        seq: u64,
        size: Option<u64>,
    ) -> Result<rempart_audit::InclusionProof, VaultError> {
        self.audit_reader(p, LogAct::Prove, Action::AuditProof)?;
        let checkpoint = match size {
            Some(s) => self.checkpoint_of_size(s)?,
            None => self.latest_checkpoint()?.ok_or(VaultError::NotFound)?,
        };
        if seq == 0 || seq > checkpoint.size {
            return Err(VaultError::NotFound);
        }
        self.record_proof(p, format!("inclusion seq={seq} size={}", checkpoint.size))?;
        let mut entry = None;
        self.store.audit_visit(seq - 1, &mut |s, bytes, _| {
            if s == seq {
                entry = Some(bytes.to_vec());
            }
            false
        })?;
        let entry = entry.ok_or(VaultError::NotFound)?;
        let path = rempart_audit::merkle::inclusion_path(
            &mut *self.store.audit_subtrees()?,
            seq - 1,
            checkpoint.size,
        )?;
        let proof = rempart_audit::InclusionProof::new(seq, &entry, &path, checkpoint)
            .ok_or(StoreError::Corrupt("audit entry"))?;
        if self.may_see_entry(p, &proof.entry)? {
            Ok(proof)
        } else {
            Ok(proof.redact())
        }
    }

    /// Whether `p` may see who made an entry (principal, token, client address, request id,
    /// persons, justification): the local administrator always; otherwise an entry made by a
    /// principal of the caller's own agency, or one whose every person is a file of the caller's
    /// agency (a partner's or a colleague's access to the agency's files). Entries of other
    /// agencies are shown redacted.
    fn may_see_entry(&self, p: &Principal, e: &AuditEntry) -> Result<bool, VaultError> {
        if p.token_id == "-" && p.name == "cli" {
            return Ok(true);
        }
        if e.agency == p.agency.as_str() {
            return Ok(true);
        }
        if e.persons.is_empty() {
            return Ok(false);
        }
        for id in &e.persons {
            match self.store.get_person(id)? {
                Some(f)
                    if f.agency == p.agency.as_str()
                        && facts::file_verifies(self.keyring.facts(), &f) => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// A proof that the signed checkpoint of size `first` is a prefix of the one of `second`.
    pub fn consistency_proof(
        &self,
        p: &Principal,
        first: u64,
        second: u64,
    ) -> Result<rempart_audit::ConsistencyProof, VaultError> {
        self.audit_reader(p, LogAct::Prove, Action::AuditProof)?;
        if first > second {
            return Err(VaultError::Forbidden(
                "first must not be larger than second",
            ));
        }
        let (a, b) = (
            self.checkpoint_of_size(first)?,
            self.checkpoint_of_size(second)?,
        );
        self.record_proof(p, format!("consistency first={first} second={second}"))?;
        let path = rempart_audit::merkle::consistency_path(
            &mut *self.store.audit_subtrees()?,
            first,
            second,
        )?;
        Ok(rempart_audit::ConsistencyProof {
            first: a,
            second: b,
            path: rempart_audit::hex_path(&path),
        })
    }

    /// A proof shows an entry of the log (who read which file): reading one is recorded.
    fn record_proof(&self, p: &Principal, detail: String) -> Result<(), VaultError> {
        let mut e = self.entry(
            p,
            Action::AuditProof,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(detail);
        Ok(self.store.append_audit(&[e])?)
    }

    /// Operators and the DPO read the log; anyone else is refused, and the attempt recorded.
    /// Checks an act on the audit log against the policy; a refusal is recorded as `action`.
    fn audit_reader(&self, p: &Principal, act: LogAct, action: Action) -> Result<(), VaultError> {
        let caller = Caller::of(p);
        let how = self.situation(p, Purpose::BreachResponse);
        if self
            .policies
            .decide_log(&caller.subject(), act, &how)
            .allowed
        {
            return Ok(());
        }
        let e = self.entry(p, action, vec![], vec![], None, Outcome::Denied);
        self.store.append_audit(&[e])?;
        Err(VaultError::Forbidden(
            "the access policy does not allow you this use of the audit log",
        ))
    }

    /// The latest signed checkpoint, for `p` if the policy allows it.
    pub fn checkpoint_for(
        &self,
        p: &Principal,
    ) -> Result<Option<rempart_audit::Checkpoint>, VaultError> {
        self.audit_reader(p, LogAct::ReadCheckpoint, Action::AuditProof)?;
        self.latest_checkpoint()
    }

    /// Every entry from `since` (Unix seconds) on, for a SIEM or an archive; returns how many
    /// were written. Only operators and the DPO may export; the export is itself recorded
    /// (before anything is written).
    pub fn export_audit<W: std::io::Write + Send>(
        &self,
        p: &Principal,
        since: i64,
        format: crate::ExportFormat,
        out: W,
    ) -> Result<u64, VaultError> {
        self.audit_reader(p, LogAct::Export, Action::AuditExport)?;
        let mut entry = self.entry(
            p,
            Action::AuditExport,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        entry.detail = Some(format!("format={format:?} since={since}").to_lowercase());
        self.store.append_audit(&[entry])?;
        let mut sink = crate::export::Sink::new(format, out)?;
        let mut n = 0u64;
        let mut failed = None;
        self.store.audit_visit(0, &mut |seq, bytes, leaf| {
            // Only the time is needed to filter.
            let time = match AuditEntry::time_of(bytes) {
                Ok(t) => t,
                Err(_) => {
                    failed = Some(StoreError::Corrupt("audit entry").into());
                    return false;
                }
            };
            if time < since {
                return true;
            }
            if let Err(e) = sink.push(seq, &hex::encode(leaf), bytes) {
                failed = Some(e);
                return false;
            }
            n += 1;
            true
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        sink.finish()?;
        Ok(n)
    }

    /// The latest recorded checkpoint.
    pub fn latest_checkpoint(&self) -> Result<Option<rempart_audit::Checkpoint>, VaultError> {
        Ok(self.store.latest_checkpoint()?)
    }

    /// The public key that verifies checkpoints.
    pub fn audit_public_key(&self) -> Result<[u8; 32], VaultError> {
        self.keyring
            .audit_public_key()
            .ok_or(VaultError::NoAuditKey)
    }

    /// Recomputes the whole log and checks it against every checkpoint of the database and
    /// of the witness. `Ok(Err(tamper))` names the first problem. A witness missing or empty
    /// while the database holds signed checkpoints is [`VaultError::NoWitness`], unless it was
    /// deliberately not read ([`Witnessed::NotChecked`](crate::Witnessed::NotChecked)).
    pub fn verify_audit(
        &self,
        public_key: &[u8; 32],
        witness: &crate::witness::Witnessed,
        progress: ImportProgress<'_>,
    ) -> Result<Result<rempart_audit::Verified, rempart_audit::Tamper>, VaultError> {
        self.verify_audit_from(public_key, witness, None, progress)
    }

    /// [`Vault::verify_audit`], also against `trusted`, a signed checkpoint kept outside the
    /// installation (by an auditor, the DPO, a witness of their own): the log must hold at
    /// least its entries and give its root. Someone able to rewrite the database, its
    /// checkpoints and the witness file together is still caught by a checkpoint they cannot
    /// reach.
    pub fn verify_audit_from(
        &self,
        public_key: &[u8; 32],
        witness: &crate::witness::Witnessed,
        trusted: Option<&rempart_audit::Checkpoint>,
        progress: ImportProgress<'_>,
    ) -> Result<Result<rempart_audit::Verified, rempart_audit::Tamper>, VaultError> {
        use crate::witness::Witnessed;
        use rempart_audit::LogVerifier;
        let total = self.store.audit_len()?;
        let database = self.store.checkpoints()?;
        // Deleting (or emptying) the witness must not be a way to cut the log back together
        // with its checkpoints unnoticed.
        let unwitnessed = match witness {
            Witnessed::Missing => true,
            Witnessed::Checkpoints(c) => c.is_empty(),
            Witnessed::NotChecked => false,
        };
        if let (true, Some(latest)) = (unwitnessed, database.last()) {
            return Err(VaultError::NoWitness {
                checkpoints: database.len(),
                latest: latest.size,
            });
        }
        let witness = witness.checkpoints();
        let v = match trusted {
            None => LogVerifier::new(public_key, &database, witness),
            Some(t) => LogVerifier::with_file(public_key, &database, witness, t),
        };
        let mut v = match v {
            Ok(v) => v,
            Err(t) => return Ok(Err(t)),
        };
        let mut failure = None;
        let mut unreadable = None;
        let mut subtrees = self.store.audit_subtrees()?;
        self.store.audit_visit(0, &mut |seq, bytes, leaf| {
            if let Err(t) = v.feed(seq, bytes, leaf) {
                failure = Some(t);
                return false;
            }
            // The subtrees kept for proofs must be those of the entries (missing or different
            // is tampering; a database failure is reported as such).
            for (level, index, root) in v.take_completed() {
                let stored = match subtrees.node(level, index) {
                    Ok(h) => Some(h),
                    Err(StoreError::Corrupt(_)) => None,
                    Err(e) => {
                        unreadable = Some(e);
                        return false;
                    }
                };
                if stored != Some(root) {
                    failure = Some(rempart_audit::Tamper::Subtree {
                        level,
                        index,
                        first: (index << level) + 1,
                        last: (index + 1) << level,
                    });
                    return false;
                }
            }
            if seq % 65_536 == 0 {
                progress(seq.min(total), total);
            }
            true
        })?;
        if let Some(e) = unreadable {
            return Err(e.into());
        }
        if let Some(t) = failure {
            return Ok(Err(t));
        }
        Ok(v.finish())
    }

    /// Compares the per-person index of the log (which answers the access history) with the
    /// entries it covers: run after [`Vault::verify_audit`] has found the log intact.
    pub fn check_audit_index(
        &self,
        progress: ImportProgress<'_>,
    ) -> Result<rempart_store::IndexCheck, VaultError> {
        Ok(self.store.check_audit_index(&mut |d, t| progress(d, t))?)
    }

    /// Empties the per-person index and builds it again from the log; returns the entries
    /// indexed. An administrative act, recorded (`audit_reindex`, by `cli`) once the index is
    /// rebuilt: the access history answers from it.
    pub fn rebuild_audit_index(&self, progress: ImportProgress<'_>) -> Result<u64, VaultError> {
        let n = self.store.rebuild_audit_index(&mut |d, t| progress(d, t))?;
        self.record_local(Action::AuditReindex, format!("indexed={n}"))?;
        Ok(n)
    }

    /// Number of audit entries.
    pub fn audit_len(&self) -> Result<u64, VaultError> {
        Ok(self.store.audit_len()?)
    }

    /// Number of files.
    pub fn count(&self) -> Result<u64, VaultError> {
        Ok(self.store.count_persons()?)
    }
}
