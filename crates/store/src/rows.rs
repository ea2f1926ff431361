//! The rows the stores keep: sealed bytes, keyed hashes, tags and names; never plaintext
//! personal data or an unwrapped key.

use rempart_domain::Category;

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
    /// A decoy file ([`StoredPerson::decoy`]).
    pub decoy: bool,
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
    /// A decoy: a synthetic file planted where enumeration finds it and normal work does not.
    /// Showing one to a principal suspends it; decoys are left out of counts and exports.
    pub decoy: bool,
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
    /// What binds its use, as the vault writes it (scopes, client addresses, a DPoP key's
    /// thumbprint); empty: nothing more than the token.
    pub bounds: String,
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
    /// Expiry after the change (shortened when the token is rotated).
    pub expires_at: i64,
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

/// What [`crate::AuditIndex::check_audit_index`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexCheck {
    /// The last entry the index covers (entries after it are scanned from the log itself).
    pub through: u64,
    /// The first entry whose persons the index records differently (missing, added or moved
    /// rows), if any.
    pub first_difference: Option<u64>,
}
