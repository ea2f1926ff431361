//! Rempart's storage.
//!
//! Two traits split what must live apart: [`Store`] keeps sealed files, keyed hashes
//! (blind indexes) and token hashes; [`KeyStore`] keeps wrapped per-person data keys. A copy of
//! the file store taken at any time holds no key, so destroying a data key erases its file in
//! every copy. Neither trait ever sees plaintext personal data or an unwrapped key.
//!
//! The SQLite implementation ([`SqliteStore`], [`SqliteKeyStore`]) keeps `vault.db` and
//! `keys.db` in the data directory, in WAL mode with `secure_delete`, with versioned
//! migrations applied on open. A PostgreSQL implementation will follow the same traits.
//!
//! ```
//! use rempart_store::{KeyStore, SqliteKeyStore, StoredKey};
//! let dir = tempfile::tempdir().unwrap();
//! let keys = SqliteKeyStore::open(dir.path()).unwrap();
//! keys.put_keys(&[StoredKey { person: "p1".into(), master_version: 1, wrapped: vec![1; 60] }]).unwrap();
//! assert!(keys.destroy_key("p1").unwrap());
//! assert!(keys.get_key("p1").unwrap().is_none());
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod group;
mod pool;
mod sqlite;
mod tokens;

pub use group::AuditTicket;

/// While held, every read of `store` made by this thread shares one read transaction: one
/// snapshot, and one start of a transaction instead of one per read. For a request that reads
/// only (its writes, such as audit entries, go through other connections and are not seen by
/// it): authentication and the read of the file then see the same state of the database.
#[must_use = "the snapshot ends when the guard is dropped"]
pub struct ReadSnapshot<'a> {
    store: &'a dyn Store,
    active: bool,
}

impl std::fmt::Debug for ReadSnapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSnapshot")
            .field("active", &self.active)
            .finish()
    }
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        if self.active {
            self.store.end_read_snapshot();
        }
    }
}

/// Starts this thread's read snapshot of `store` (a no-op inside one already).
pub fn read_snapshot(store: &dyn Store) -> Result<ReadSnapshot<'_>, StoreError> {
    Ok(ReadSnapshot {
        active: store.begin_read_snapshot()?,
        store,
    })
}
pub use sqlite::{
    SqliteKeyStore, SqliteStore, AUDIT_FILE, AUDIT_INDEX_FILE, KEYS_FILE, VAULT_FILE,
};

use rempart_audit::{AuditEntry, Checkpoint};
use rempart_domain::Category;

/// A storage failure. Messages name the operation, never a stored value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database was written by a newer version of Rempart.
    #[error("database schema version {found} is newer than this binary supports ({supported}); upgrade rempart")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Highest version known here.
        supported: i64,
    },
    /// The data directory is missing or not initialised.
    #[error("{0}")]
    NotInitialised(String),
    /// The audit entry could not be committed (the act it records must not happen).
    #[error("audit log write failed: {0}")]
    Audit(String),
    /// A row holds something this version cannot interpret.
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
    /// The row changed since it was read (its tag is no longer the one expected): nothing was
    /// written; read it again and retry.
    #[error("{0} changed meanwhile; nothing was written")]
    Conflict(&'static str),
    /// The principal is suspended: no token is created for it.
    #[error("this principal is suspended")]
    PrincipalSuspended,
}

/// Called with (seq, canonical bytes, recorded leaf) of each audit entry; `false` stops the scan.
pub type AuditVisitor<'a> = dyn FnMut(u64, &[u8], &[u8]) -> bool + 'a;

/// A reader of the audit log's whole subtrees ([`rempart_audit::merkle::Subtrees`]).
pub type AuditSubtrees<'a> = dyn rempart_audit::merkle::Subtrees<Error = StoreError> + 'a;

/// A blind-index entry: index kind code and keyed hash.
pub type IndexEntry = (i64, [u8; 32]);

/// A file to insert: sealed categories and blind-index hashes, no plaintext.
#[derive(Debug, Clone)]
pub struct NewPerson {
    /// Pseudonymous id.
    pub id: String,
    /// Agency code.
    pub agency: String,
    /// Login of the assigned counsellor (the caseload), if any.
    pub counsellor: Option<String>,
    /// Data key version the categories are sealed under.
    pub dk_version: u32,
    /// Sealed bytes per category present.
    pub fields: Vec<(Category, Vec<u8>)>,
    /// Blind-index entries.
    pub index: Vec<IndexEntry>,
    /// Creation time, Unix seconds.
    pub now: i64,
    /// Tag over the access facts (id, agency, counsellor, no enrolment), made with the key.
    pub facts_tag: Vec<u8>,
}

