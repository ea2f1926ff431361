//! The art. 33 draft of an incident, and the notifications made to the authority, phase by
//! phase, on the 72-hour clock.

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::Action;
use rempart_incident::draft::DEADLINE;
use rempart_incident::{Draft, DraftFacts, Organisation};
use rempart_store::{Filing, IncidentEvent, NoticeStatus};

/// A notification recorded as made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// Its phase: 1 initial, then complementary.
    pub phase: u32,
    /// Whether it came after the 72 hours.
    pub late: bool,
}

impl Vault {
    /// The draft of the incident's next notification to the authority, with its impact,
    /// timeline, notifications so far and notices. Recorded, and a step of the timeline.
    pub fn incident_draft(
        &self,
        p: &Principal,
        id: &str,
        org: &Organisation,
    ) -> Result<Draft, VaultError> {
        let (incident, timeline) = self.incident(p, id)?;
        let impact = self.compute_impact(&incident)?;
        let filings = self.store.filings(id)?;
        let notices = self.store.notices(id)?;
        let breach = if incident.kind == "access" {
            let first = impact.people.values().map(|x| x.first).min();
            let last = impact.people.values().map(|x| x.last).max();
            first.zip(last)
        } else {
            incident.copy_as_of.map(|c| (c, c))
        };
        let mut scope = Vec::new();
        for x in &incident.principals {
            scope.push(format!("principal {x}"));
        }
        for x in &incident.tokens {
            scope.push(format!("token {x}"));
        }
        for x in &incident.clients {
            scope.push(format!("client address {x}"));
        }
        if let Some(v) = incident.key_version {
            scope.push(format!("master key version {v}"));
        }
        if incident.kind == "leak" {
            scope.push(format!(
                "a leaked file of {} rows (its origin on the timeline)",
                incident.held
            ));
        }
        if let Some(c) = incident.copy_as_of {
            scope.push(format!("copy of the database as of {}", rfc3339(c)));
        }
        let readable = impact.people.len();
        let facts = DraftFacts {
            incident: incident.id.clone(),
            kind: incident.kind.clone(),
            summary: incident.summary.clone(),
            scope,
            breach,
            discovered_at: incident.discovered_at,
            opened_at: incident.opened_at,
            now: self.clock.now(),
            people: readable,
            records: if incident.kind == "access" {
                impact.people.values().map(|x| x.entries.len()).sum()
            } else {
                readable
            },
            per_category: impact.per_category(),
            per_agency: impact.per_agency(),
            minors: impact.minors(),
            spared: if incident.kind == "stolen" {
                usize::try_from(incident.held)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(readable)
            } else {
                0
            },
            timeline: timeline.into_iter().map(|e| (e.at, e.by, e.what)).collect(),
            filings: filings
                .into_iter()
                .map(|f| (f.phase, f.filed_at, f.reference, f.late_reason))
                .collect(),
            notices: (
                notices.len(),
                notices
                    .iter()
                    .filter(|n| n.status == NoticeStatus::Sent)
                    .count(),
            ),
        };
        let draft = Draft::build(&facts, org);
        self.incident_step(
            p,
            Action::IncidentDraft,
            id,
            format!(
                "art. 33 draft, phase {} ({}), {} people",
                draft.phase, draft.notification, draft.concerned.people
            ),
        )?;
        Ok(draft)
    }

    /// Records that the incident's next notification was made to the authority at `at`
    /// (default: now), with the authority's reference. After the 72 hours, a notification
    /// gives the reasons for its delay (art. 33(1)), or is refused.
    pub fn file_incident(
        &self,
        p: &Principal,
        id: &str,
        at: Option<i64>,
        reference: &str,
        late_reason: Option<&str>,
    ) -> Result<Filed, VaultError> {
        let (incident, _) = self.incident(p, id)?;
        let now = self.clock.now();
        let at = at.unwrap_or(now);
        if at > now || at < incident.discovered_at {
            return Err(VaultError::Rejected(
                "a notification is made after the discovery and not in the future",
            ));
        }
        let short = |s: &str| s.chars().count() <= 500 && !s.chars().any(char::is_control);
        if !short(reference) {
            return Err(VaultError::Rejected(
                "the reference is at most 500 characters, on one line",
            ));
        }
        let phase = self
            .store
            .filings(id)?
            .iter()
            .map(|f| f.phase)
            .max()
            .unwrap_or(0)
            + 1;
        // The deadline applies to the initial notification; complementary ones follow it.
        // Late when recorded after the deadline, whatever `at` says (no backdating).
        let late = phase == 1 && at.max(now) > incident.discovered_at.saturating_add(DEADLINE);
        let late_reason = late_reason.map(str::trim).filter(|r| !r.is_empty());
        if late && late_reason.is_none_or(|r| r.chars().count() < 10) {
            return Err(VaultError::Rejected(
                "this notification comes after 72 hours: give the reasons for the delay (at least 10 characters)",
            ));
        }
        if late_reason.is_some_and(|r| !short(r)) {
            return Err(VaultError::Rejected(
                "the reasons for the delay are at most 500 characters, on one line",
            ));
        }
        let by = p.name().to_ascii_lowercase();
        let what = format!(
            "authority notified: phase {phase}{}{}",
            if late { ", late" } else { "" },
            if reference.is_empty() {
                String::new()
            } else {
                format!(", reference {reference}")
            }
        );
        let e = self.incident_entry(p, Action::IncidentFile, id, &what);
        let step = IncidentEvent {
            at: now,
            by: by.clone(),
            what,
        };
        let filing = Filing {
            phase,
            filed_at: at,
            filed_by: by,
            reference: reference.to_string(),
            late_reason: late_reason.map(str::to_string),
        };
        if !self.store.add_filing(id, &filing, &step, &e)? {
            return Err(VaultError::NotFound);
        }
        Ok(Filed { phase, late })
    }
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}
