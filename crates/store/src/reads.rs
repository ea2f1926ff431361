//! The point reads a request makes before it acts (authentication, then the file), and the
//! explicit snapshot that lets them see one state of the database.

use crate::{AccountRecord, PrincipalRecord, StoreError, StoredPerson, TokenRecord};

/// Point reads of files, tokens and principals. A store answers each in a transaction of its
/// own; a [`Snapshot`] answers all of them from one state of the database.
pub trait Reads: Send {
    /// A file by id.
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError>;
    /// A token by the SHA-256 of its secret.
    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// A principal's suspension record.
    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError>;
    /// A principal's account (its record: agency, role, state).
    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// A token by its public id.
    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
}

/// One read transaction, held by its owner until dropped: every read made through it sees the
/// same state, whichever thread or task makes it. Writes made meanwhile (audit entries go
/// through other connections) are not seen by it.
pub type Snapshot<'a> = Box<dyn Reads + 'a>;

/// Stores that can open a [`Snapshot`].
pub trait Snapshots: Send + Sync {
    /// Opens a read snapshot; it ends when dropped.
    fn snapshot(&self) -> Result<Snapshot<'_>, StoreError>;
}
