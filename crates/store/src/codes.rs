//! Verification codes: what is kept of each code printed on a message Rempart sent, so that the
//! recipient can check it. No clear contact and no code: the recipient and the code are keyed
//! hashes, and the code itself is recomputed from the row under a key the store never holds.

use crate::StoreError;

/// A verification code as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// The keyed hash of the code, by which it is looked up.
    pub lookup: Vec<u8>,
    /// The code's random serial.
    pub serial: Vec<u8>,
    /// The keyed hash of the recipient (a normalised email address or E.164 phone).
    pub recipient: Vec<u8>,
    /// The day the message was sent, `YYYY-MM-DD`.
    pub sent_on: String,
    /// The sending agency's code.
    pub agency: String,
    /// The message the code was printed on (empty when none is named).
    pub message_id: String,
    /// When the code was issued, Unix seconds.
    pub created_at: i64,
}

impl std::fmt::Debug for CodeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRecord")
            .field("sent_on", &self.sent_on)
            .field("agency", &self.agency)
            .field("message_id", &self.message_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where verification codes are kept.
pub trait CodeStore: Send + Sync {
    /// Stores codes, all or none.
    fn insert_codes(&self, codes: &[CodeRecord]) -> Result<(), StoreError>;
    /// The codes stored under `lookup`, oldest first: one, unless two codes of 60 bits
    /// collided (or someone wrote rows without the key: the caller checks each against its key).
    fn codes(&self, lookup: &[u8]) -> Result<Vec<CodeRecord>, StoreError>;
}