/// A change of a file's access facts: the new tag, written only if the row still holds the
/// tag the change was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsChange {
    /// The tag read with the facts the change starts from (`None`: a file not tagged yet).
    pub expected: Option<Vec<u8>>,
    /// The tag of the facts after the change.
    pub tag: Vec<u8>,
}

/// A stored file: sealed categories only.
#[derive(Debug, Clone)]
pub struct StoredPerson {
    /// Pseudonymous id.
    pub id: String,
    /// Agency code.
    pub agency: String,
    /// Login of the assigned counsellor (the caseload), if any.
    pub counsellor: Option<String>,
    /// Partner organisations the person is enrolled with, in order.
    pub partners: Vec<String>,
    /// Data key version.
    pub dk_version: u32,
    /// Sealed bytes per category present.
    pub fields: Vec<(Category, Vec<u8>)>,
    /// Tag over the access facts (`None`: stored before tags, or a row inserted without the
    /// key).
    pub facts_tag: Option<Vec<u8>>,
}

/// A change to a file: categories to replace, index entries to replace.
#[derive(Debug, Clone)]
pub struct PersonUpdate {
    /// Categories to set (sealed) or clear (`None`).
    pub fields: Vec<(Category, Option<Vec<u8>>)>,
    /// The complete new set of blind-index entries.
    pub index: Vec<IndexEntry>,
    /// The new assigned counsellor (`Some(None)`: none), or `None` to leave it.
    pub counsellor: Option<Option<String>>,
    /// The new tag of the access facts, when they change (with the counsellor).
    pub facts: Option<FactsChange>,
    /// Update time, Unix seconds.
    pub now: i64,
}

/// Which files a listing walks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListScope<'a> {
    /// Every file of an agency.
    Agency(&'a str),
    /// The files of an agency assigned to a counsellor.
    Caseload {
        /// Agency.
        agency: &'a str,
        /// Counsellor's login.
        counsellor: &'a str,
    },
    /// The files of people enrolled with a partner organisation.
    Enrolled(&'a str),
}

/// An API token as stored: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public id of the token (for audit and revocation).
    pub id: String,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// Principal name, e.g. `c.durand`.
    pub principal: String,
    /// Role name.
    pub role: String,
    /// Agency code.
    pub agency: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Whether the token is suspended (its principal is).
    pub suspended: bool,
    /// When the token was revoked, Unix seconds; a revoked token never works again.
    pub revoked_at: Option<i64>,
    /// Tag over every field above, made with the key (`None`: a row not made by Rempart, or
    /// stored before tags).
    pub tag: Option<Vec<u8>>,
}

/// A change of a token's state (suspension, revocation), written only if the row still
/// holds the tag it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChange {
    /// Token id.
    pub id: String,
    /// The tag read with the state the change starts from.
    pub expected: Option<Vec<u8>>,
    /// Suspended after the change.
    pub suspended: bool,
    /// Revoked after the change.
    pub revoked_at: Option<i64>,
    /// The tag of the token after the change.
    pub tag: Vec<u8>,
}

/// A principal's suspension as stored (absent: never suspended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// Principal name.
    pub name: String,
    /// Suspended now.
    pub suspended: bool,
    /// When it last changed, Unix seconds.
    pub since: i64,
    /// Tag over the three fields above, made with the key.
    pub tag: Option<Vec<u8>>,
}

/// A wrapped data key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Person id.
    pub person: String,
    /// Master key version that wrapped it.
    pub master_version: u32,
    /// Wrapped bytes.
    pub wrapped: Vec<u8>,
}

