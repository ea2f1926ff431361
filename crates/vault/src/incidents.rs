//! Incidents: opened for a compromised principal, token or client address over a time
//! window; their impact computed from the audit log (exactly what was served, decoys left
//! out); every step on the incident's timeline and in the log.

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_domain::Role;
use rempart_incident::{Impact, Scope};
use rempart_store::{IncidentEvent, IncidentRecord};

impl Vault {
    /// Only the DPO and operators (and the console) handle incidents.
    fn may_handle_incidents(p: &Principal) -> Result<(), VaultError> {
        match p.role() {
            Role::Dpo | Role::Operator => Ok(()),
            _ => Err(VaultError::Forbidden(
                "only the DPO or an operator handles incidents",
            )),
        }
    }

    /// Opens an incident covering `scope`; returns it. Recorded, and the first step of its
    /// timeline.
    pub fn open_incident(
        &self,
        p: &Principal,
        scope: &Scope,
    ) -> Result<IncidentRecord, VaultError> {
        Self::may_handle_incidents(p)?;
        if scope.principals.is_empty() && scope.tokens.is_empty() && scope.clients.is_empty() {
            return Err(VaultError::Forbidden(
                "an incident covers a principal, a token or a client address",
            ));
        }
        let now = self.clock.now();
        let incident = IncidentRecord {
            id: format!("inc_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            opened_at: now,
            opened_by: p.name().to_ascii_lowercase(),
            agency: p.agency().as_str().to_string(),
            principals: scope
                .principals
                .iter()
                .map(|x| x.to_ascii_lowercase())
                .collect(),
            tokens: scope.tokens.clone(),
            clients: scope.clients.clone(),
            since: scope.since,
            until: scope.until,
            status: "open".into(),
        };
        let what = format!(
            "opened: principals={} tokens={} clients={} since={} until={}",
            list(&incident.principals),
            list(&incident.tokens),
            list(&incident.clients),
            incident.since,
            incident
                .until
                .map_or_else(|| "-".to_string(), |u| u.to_string())
        );
        let mut e = self.entry(
            p,
            Action::IncidentOpen,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("incident={} {what}", incident.id));
        let first = IncidentEvent {
            at: now,
            by: incident.opened_by.clone(),
            what,
        };
        self.store.insert_incident(&incident, &first, &e)?;
        Ok(incident)
    }

    /// An incident and its timeline.
    pub fn incident(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<(IncidentRecord, Vec<IncidentEvent>), VaultError> {
        Self::may_handle_incidents(p)?;
        self.store
            .incident(id)?
            .filter(|(i, _)| Self::local(p) || i.agency == p.agency().as_str())
            .ok_or(VaultError::NotFound)
    }

    /// The console's administrator, who handles every agency's incidents.
    fn local(p: &Principal) -> bool {
        p.agency().as_str() == "LOCAL"
    }

    /// The people whose data left within the incident's scope, per person the categories,
    /// when and through whom, exactly as the log records what was served; decoy files left
    /// out. Recorded, and a step of the timeline.
    pub fn incident_impact(&self, p: &Principal, id: &str) -> Result<Impact, VaultError> {
        let (incident, _) = self.incident(p, id)?;
        let scope = Scope {
            principals: incident.principals.clone(),
            tokens: incident.tokens.clone(),
            clients: incident.clients.clone(),
            since: incident.since,
            until: incident.until,
            agency: (incident.agency != "LOCAL").then(|| incident.agency.clone()),
        };
        // One entry at a time: the log may hold millions.
        let mut impact = Impact::default();
        let mut failed = false;
        self.store
            .audit_visit(0, &mut |seq, bytes, _| match AuditEntry::parse(bytes) {
                Ok(e) => {
                    impact.count(&scope, seq, &e);
                    true
                }
                Err(_) => {
                    failed = true;
                    false
                }
            })?;
        if failed {
            return Err(VaultError::Integrity);
        }
        // Decoys are left out; each person's agency, and whether they are a minor now, from
        // their file (an erased file stays unknown).
        let mut decoys = Vec::new();
        let mut described = Vec::new();
        for pid in impact.people.keys() {
            let Some(stored) = self.store.get_person(pid)? else {
                continue;
            };
            if stored.decoy {
                decoys.push(pid.clone());
                continue;
            }
            let minor = match self.data_key(pid)? {
                Some(dk) => {
                    let identity =
                        self.open(&stored, &dk, &[rempart_domain::Category::Identity])?;
                    crate::access::is_minor(&identity, self.clock.today())
                }
                None => false,
            };
            described.push((pid.clone(), stored.agency, minor));
        }
        for d in decoys {
            impact.people.remove(&d);
        }
        for (pid, agency, minor) in described {
            impact.describe(&pid, agency, minor);
        }
        let what = format!("impact computed: {} people", impact.people.len());
        let mut e = self.entry(
            p,
            Action::IncidentImpact,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("incident={} {what}", incident.id));
        let step = IncidentEvent {
            at: self.clock.now(),
            by: p.name().to_ascii_lowercase(),
            what,
        };
        if !self.store.add_incident_event(id, &step, &e)? {
            return Err(VaultError::NotFound);
        }
        Ok(impact)
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}
