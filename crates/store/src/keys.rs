//! Wrapped per-person data keys, kept apart from the files: a copy of the file store taken at
//! any time holds no key, so destroying a data key erases its file in every copy.

use crate::{StoreError, StoredKey};

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
