//! Incidents: opened for a compromised principal, token or client address over a time window
//! (`access`), or for a stolen master key or copy of the database (`stolen`); their impact
//! (exactly what was served, from the audit log, decoys left out; or what the attacker could
//! decrypt with what they held); every step on the incident's timeline and in the log. Then
//! what must be said ([`draft`]) and to whom ([`notices`]).

mod affected;
mod draft;
mod notices;

pub use draft::Filed;
pub use notices::{Courier, Delivery, DeliveryError, DeliveryReport, NoticeOptions, Sender};

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_domain::Role;
use rempart_incident::{Exposure, Holdings, Impact, Scope};
use rempart_store::{IncidentEvent, IncidentPerson, IncidentRecord};

/// Longest account of an incident its author may give.
const SUMMARY_MAX: usize = 2_000;

/// What an incident is opened for: an access (`scope`), or a stolen key or copy.
#[derive(Debug, Clone, Default)]
pub struct IncidentSpec {
    /// A principal, a token or a client address, over a window.
    pub scope: Scope,
    /// The master key version the attacker held (with the files and the key store as they
    /// were at `copy_as_of`, or now).
    pub key_version: Option<u32>,
    /// When the attacker took a copy of the database (the files, without the key store, which
    /// lives apart, unless `key_version` says they held a key too).
    pub copy_as_of: Option<i64>,
    /// A leaked file, as matched against the vault ([`Vault::match_leaked`]): its people, with
    /// the categories it holds of each, are the incident's.
    pub leaked: Option<rempart_incident::leak::LeakMatch>,
    /// When the breach was discovered (default: now).
    pub discovered_at: Option<i64>,
    /// What happened, in the author's words (no personal data).
    pub summary: String,
}

impl Vault {
    /// Only the DPO and operators (and the console) handle incidents.
    pub(crate) fn may_handle_incidents(p: &Principal) -> Result<(), VaultError> {
        match p.role() {
            Role::Dpo | Role::Operator => Ok(()),
            _ => Err(VaultError::Forbidden(
                "only the DPO or an operator handles incidents",
            )),
        }
    }

