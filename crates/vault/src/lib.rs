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
mod clock;
mod codec;
mod export;
mod facts;
mod principals;
mod service;
mod witness;

pub use clock::{Clock, FixedClock, SystemClock};
pub use export::{parquet_schema, ExportFormat};
pub use principals::{TokenInfo, TokenState};
pub use rempart_audit::{Action, Checkpoint, Outcome, Tamper, Verified};
pub use service::Access;
pub use service::{
    justification, BreakGlassUse, Explanation, ImportProgress, Page, PersonView, Principal,
    RotationReport, SearchHit, Vault, VaultError,
};
pub use witness::{Witness, WitnessError, Witnessed, DEFAULT_SYSLOG};
