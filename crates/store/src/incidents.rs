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
    /// Stores a new incident, its first event and its audit entry, in one transaction.
    fn insert_incident(
        &self,
        incident: &IncidentRecord,
        first: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
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
