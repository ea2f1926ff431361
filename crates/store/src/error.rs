//! The one error every backend reports, whatever its database.

/// A storage failure. Messages name the operation, never a stored value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("{context}: {source}")]
    Backend {
        /// What was being done.
        context: &'static str,
        /// The backend's own error (its message names no stored value).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer version of Rempart.
    #[error("database schema version {found} is newer than this binary supports ({supported}); upgrade rempart")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Highest version known here.
        supported: i64,
    },
    /// The data directory or database is missing or not initialised.
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

impl StoreError {
    /// A backend's error, with what was being done.
    pub fn backend(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Backend {
            context,
            source: Box::new(source),
        }
    }
}
