//! Incidents: what a breach covers, and the timeline of what was done and when (the internal
//! register that GDPR art. 33(5) requires).

use crate::StoreError;
use rempart_audit::AuditEntry;

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// Public id (`inc_…`).
    pub id: String,
    /// When it was opened, Unix seconds.
    pub opened_at: i64,
    /// Who opened it.
    pub opened_by: String,
    /// The agency it was opened for (`LOCAL` at the console: every agency).
    pub agency: String,
    /// Principals it covers (empty: any).
    pub principals: Vec<String>,
    /// Token ids it covers (empty: any).
    pub tokens: Vec<String>,
    /// Client addresses it covers (empty: any).
    pub clients: Vec<String>,
    /// From, Unix seconds.
    pub since: i64,
    /// To, Unix seconds (`None`: no end).
    pub until: Option<i64>,
    /// `open` or `closed`.
    pub status: String,
    /// `access` (a principal, a token or a client address), `stolen` (a master key version, a
    /// copy of the database, or both) or `leak` (a file found outside).
    pub kind: String,
    /// The master key version the attacker held, for a stolen key.
    pub key_version: Option<u32>,
    /// The date of the copy of the database the attacker took, Unix seconds.
    pub copy_as_of: Option<i64>,
    /// When the breach was discovered (the 72-hour clock of art. 33 runs from it), Unix seconds.
    pub discovered_at: i64,
    /// What its author says happened (no personal data).
    pub summary: String,
    /// For a stolen copy or key: the files the attacker held, readable or not.
    pub held: u64,
}

/// A person of an incident once fixed, and the categories exposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentPerson {
    /// Pseudonymous id.
    pub person: String,
    /// Category names, as in the policies.
    pub categories: Vec<String>,
    /// First exposure, Unix seconds.
    pub first: i64,
    /// Last exposure, Unix seconds.
    pub last: i64,
}

/// A notification made to the supervisory authority (art. 33), one per phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// 1 for the initial notification, then each complementary one.
    pub phase: u32,
    /// When it was made, Unix seconds.
    pub filed_at: i64,
    /// Who recorded it.
    pub filed_by: String,
    /// The authority's reference for it (may be empty).
    pub reference: String,
    /// Why it came after the 72 hours, when it did.
    pub late_reason: Option<String>,
}

/// One step of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentEvent {
    /// When, Unix seconds.
    pub at: i64,
    /// Who.
    pub by: String,
    /// What was done (no personal data).
    pub what: String,
}

/// Where incidents and their timelines live.
pub trait IncidentStore: Send + Sync {
    /// Stores a new incident, the people it fixes at once (a stolen key, a leaked file; empty
    /// otherwise), its first event and its audit entry, in one transaction.
    fn insert_incident(
        &self,
        incident: &IncidentRecord,
        people: &[IncidentPerson],
        first: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The people fixed for an incident, in id order.
    fn incident_people(&self, id: &str) -> Result<Vec<IncidentPerson>, StoreError>;
    /// The incidents that fixed `person` among their people, with the categories exposed.
    fn person_incidents(&self, person: &str) -> Result<Vec<(String, Vec<String>)>, StoreError>;
    /// Records a notification to the authority, with its step and entry; `Ok(false)`: no such
    /// incident; `Conflict`: that phase is already recorded.
    fn add_filing(
        &self,
        id: &str,
        filing: &Filing,
        event: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The notifications made for an incident, by phase.
    fn filings(&self, id: &str) -> Result<Vec<Filing>, StoreError>;
    /// Changes an incident's status, with its step and entry; `Ok(false)`: no such incident.
    fn set_incident_status(
        &self,
        id: &str,
        status: &str,
        event: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// An incident and its timeline, oldest first.
    fn incident(
        &self,
        id: &str,
    ) -> Result<Option<(IncidentRecord, Vec<IncidentEvent>)>, StoreError>;
    /// Adds a step to an incident's timeline, with its audit entry; `Ok(false)`: no such
    /// incident.
    fn add_incident_event(
        &self,
        id: &str,
        event: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