/// Where sealed files, blind indexes and token hashes live.
pub trait Store: Send + Sync {
    /// Inserts files, all or none, with their audit entries in the same transaction.
    fn insert_persons(&self, persons: &[NewPerson], audit: &[AuditEntry])
        -> Result<(), StoreError>;
    /// A file by id.
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError>;
    /// Applies an update to a file of `agency`, with its audit entry in the same transaction;
    /// `false` (and nothing written) if there is none.
    fn update_person(
        &self,
        id: &str,
        agency: &str,
        update: &PersonUpdate,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Removes a file and its index entries, with its audit entry in the same transaction;
    /// `false` if there was none.
    fn delete_person(&self, id: &str, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Ids of files of `scope` whose blind index `kind` holds `hash`, in id order (the caller
    /// decides which of them may be seen; files outside the scope never take a place).
    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Files of `scope` with ids after `after`, in id order.
    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError>;
    /// Files stored before caseloads existed (schema migration 6) whose assigned counsellor is
    /// still to be read from their sealed follow-up category, after `after`, in id order; none
    /// once [`Store::set_caseloads`] has been told the backfill is done.
    fn caseload_backfill(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError>;
    /// Records the assigned counsellors read from those files, with their audit entry; `done`
    /// ends the backfill.
    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Enrols the person with `partner` (`enrolled`) or ends the enrolment, with the new tag
    /// of the access facts and its audit entry in the same transaction; `false` (nothing
    /// written) if there is no such file, or nothing to change.
    fn set_enrolment(
        &self,
        person: &str,
        partner: &str,
        enrolled: bool,
        facts: &FactsChange,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Number of files.
    fn count_persons(&self) -> Result<u64, StoreError>;
    /// Starts this thread's read snapshot (see [`read_snapshot`]); false if there is nothing
    /// to start (already in one, or a store without transactions).
    fn begin_read_snapshot(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Ends this thread's read snapshot.
    fn end_read_snapshot(&self) {}
    /// Stores a new token record, with its audit entry in the same transaction.
    fn insert_token(&self, token: &TokenRecord, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Appends audit entries in a transaction of their own (reads, searches, refusals): the
    /// caller returns nothing unless this succeeded.
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Hands entries over and returns at once; the ticket completes when they are durable (or
    /// failed). By default, the same as `append_audit`.
    fn submit_audit(&self, entries: &[AuditEntry]) -> AuditTicket {
        AuditTicket::ready(self.append_audit(entries))
    }
    /// The latest audit entries naming `person`, newest first, with their sequence numbers.
    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError>;
    /// Number of audit entries (the number of the last one).
    fn audit_len(&self) -> Result<u64, StoreError>;
    /// Calls `visit(seq, canonical bytes, recorded leaf)` for every entry after `after`, in
    /// order, until it returns `false`; returns how many were visited.
    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError>;
    /// The log's whole subtrees and leaves, for proofs and checkpoints that read O(log n)
    /// hashes. They are derived data: what they give must be checked against a signed root.
    fn audit_subtrees(&self) -> Result<Box<AuditSubtrees<'_>>, StoreError>;
    /// Records a signed checkpoint.
    fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError>;
    /// Every recorded checkpoint, by size.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// The latest recorded checkpoint (the largest), read alone: checkpoints accumulate (one
    /// every few seconds while the log grows), and the latest is read at every checkpoint and
    /// every request for it.
    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
    /// Compares the per-person index of the log (derived data, unsigned) with the persons the
    /// entries it covers name, in one snapshot of both; `progress(done, total)` per stretch.
    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError>;
    /// Empties the per-person index and builds it again from the log; returns the entries
    /// indexed. Safe while a server runs on the same directory.
    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError>;
    /// A token by hash.
    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token, by creation time (hashes included: they are not secrets).
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Applies token changes (each only if the row still holds its expected tag) and, when
    /// given, a principal's suspension, with their audit entry, all in one transaction. For a
    /// principal, `changes` must name every one of its tokens, else `Conflict`.
    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// A principal's suspension record.
    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError>;
    /// Up to `limit` files and tokens stored before access facts were tagged; both empty once
    /// [`Store::bind_facts`] has been told it is done (from then on an untagged row is a row
    /// written without the key).
    fn unbound_facts(
        &self,
        limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError>;
    /// Lets [`Store::unbound_facts`] and [`Store::bind_facts`] work although this process did
    /// not apply the migration that introduced tags (an upgrade interrupted before its rows were
    /// all tagged): the operator vouches that the untagged rows were not written meanwhile.
    fn trust_untagged_rows(&self) {}
    /// Writes the tags of files and tokens stored before tags (only where none is set),
    /// with their audit entry; `done` ends the upgrade.
    fn bind_facts(
        &self,
        persons: &[(String, Vec<u8>)],
        tokens: &[(String, Vec<u8>)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}

/// What [`Store::check_audit_index`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexCheck {
    /// The last entry the index covers (entries after it are scanned from the log itself).
    pub through: u64,
    /// The first entry whose persons the index records differently (missing, added or moved
    /// rows), if any.
    pub first_difference: Option<u64>,
}

/// Where wrapped data keys live, apart from the files.
pub trait KeyStore: Send + Sync {
    /// Inserts keys, all or none.
    fn put_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError>;
    /// A person's wrapped key.
    fn get_key(&self, person: &str) -> Result<Option<StoredKey>, StoreError>;
    /// Destroys a person's key so that it is not recoverable from the key store's files;
    /// `false` if there was none.
    fn destroy_key(&self, person: &str) -> Result<bool, StoreError>;
    /// Up to `limit` keys wrapped under a master version below `version`, in person order.
    fn keys_below_version(&self, version: u32, limit: usize) -> Result<Vec<StoredKey>, StoreError>;
    /// Number of keys wrapped under a master version below `version`.
    fn count_below_version(&self, version: u32) -> Result<u64, StoreError>;
    /// Replaces the wrapping of existing keys (a key destroyed meanwhile stays destroyed).
    fn rewrap_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError>;
}