    /// Opens an incident; returns it. Recorded, and the first step of its timeline. For a
    /// stolen key or copy, the people the attacker could read are fixed now, before the key
    /// is rotated.
    pub fn open_incident(
        &self,
        p: &Principal,
        spec: &IncidentSpec,
    ) -> Result<IncidentRecord, VaultError> {
        Self::may_handle_incidents(p)?;
        let scope = &Self::checked_scope(&spec.scope)?;
        let access =
            !(scope.principals.is_empty() && scope.tokens.is_empty() && scope.clients.is_empty());
        let stolen = spec.key_version.is_some() || spec.copy_as_of.is_some();
        let leak = spec.leaked.as_ref();
        if [access, stolen, leak.is_some()]
            .iter()
            .filter(|x| **x)
            .count()
            != 1
        {
            return Err(VaultError::Rejected(
                "an incident covers a principal, a token or a client address, or a stolen key or copy of the database, or a leaked file",
            ));
        }
        if (stolen || leak.is_some()) && !Self::local(p) {
            return Err(VaultError::Forbidden(
                "a stolen key or copy, or a leaked file, is opened at the console",
            ));
        }
        if let Some(v) = spec.key_version {
            if !self.keyring.versions().contains(&v) {
                return Err(VaultError::Rejected(
                    "no master key of that version in the keyring",
                ));
            }
        }
        let now = self.clock.now();
        let discovered_at = spec.discovered_at.unwrap_or(now);
        if discovered_at > now || discovered_at < 0 {
            return Err(VaultError::Rejected(
                "the discovery cannot be in the future",
            ));
        }
        if spec.copy_as_of.is_some_and(|c| c > now) {
            return Err(VaultError::Rejected(
                "the copy cannot be taken in the future",
            ));
        }
        if spec.summary.chars().count() > SUMMARY_MAX
            || spec.summary.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(VaultError::Rejected(
                "the summary is at most 2,000 characters, without control characters",
            ));
        }
        let (people, held) = if stolen {
            self.stolen_people(spec)?
        } else if let Some(m) = leak {
            let people = m
                .people
                .values()
                .map(|x| IncidentPerson {
                    person: x.id.clone(),
                    categories: x.categories.iter().cloned().collect(),
                    first: discovered_at,
                    last: discovered_at,
                })
                .collect();
            (people, m.rows_read)
        } else {
            (Vec::new(), 0)
        };
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
            kind: if stolen {
                "stolen"
            } else if leak.is_some() {
                "leak"
            } else {
                "access"
            }
            .into(),
            key_version: spec.key_version,
            copy_as_of: spec.copy_as_of,
            discovered_at,
            summary: spec.summary.clone(),
            held,
        };
        let what = if let Some(m) = leak {
            let exports: Vec<String> = m
                .exports()
                .into_iter()
                .map(|(id, agency, recipient, _)| format!("{id} ({agency} to {recipient})"))
                .collect();
            format!(
                "opened: leaked file of {} rows, {} people of the vault; markers of {}",
                m.rows_read,
                people.len(),
                if exports.is_empty() {
                    "no export".to_string()
                } else {
                    exports.join(", ")
                }
            )
        } else if stolen {
            format!(
                "opened: stolen key_version={} copy_as_of={}; files held {held}, readable {}",
                incident
                    .key_version
                    .map_or_else(|| "-".to_string(), |v| v.to_string()),
                incident
                    .copy_as_of
                    .map_or_else(|| "-".to_string(), |c| c.to_string()),
                people.len()
            )
        } else {
            format!(
                "opened: principals={} tokens={} clients={} since={} until={}",
                list(&incident.principals),
                list(&incident.tokens),
                list(&incident.clients),
                incident.since,
                incident
                    .until
                    .map_or_else(|| "-".to_string(), |u| u.to_string())
            )
        };
        let e = self.incident_entry(p, Action::IncidentOpen, &incident.id, &what);
        let first = IncidentEvent {
            at: now,
            by: incident.opened_by.clone(),
            what,
        };
        self.store.insert_incident(&incident, &people, &first, &e)?;
        Ok(incident)
    }

    /// `scope` with every name checked (not empty, no whitespace or control character, at most
    /// 200 characters), principals lower-cased, client addresses in their canonical form, each
    /// once: a blank name must never widen an incident to everyone.
    fn checked_scope(scope: &Scope) -> Result<Scope, VaultError> {
        let name = |v: &str| -> Result<String, VaultError> {
            if v.is_empty()
                || v.chars().count() > 200
                || v.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(VaultError::Rejected(
                    "a principal, token or client address is 1 to 200 characters, without spaces",
                ));
            }
            Ok(v.to_string())
        };
        let each = |list: &[String], f: &dyn Fn(&str) -> Result<String, VaultError>| {
            let mut out: Vec<String> = list.iter().map(|v| f(v)).collect::<Result<_, _>>()?;
            out.sort();
            out.dedup();
            Ok::<_, VaultError>(out)
        };
        Ok(Scope {
            principals: each(&scope.principals, &|v| {
                name(v).map(|n| n.to_ascii_lowercase())
            })?,
            tokens: each(&scope.tokens, &name)?,
            clients: each(&scope.clients, &|v| {
                name(v)?
                    .parse::<std::net::IpAddr>()
                    .map(|ip| ip.to_canonical().to_string())
                    .map_err(|_| VaultError::Rejected("a client address is an IP address"))
            })?,
            ..scope.clone()
        })
    }

    /// The people a stolen copy or key lets the attacker read, and how many files they held:
    /// every file in the copy (the log's record of what was created and erased before it), read
    /// only where its data key was wrapped under the stolen master version: when a key rotation
    /// came after the copy, every key of the copy was under the version current then; otherwise
    /// under the version the key store says (a file erased since is counted as read: its key is
    /// gone, and which version wrapped it with it).
    fn stolen_people(&self, spec: &IncidentSpec) -> Result<(Vec<IncidentPerson>, u64), VaultError> {
        let mut holdings = Holdings::new(spec.copy_as_of.unwrap_or(i64::MAX));
        self.visit_log(&mut |_, e| holdings.count(e))?;
        let mut people = Vec::new();
        if let Some(v) = spec.key_version {
            for (id, held) in &holdings.files {
                let readable = if spec.copy_as_of.is_some() && holdings.rotated_since {
                    holdings.version_at_copy == v
                } else {
                    match self.keys.get_key(id)? {
                        Some(k) => k.master_version == v,
                        None => held.erased_since,
                    }
                };
                if readable {
                    let at = spec.copy_as_of.unwrap_or_else(|| self.clock.now());
                    people.push(IncidentPerson {
                        person: id.clone(),
                        categories: held.categories.iter().cloned().collect(),
                        first: at,
                        last: at,
                    });
                }
            }
        }
        Ok((people, holdings.len() as u64))
    }

    /// Feeds every entry of the log, in order, one at a time: the log may hold millions.
    fn visit_log(&self, f: &mut dyn FnMut(u64, &AuditEntry)) -> Result<(), VaultError> {
        let mut failed = false;
        self.store
            .audit_visit(0, &mut |seq, bytes, _| match AuditEntry::parse(bytes) {
                Ok(e) => {
                    f(seq, &e);
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
        Ok(())
    }

    /// An entry of an act on incident `id`.
    pub(crate) fn incident_entry(
        &self,
        p: &Principal,
        action: Action,
        id: &str,
        what: &str,
    ) -> AuditEntry {
        let mut e = self.entry(p, action, vec![], vec![], None, Outcome::Allowed);
        e.detail = Some(format!("incident={id} {what}"));
        e
    }

    /// Adds a step to incident `id`'s timeline, recorded as `action`.
    pub(crate) fn incident_step(
        &self,
        p: &Principal,
        action: Action,
        id: &str,
        what: String,
    ) -> Result<(), VaultError> {
        let e = self.incident_entry(p, action, id, &what);
        let step = IncidentEvent {
            at: self.clock.now(),
            by: p.name().to_ascii_lowercase(),
            what,
        };
        if !self.store.add_incident_event(id, &step, &e)? {
            return Err(VaultError::NotFound);
        }
        Ok(())
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
    pub(crate) fn local(p: &Principal) -> bool {
        p.agency().as_str() == "LOCAL"
    }

    /// Closes an incident (its notices sent or not due, the authority notified): recorded.
    pub fn close_incident(&self, p: &Principal, id: &str, reason: &str) -> Result<(), VaultError> {
        let (incident, _) = self.incident(p, id)?;
        if incident.status == "closed" {
            return Err(VaultError::State("the incident is already closed"));
        }
        let reason = reason.trim();
        if reason.chars().count() < 10
            || reason.chars().count() > 500
            || reason.chars().any(char::is_control)
        {
            return Err(VaultError::Rejected(
                "closing an incident takes a reason of 10 to 500 characters, on one line",
            ));
        }
        let what = format!("closed: {reason}");
        let e = self.incident_entry(p, Action::IncidentClose, id, &what);
        let step = IncidentEvent {
            at: self.clock.now(),
            by: p.name().to_ascii_lowercase(),
            what,
        };
        if !self.store.set_incident_status(id, "closed", &step, &e)? {
            return Err(VaultError::NotFound);
        }
        Ok(())
    }

    /// The people whose data left within the incident: for an access, exactly as the log
    /// records what was served; for a stolen key or copy, the people fixed when it was opened.
    /// Decoy files are left out; each person's agency, and whether they are a minor now, from
    /// their file (an erased file stays unknown). Not recorded.
    pub(crate) fn compute_impact(&self, incident: &IncidentRecord) -> Result<Impact, VaultError> {
        let mut impact = Impact::default();
        if incident.kind == "access"
            && incident.principals.is_empty()
            && incident.tokens.is_empty()
            && incident.clients.is_empty()
        {
            // Never "everyone": an access incident always names what it covers.
            return Err(VaultError::Integrity);
        }
        if incident.kind == "access" {
            let scope = Scope {
                principals: incident.principals.clone(),
                tokens: incident.tokens.clone(),
                clients: incident.clients.clone(),
                since: incident.since,
                until: incident.until,
                agency: (incident.agency != "LOCAL").then(|| incident.agency.clone()),
            };
            if scope.principals.is_empty() {
                self.visit_log(&mut |seq, e| impact.count(&scope, seq, e))?;
            } else {
                // Each entry names one principal: through the index by principal and day.
                let until = scope.until.unwrap_or(i64::MAX);
                for principal in &scope.principals {
                    let mut failed = false;
                    self.store.audit_visit_principal(
                        principal,
                        scope.since,
                        until,
                        &mut |seq, bytes| match AuditEntry::parse(bytes) {
                            Ok(e) => {
                                impact.count(&scope, seq, &e);
                                true
                            }
                            Err(_) => {
                                failed = true;
                                false
                            }
                        },
                    )?;
                    if failed {
                        return Err(VaultError::Integrity);
                    }
                }
            }
        } else {
            for x in self.store.incident_people(&incident.id)? {
                impact.people.insert(
                    x.person.clone(),
                    Exposure {
                        id: x.person,
                        categories: x.categories.into_iter().collect(),
                        first: x.first,
                        last: x.last,
                        through: [if incident.kind == "leak" {
                            "leaked file".to_string()
                        } else {
                            "stolen copy".to_string()
                        }]
                        .into(),
                        ..Exposure::default()
                    },
                );
            }
        }
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
        Ok(impact)
    }

    /// The people whose data left within the incident's scope, per person the categories,
    /// when and through whom. Recorded, and a step of the timeline.
    pub fn incident_impact(&self, p: &Principal, id: &str) -> Result<Impact, VaultError> {
        let (incident, _) = self.incident(p, id)?;
        let impact = self.compute_impact(&incident)?;
        self.incident_step(
            p,
            Action::IncidentImpact,
            id,
            format!("impact computed: {} people", impact.people.len()),
        )?;
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
