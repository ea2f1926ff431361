//! Rempart's storage contract: traits cut by capability, the rows they keep, and one error
//! whatever the backend.
//!
//! - [`FileStore`]: sealed files, blind indexes, caseloads and enrolments;
//! - [`TokenStore`]: token hashes and principals' suspensions;
//! - [`AccountStore`]: principals as records, and the requests a second operator approves;
//! - [`AlertStore`]: containment's alerts, raised with the suspension they report;
//! - [`GuardStore`]: containment's kept state (counts, learned hours, baselines);
//! - [`ExportStore`]: exports to a recipient and their four-eyes approval;
//! - [`IncidentStore`]: incidents and their timelines;
//! - [`NoticeStore`]: the notices of an incident, their batch and outbox;
//! - [`MarkerStore`]: the markers added to each export, run with the export;
//! - [`CodeStore`]: the verification codes printed on the messages sent;
//! - [`Reads`] and [`Snapshots`]: the point reads a request makes, alone or in one snapshot;
//! - [`FactsUpgrade`]: tagging the access facts of rows stored before tags;
//! - [`AuditLog`]: the audit log, its Merkle subtrees and checkpoints;
//! - [`AuditIndex`]: the log's per-person index;
//! - [`KeyStore`]: wrapped per-person data keys, apart from everything else.
//!
//! [`Store`] is every capability but the keys, which live apart: a copy of the file store
//! taken at any time holds no key, so destroying a data key erases its file in every copy.
//! No trait ever sees plaintext personal data or an unwrapped key. The SQLite backend is
//! `rempart-store-sqlite`; `rempart-store-conformance` tests any backend against these traits.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod accounts;
mod alerts;
mod codes;
mod error;
mod exports;
mod facts;
mod files;
mod guard;
mod incidents;
mod index;
mod keys;
mod log;
mod markers;
mod notices;
mod reads;
mod rows;
mod ticket;
mod tokens;

pub use accounts::{AccountRecord, AccountRequest, AccountStore};
pub use alerts::{AlertRecord, AlertStore};
pub use codes::{CodeRecord, CodeStore};
pub use error::StoreError;
pub use exports::{ExportRecord, ExportStore};
pub use facts::FactsUpgrade;
pub use files::FileStore;
pub use guard::{GuardStore, PartChange, PartsChange, SharedGuard};
pub use incidents::{Filing, IncidentEvent, IncidentPerson, IncidentRecord, IncidentStore};
pub use index::AuditIndex;
pub use keys::KeyStore;
pub use log::{AuditLog, AuditSubtrees, AuditVisitor};
pub use markers::{MarkerRecord, MarkerStore};
pub use notices::{NoticeBatch, NoticeRecord, NoticeStatus, NoticeStore};
pub use reads::{Reads, Snapshot, Snapshots};
pub use rows::{
    FactsChange, IndexCheck, IndexEntry, ListScope, NewPerson, PersonUpdate, PrincipalRecord,
    StoredKey, StoredPerson, TokenChange, TokenRecord,
};
pub use ticket::{AuditTicket, TicketSender};
pub use tokens::TokenStore;

/// Every capability of a store but the keys: what the vault holds for files, tokens and the
/// audit log. Implemented by any type that has them all.
pub trait Store:
    FileStore
    + TokenStore
    + AccountStore
    + AlertStore
    + GuardStore
    + ExportStore
    + IncidentStore
    + NoticeStore
    + MarkerStore
    + CodeStore
    + Reads
    + Snapshots
    + FactsUpgrade
    + AuditLog
    + AuditIndex
    + Sync
{
}

impl<T> Store for T where
    T: FileStore
        + TokenStore
        + AccountStore
        + AlertStore
        + GuardStore
        + ExportStore
        + IncidentStore
        + NoticeStore
        + MarkerStore
        + CodeStore
        + Reads
        + Snapshots
        + FactsUpgrade
        + AuditLog
        + AuditIndex
        + Sync
{
}
