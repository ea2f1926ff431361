//! Rempart's vault service: every operation on a young person's file, for an authenticated
//! [`Principal`].
//!
//! A file is validated ([`rempart_domain::ValidFile`]), given a random data key, and each
//! category is sealed under it, bound to the person, the category and the key version. The
//! data key, wrapped by the master keyring, goes to the [`KeyStore`]; the sealed categories
//! and keyed hashes go to the [`Store`]. Reads unwrap the key and open only the categories
//! asked for. Erasure destroys the key first: from then on no copy of the file store can be
//! read. A file of another agency is indistinguishable from a missing one.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod access;
mod accounts;
mod alerts;
mod auth;
mod clock;
mod codec;
mod codes;
mod containment;
mod core;
mod disclosure;
mod error;
mod exports;
mod facts;
mod files;
mod incidents;
mod integrity;
mod kept;
mod leaks;
mod log;
mod markers;
mod oversight;
mod principal;
mod principals;
mod rotation;
mod sealing;
mod upgrade;
mod views;
mod witness;

pub use crate::core::{AuthCounts, ContainmentSnapshot, Vault};
pub use auth::{GuessPolicy, Oidc, Presented, TokenBounds, LOCKOUT_AFTER_MAX, SCOPES};
pub use rempart_oidc;

/// How far a DPoP proof's `iat` may be from now (s).
pub const DPOP_WINDOW_SECS: i64 = 60;
pub use accounts::{
    principal_name, AccountInfo, AccountState, RequestKind, BOOTSTRAP, PROBATION_SECS,
    REQUEST_TTL_SECS,
};
pub use alerts::AlertSink;
pub use clock::{Clock, FixedClock, SystemClock};
pub use codes::{IssuedCode, Recipient, VerifiedCode};
pub use containment::{ContainmentState, Outage};
pub use disclosure::Disclosure;
pub use error::VaultError;
pub use exports::{ExportedFiles, FOUR_EYES_ABOVE};
pub use incidents::{
    Courier, Delivery, DeliveryError, DeliveryReport, Filed, IncidentSpec, NoticeOptions, Sender,
};
pub use log::export::{parquet_schema, ExportFormat};
pub use markers::EXPORT_MARKERS;
pub use principal::{justification, Principal};
pub use principals::{TokenInfo, TokenState};
pub use rempart_audit::{Action, Checkpoint, Outcome, Tamper, Verified};
pub use rempart_crypto::{CodeError, VerificationCode, CODE_INPUT_MAX};
pub use rempart_incident::leak::{LeakError, LeakMatch, LeakedPerson, MarkerHit, MatchedRow};
pub use rempart_incident::{Exposure, Impact, Scope as IncidentScope};
pub use rempart_store::{
    AccountRecord, AccountRequest, AlertRecord, CodeRecord, ExportRecord, IncidentEvent,
    IncidentRecord, MarkerRecord,
};
pub use views::{
    Access, BreakGlassUse, Explanation, ImportProgress, Page, PersonView, RotationReport, SearchHit,
};
pub use witness::{Witness, WitnessError, Witnessed, DEFAULT_SYSLOG};

/// The data key version of new files (per-person data-key rotation is not implemented yet,
/// so every file is sealed under version 1 of its own key).
pub(crate) const DATA_KEY_VERSION: u32 = 1;
/// Most results a search returns.
pub(crate) const SEARCH_LIMIT: usize = 20;
/// Most files a search looks at, before the policy keeps those the caller may see.
pub(crate) const SEARCH_CANDIDATES: usize = 200;
/// Most files a listing looks at for one page (those the caller may not see are skipped).
pub(crate) const LIST_SCAN: usize = 5_000;
/// Longest break-glass justification kept.
pub const JUSTIFICATION_MAX: usize = 500;
