//! Audit entries and their canonical form.

use crate::merkle::Hash;
use serde::{Deserialize, Serialize};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// A file was read.
    Read,
    /// An exact search.
    Search,
    /// A caseload listing.
    List,
    /// A file was created.
    Create,
    /// A file was updated.
    Update,
    /// A file was erased.
    Erase,
    /// Files were imported.
    Import,
    /// The access history of a file was read.
    ReadAccesses,
    /// A token was created.
    TokenCreate,
    /// The master key was rotated.
    KeyRotate,
    /// The audit log was exported (`detail`: format and start).
    AuditExport,
    /// An entry of the audit log was read in a proof (`detail`: which proof).
    AuditProof,
    /// A file was assigned to a counsellor (`detail`: the counsellor's login).
    Assign,
    /// A person was enrolled with a partner (`detail`: the partner).
    Enrol,
    /// An enrolment with a partner ended (`detail`: the partner).
    Unenrol,
    /// The per-person index of the log was emptied and built again from the log (`detail`:
    /// the entries indexed).
    AuditReindex,
    /// A stored row failed its integrity check (a token or a file's access facts rewritten
    /// without the key): refused as unknown, and recorded (`detail`: what failed, never a
    /// value). Written with principal `integrity` when the caller is not known.
    IntegrityAlert,
    /// A token was revoked (`detail`: its id).
    TokenRevoke,
    /// A principal was suspended: every one of its tokens stops working (`detail`: the name).
    PrincipalSuspend,
    /// A suspended principal was restored (`detail`: the name and the justification).
    PrincipalRestore,
    /// Files and tokens stored before their access facts were tagged received their tags
    /// (`detail`: how many), once, at the upgrade.
    FactsBind,
    /// Containment suspended a principal (`persons`: the people its responses exposed over the
    /// last day; `detail`: what tripped).
    ContainmentAlert,
    /// What the policy decides on a file was explained (`rempart policy check`): the file's
    /// access facts were read (`persons`: the file; `detail`: for whom, which act).
    Explain,
    /// Decoy files were planted (`rempart decoys plant`; `detail`: the agency and how many).
    /// The decoys are not named: the log is read by people who must not learn which they are.
    DecoyPlant,
    /// An export of files to a recipient was asked for (`detail`: its id, the recipient, how
    /// many people, and whether it awaits a second operator's approval).
    ExportRequest,
    /// A second operator approved an export (`detail`: its id and who asked for it).
    ExportApprove,
    /// An export ran: its files left for the recipient (`persons`: every person in it;
    /// `categories`: those exported; `detail`: its id and the recipient).
    Export,
    /// An incident was opened (`detail`: its id and what it covers).
    IncidentOpen,
    /// An incident's impact was computed from the log (`detail`: its id and how many people;
    /// the people are in the incident's report, not in this entry).
    IncidentImpact,
    /// The art. 33 notification draft of an incident was produced (`detail`: its id, phase).
    IncidentDraft,
    /// A notification to the supervisory authority was recorded as made (`detail`: the
    /// incident, its phase, and whether it was late).
    IncidentFile,
    /// An incident was closed (`detail`: its id).
    IncidentClose,
    /// The notices of an incident were prepared, awaiting the DPO's approval (`detail`: the
    /// incident and how many messages; the people are in the outbox).
    NoticePrepare,
    /// The DPO approved an incident's notices for delivery.
    NoticeApprove,
    /// A notice left for its recipient (`persons`: the person it concerns; `detail`: the
    /// incident, the message and its channel, never the address).
    NoticeSend,
    /// Someone asked whether they were affected (`persons`: the person the contact belongs to,
    /// when it is on file; never the contact itself).
    AffectedAsk,
    /// A leaked file was matched against the vault (`rempart leak match`; `detail`: counts
    /// alone — rows read, matched, unmatched, ambiguous, people, markers, exports). Neither the
    /// file nor the people found are in the entry.
    LeakMatch,
    /// An operator asked to create a principal, raise its role or move it to another agency
    /// (`detail`: the request, its kind, the principal, role and agency asked for).
    PrincipalRequest,
    /// A second operator approved such a request (`detail`: the request and who asked).
    PrincipalApprove,
    /// Such a request was refused (`detail`: the request and who asked).
    PrincipalRefuse,
    /// A principal was disabled or enabled again (`detail`: the principal and which).
    PrincipalDisable,
    /// A credential was refused (`detail`: what kind of credential, why, and the principal
    /// when it names one; never the secret presented).
    AuthFailure,
    /// Repeated failures locked a principal or a client address (`detail`: which, how many
    /// failures, until when).
    AuthLockout,
    /// An agent signed in through the identity provider (`detail`: the session's id, the
    /// provider's `acr` and `amr`).
    SignIn,
    /// A token was rotated: a new one made, the old one kept until the end of the overlap
    /// (`detail`: both ids and the old one's new expiry).
    TokenRotate,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Allowed,
    /// Refused (including a file of another agency, answered as "not found").
    Denied,
}

/// One audit entry. Holds no plaintext personal value: persons are pseudonymous ids,
/// categories are names, search terms are their blind-index hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix seconds (read back from RFC 3339 text too).
    #[serde(deserialize_with = "crate::time::unix_or_rfc3339")]
    pub time: i64,
    /// Principal name (`cli` for local administrative commands).
    pub principal: String,
    /// Token id (`-` for local commands).
    pub token_id: String,
    /// Principal's agency.
    pub agency: String,
    /// Principal's role.
    pub role: String,
    /// What was done.
    pub action: Action,
    /// Pseudonymous ids of the people concerned.
    pub persons: Vec<String>,
    /// Categories returned or changed.
    pub categories: Vec<String>,
    /// Declared purpose.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purpose: Option<String>,
    /// Client address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client: Option<String>,
    /// Request id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Non-personal detail: a search's index kind and blind hash, a token id, a count.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

