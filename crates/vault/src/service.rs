//! The vault operations.

use crate::clock::Clock;
use crate::codec;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_crypto::{hash_token, ApiToken, DataKey, FieldContext, Keyring, Sealed, WrappedKey};
use rempart_domain::{
    Agency, Category, FranceTravailPattern, Identity, PersonInput, Purpose, Role, SearchTerm,
    ValidFile, ValidationErrors, ValidationRules,
};
use rempart_store::{
    IndexEntry, KeyStore, NewPerson, PersonUpdate, Store, StoreError, StoredKey, StoredPerson,
    TokenRecord,
};
use serde::Serialize;
use std::sync::Arc;

/// The data key version of new files (per-person data-key rotation is not implemented yet,
/// so every file is sealed under version 1 of its own key).
const DATA_KEY_VERSION: u32 = 1;
/// Most results a search returns.
const SEARCH_LIMIT: usize = 20;

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
}

impl Principal {
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
        }
    }
}

/// The one field the export filters on.
#[derive(serde::Deserialize)]
struct EntryTime {
    time: i64,
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyStore>,
    keyring: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    france_travail: FranceTravailPattern,
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
    ) -> Self {
        Vault {
            store,
            keys,
            keyring,
            clock,
            france_travail,
        }
    }

    /// The validation rules as of now.
    pub fn rules(&self) -> ValidationRules {
        ValidationRules {
            today: self.clock.today(),
            france_travail: self.france_travail.clone(),
        }
    }

    /// An audit entry for an act of `p`.
    fn entry(
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
            detail: None,
        }
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
        let person = NewPerson {
            id,
            agency: file.agency().as_str().to_string(),
            dk_version: DATA_KEY_VERSION,
            fields,
            index: self.index_entries(file),
            now: self.clock.now(),
        };
        (person, key)
    }

    /// Checks a presented token: unknown or expired is `Unauthenticated`, suspended is
    /// `Suspended`.
    pub fn authenticate(&self, presented: &str) -> Result<Principal, VaultError> {
        let rec = self
            .store
            .token_by_hash(&hash_token(presented))?
            .ok_or(VaultError::Unauthenticated)?;
        if rec.expires_at <= self.clock.now() {
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
        let (token, hash) = ApiToken::generate();
        let now = self.clock.now();
        let rec = TokenRecord {
            id: format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            hash,
            principal: principal.to_string(),
            role: role.as_str().to_string(),
            agency: agency.as_str().to_string(),
            created_at: now,
            expires_at: now.saturating_add(ttl_secs),
            suspended: false,
        };
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
        self.store.insert_token(&rec, &e)?;
        Ok((token, rec))
    }

    /// Creates a file in the caller's agency.
    pub fn create(&self, p: &Principal, input: PersonInput) -> Result<String, VaultError> {
        let file = ValidFile::parse(input, &self.rules())?;
        if file.agency() != &p.agency {
            return Err(VaultError::Forbidden(
                "files can only be created in your own agency",
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

    /// A stored file visible to `p`, with its data key; `NotFound` for another agency's file,
    /// a missing one or an erased one.
    fn load(&self, p: &Principal, id: &str) -> Result<(StoredPerson, DataKey), VaultError> {
        let stored = self
            .store
            .get_person(id)?
            .filter(|s| s.agency == p.agency.as_str())
            .ok_or(VaultError::NotFound)?;
        let key = self.keys.get_key(id)?.ok_or(VaultError::NotFound)?;
        let dk = self
            .keyring
            .unwrap(
                id,
                &WrappedKey {
                    master_version: key.master_version,
                    bytes: key.wrapped,
                },
            )
            .map_err(|_| VaultError::Integrity)?;
        Ok((stored, dk))
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

    /// Reads the categories `wanted` (all when `None`) of a file of the caller's agency.
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
        let (stored, dk) = self
            .load(p, id)
            .map_err(|e| self.denied(p, Action::Read, id, Some(purpose), e))?;
        let wanted = wanted.unwrap_or(Category::ALL);
        let record = self.open(&stored, &dk, wanted)?;
        let returned = stored
            .fields
            .iter()
            .map(|f| f.0)
            .filter(|c| wanted.contains(c));
        let entry = self.entry(
            p,
            Action::Read,
            vec![stored.id.clone()],
            names(returned),
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

    /// Replaces the categories present in `patch`; the result must be a valid file.
    pub fn update(
        &self,
        p: &Principal,
        id: &str,
        patch: PersonInput,
    ) -> Result<PersonView, VaultError> {
        if patch
            .agency
            .as_deref()
            .is_some_and(|a| Agency::parse(a).ok().as_ref() != Some(&p.agency))
        {
            return Err(VaultError::Forbidden(
                "a file cannot be moved to another agency",
            ));
        }
        let (stored, dk) = self
            .load(p, id)
            .map_err(|e| self.denied(p, Action::Update, id, None, e))?;
        let mut record = self.open(&stored, &dk, Category::ALL)?;
        let changed: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| patch.has(*c))
            .collect();
        for c in &changed {
            record.take_category(&patch, *c);
        }
        let file = ValidFile::parse(record, &self.rules())?;
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
            now: self.clock.now(),
        };
        let e = self.entry(
            p,
            Action::Update,
            vec![id.to_string()],
            names(changed.iter().copied()),
            None,
            Outcome::Allowed,
        );
        if !self
            .store
            .update_person(id, p.agency.as_str(), &update, &e)?
        {
            return Err(VaultError::NotFound);
        }
        Ok(PersonView {
            id: id.to_string(),
            record: file.record().clone(),
        })
    }

    /// Erases a file by destroying its data key, then removes its sealed rows.
    pub fn erase(&self, p: &Principal, id: &str) -> Result<(), VaultError> {
        let stored = match self
            .store
            .get_person(id)?
            .filter(|s| s.agency == p.agency.as_str())
        {
            Some(s) => s,
            None => return Err(self.denied(p, Action::Erase, id, None, VaultError::NotFound)),
        };
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

    /// Exact search through a blind index, within the caller's agency.
    pub fn search(
        &self,
        p: &Principal,
        purpose: Purpose,
        term: &SearchTerm,
    ) -> Result<Vec<SearchHit>, VaultError> {
        let (kind, hash) = self.index_entry(term);
        let ids = self
            .store
            .find_by_index(kind, &hash, p.agency.as_str(), SEARCH_LIMIT)?;
        let mut hits = Vec::with_capacity(ids.len());
        for id in ids {
            match self.load(p, &id) {
                Ok((stored, dk)) => {
                    let rec = self.open(&stored, &dk, &[Category::Identity])?;
                    hits.push(SearchHit {
                        id,
                        identity: rec.identity,
                    });
                }
                Err(VaultError::NotFound) => continue,
                Err(e) => return Err(e),
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
        e.detail = Some(format!(
            "{}:{}",
            term.kind.label(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, hash)
        ));
        self.store.append_audit(&[e])?;
        Ok(hits)
    }

    /// A page of the caller's agency's files, after `cursor`.
    pub fn list(
        &self,
        p: &Principal,
        purpose: Purpose,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, VaultError> {
        let limit = limit.clamp(1, 200);
        let rows = self
            .store
            .list_agency(p.agency.as_str(), cursor, limit + 1)?;
        let more = rows.len() > limit;
        let mut items = Vec::with_capacity(limit);
        for stored in rows.into_iter().take(limit) {
            let Some(key) = self.keys.get_key(&stored.id)? else {
                continue;
            };
            let dk = self
                .keyring
                .unwrap(
                    &stored.id,
                    &WrappedKey {
                        master_version: key.master_version,
                        bytes: key.wrapped,
                    },
                )
                .map_err(|_| VaultError::Integrity)?;
            let rec = self.open(&stored, &dk, &[Category::Identity])?;
            items.push(SearchHit {
                id: stored.id,
                identity: rec.identity,
            });
        }
        let next_cursor = if more {
            items.last().map(|h| h.id.clone())
        } else {
            None
        };
        let e = self.entry(
            p,
            Action::List,
            items.iter().map(|h| h.id.clone()).collect(),
            names([Category::Identity]),
            Some(purpose),
            Outcome::Allowed,
        );
        self.store.append_audit(&[e])?;
        Ok(Page { items, next_cursor })
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
        let actor =
            Principal::local(Agency::parse("LOCAL").map_err(|_| StoreError::Corrupt("agency"))?);
        let mut e = self.entry(
            &actor,
            Action::KeyRotate,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("master_version={current} rewrapped={done}"));
        self.store.append_audit(&[e])?;
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
        self.store
            .get_person(id)?
            .filter(|s| s.agency == p.agency.as_str())
            .ok_or_else(|| self.denied(p, Action::ReadAccesses, id, None, VaultError::NotFound))?;
        if p.role != Role::Dpo {
            return Err(self.denied(
                p,
                Action::ReadAccesses,
                id,
                None,
                VaultError::Forbidden("only the DPO may read a file's access history"),
            ));
        }
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

    /// Signs a checkpoint of the whole log (unless the latest one already covers it), records
    /// it in the database and appends it to the witness. Returns the latest checkpoint.
    pub fn checkpoint(
        &self,
        witness: &crate::witness::Witness,
    ) -> Result<rempart_audit::Checkpoint, VaultError> {
        let latest = self.store.checkpoints()?.pop();
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
        self.audit_reader(p, Action::AuditProof)?;
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
                entry = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            false
        })?;
        let entry = entry.ok_or(VaultError::NotFound)?;
        let path = rempart_audit::merkle::inclusion_path(
            &mut *self.store.audit_subtrees()?,
            seq - 1,
            checkpoint.size,
        )?;
        Ok(rempart_audit::InclusionProof {
            seq,
            entry,
            path: rempart_audit::hex_path(&path),
            checkpoint,
        })
    }

    /// A proof that the signed checkpoint of size `first` is a prefix of the one of `second`.
    pub fn consistency_proof(
        &self,
        p: &Principal,
        first: u64,
        second: u64,
    ) -> Result<rempart_audit::ConsistencyProof, VaultError> {
        self.audit_reader(p, Action::AuditProof)?;
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
    fn audit_reader(&self, p: &Principal, action: Action) -> Result<(), VaultError> {
        if matches!(p.role, Role::Operator | Role::Dpo) {
            return Ok(());
        }
        let e = self.entry(p, action, vec![], vec![], None, Outcome::Denied);
        self.store.append_audit(&[e])?;
        Err(VaultError::Forbidden(
            "only operators and the DPO may read the audit log",
        ))
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
        self.audit_reader(p, Action::AuditExport)?;
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
            let time = match serde_json::from_slice::<EntryTime>(bytes) {
                Ok(t) => t.time,
                Err(_) => {
                    failed = Some(StoreError::Corrupt("audit entry").into());
                    return false;
                }
            };
            if time < since {
                return true;
            }
            if let Err(e) = sink.push(seq, &hex_of(leaf), bytes) {
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
        Ok(self.store.checkpoints()?.pop())
    }

    /// The public key that verifies checkpoints.
    pub fn audit_public_key(&self) -> Result<[u8; 32], VaultError> {
        self.keyring
            .audit_public_key()
            .ok_or(VaultError::NoAuditKey)
    }

    /// Recomputes the whole log and checks it against every checkpoint of the database and
    /// of the witness. `Ok(Err(tamper))` names the first problem.
    pub fn verify_audit(
        &self,
        public_key: &[u8; 32],
        witness: &[rempart_audit::Checkpoint],
        progress: ImportProgress<'_>,
    ) -> Result<Result<rempart_audit::Verified, rempart_audit::Tamper>, VaultError> {
        let total = self.store.audit_len()?;
        let mut v = match rempart_audit::LogVerifier::new(
            public_key,
            &self.store.checkpoints()?,
            witness,
        ) {
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

    /// Number of audit entries.
    pub fn audit_len(&self) -> Result<u64, VaultError> {
        Ok(self.store.audit_len()?)
    }

    /// Number of files.
    pub fn count(&self) -> Result<u64, VaultError> {
        Ok(self.store.count_persons()?)
    }
}
