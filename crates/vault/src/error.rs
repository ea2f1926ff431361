//! Why an operation did not happen.

use rempart_domain::ValidationErrors;
use rempart_store::StoreError;

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
    /// Containment refused the response: it would show more people than the principal's
    /// budget allows now. Nothing left; retry after this many seconds.
    #[error("this response would show more people than this principal may see now; retry later")]
    Contained {
        /// Seconds until the budget has room.
        retry_after: u64,
    },
    /// Containment's counts are shared by the nodes and cannot be reached now: no response
    /// with personal data leaves (it fails closed). Nothing was recorded as read.
    #[error("containment cannot reach its shared counts; no personal data leaves until it can")]
    ContainmentUnavailable,
    /// No signed checkpoint of that size, or no entry at that position under it.
    #[error("no such checkpoint or entry in the audit log")]
    NotInLog,
    /// No such file visible to the caller.
    #[error("no such file")]
    NotFound,
    /// A text that cannot be a verification code (never repeated).
    #[error(transparent)]
    MalformedCode(rempart_crypto::CodeError),
    /// Invalid input, every field named.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// A request that cannot be carried out as given (an incident's scope, a date), said
    /// without repeating the values.
    #[error("{0}")]
    Rejected(&'static str),
    /// The request is right but the state is not (notices already prepared, a batch not
    /// approved yet): said why.
    #[error("{0}")]
    State(&'static str),
    /// Too many failed credentials from this address: refused until the lockout ends.
    #[error("too many failed credentials from this address; try again in {retry_after} s")]
    Locked {
        /// Seconds until the lockout ends.
        retry_after: u64,
    },
    /// The sign-in at the identity provider showed no second factor, which the role needs.
    #[error("this role needs a sign-in with a second factor (acr eidas2 or eidas3, or an amr showing one)")]
    SecondFactor,
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
    /// A leaked file could not be read at all (its rows are never named).
    #[error("the leaked file: {0}")]
    Leak(#[from] rempart_incident::leak::LeakError),
    /// The key file has no audit signing key (written before the audit log existed).
    #[error(
        "the key file has no audit signing key; create a new installation with `rempart init`"
    )]
    NoAuditKey,
    /// Another node of the installation signs the checkpoints, and none is signed yet.
    #[error("another node holds the checkpoint lease and no checkpoint is signed yet; try again in a few seconds")]
    NotLeaseHolder,
}