/// Why stored bytes are not an audit entry. Says where, never what the bytes held.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Bytes of the binary form that do not decode.
    #[error(transparent)]
    Binary(#[from] crate::binary::DecodeError),
    /// A JSON entry (older logs) that does not parse.
    #[error("a JSON audit entry does not parse (line {line}, column {column})")]
    Json {
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
    },
    /// Neither format.
    #[error("not an audit entry of a known format")]
    UnknownFormat,
}

impl AuditEntry {
    /// The canonical bytes stored and hashed: the compact binary form (format 1, see
    /// [`crate::binary`]).
    pub fn canonical(&self) -> Vec<u8> {
        crate::binary::encode(self)
    }

    /// Parses stored canonical bytes: the binary form, or the JSON text that logs written
    /// before it hold (fields in declaration order).
    pub fn parse(bytes: &[u8]) -> Result<AuditEntry, EntryError> {
        match bytes.first() {
            Some(&crate::binary::FORMAT_1) => Ok(crate::binary::decode(bytes)?),
            Some(b'{') => serde_json::from_slice(bytes).map_err(|e| EntryError::Json {
                line: e.line(),
                column: e.column(),
            }),
            _ => Err(EntryError::UnknownFormat),
        }
    }

    /// The persons named by stored canonical bytes, decoding as little as the format allows
    /// (for the per-person index; the entry's canonical form is not checked).
    pub fn persons_of(bytes: &[u8]) -> Result<Vec<String>, EntryError> {
        match bytes.first() {
            Some(&crate::binary::FORMAT_1) => Ok(crate::binary::persons_of(bytes)?),
            _ => Self::parse(bytes).map(|e| e.persons),
        }
    }

    /// The keys the per-person index holds an entry under: each person it names, and its
    /// principal on its day ([`principal_day_key`]), so that an incident over one principal
    /// and a few days reads only their entries.
    pub fn index_keys(&self) -> Vec<String> {
        let mut keys = self.persons.clone();
        keys.push(principal_day_key(&self.principal, self.time));
        keys
    }

    /// [`AuditEntry::index_keys`] of stored canonical bytes, decoding as little as the format
    /// allows.
    pub fn index_keys_of(bytes: &[u8]) -> Result<Vec<String>, EntryError> {
        match bytes.first() {
            Some(&crate::binary::FORMAT_1) => Ok(crate::binary::index_keys_of(bytes)?),
            _ => Self::parse(bytes).map(|e| e.index_keys()),
        }
    }

    /// The time of stored canonical bytes, decoding as little as the format allows.
    pub fn time_of(bytes: &[u8]) -> Result<i64, EntryError> {
        match crate::binary::time_of(bytes) {
            Some(t) => Ok(t),
            None => Self::parse(bytes).map(|e| e.time),
        }
    }
}

/// The index key of `principal`'s entries of the UTC day of `time`: `@principal/DAY` (lower
/// case; DAY counts days since 1970-01-01). A person id never begins with `@`.
pub fn principal_day_key(principal: &str, time: i64) -> String {
    format!(
        "@{}/{}",
        principal.to_ascii_lowercase(),
        time.div_euclid(86_400)
    )
}

/// The Merkle leaf of entry number `seq` with canonical bytes `canonical`.
pub fn leaf_of(seq: u64, canonical: &[u8]) -> Hash {
    // Same as leaf_hash(seq ‖ canonical), without copying the entry.
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(seq.to_be_bytes());
    h.update(canonical);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            time: 1,
            principal: "c.durand".into(),
            token_id: "tok_1".into(),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action: Action::Read,
            persons: vec!["p1".into()],
            categories: vec!["identity".into()],
            purpose: Some("accompaniment".into()),
            client: None,
            request_id: None,
            outcome: Outcome::Allowed,
            detail: None,
        }
    }

    #[test]
    fn canonical_round_trip_and_leaf_binds_the_position() {
        let e = entry();
        let c = e.canonical();
        assert_eq!(c[0], crate::binary::FORMAT_1);
        assert_eq!(AuditEntry::parse(&c).unwrap(), e);
        assert_eq!(AuditEntry::time_of(&c).unwrap(), 1);
        assert_ne!(leaf_of(1, &c), leaf_of(2, &c));
        let mut joined = 7u64.to_be_bytes().to_vec();
        joined.extend_from_slice(&c);
        assert_eq!(leaf_of(7, &c), crate::merkle::leaf_hash(&joined));
    }

    #[test]
    fn entries_of_older_logs_in_json_still_parse() {
        let json = br#"{"time":1,"principal":"c.durand","token_id":"tok_1","agency":"ML-1","role":"counsellor","action":"read","persons":["p1"],"categories":["identity"],"purpose":"accompaniment","outcome":"allowed"}"#;
        assert_eq!(AuditEntry::parse(json).unwrap(), entry());
        assert_eq!(AuditEntry::time_of(json).unwrap(), 1);
        assert!(matches!(
            AuditEntry::parse(b"{\"time\":"),
            Err(EntryError::Json { .. })
        ));
        assert!(matches!(
            AuditEntry::parse(b"x"),
            Err(EntryError::UnknownFormat)
        ));
        assert!(matches!(
            AuditEntry::parse(b""),
            Err(EntryError::UnknownFormat)
        ));
    }
}
