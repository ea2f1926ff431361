//! The one way out of the vault for personal data.

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_domain::Role;
use rempart_guard::{Decision, Exposed, Kind, Subject, Trip};
use rempart_store::{AuditTicket, StoredPerson};

/// Personal data on its way out of the vault: a file as read, search hits, a page of a
/// listing, the categories an update gives back. It yields what it holds only once the audit
/// entry that records exactly this disclosure is durable (no log, no data), through
/// [`Disclosure::wait`] on a thread or [`Disclosure::release`] in a task. Every operation that
/// returns personal data returns it through this type, and only the vault makes one: it is the
/// one place where every such response passes, and where containment decides.
///
/// Outside the vault, no code makes one, and none reads what it holds but through `wait` or
/// `release`, and the vault makes one only through [`Vault::disclose`], after containment:
///
/// ```compile_fail,E0624
/// let ticket = rempart_store::AuditTicket::ready(Ok(()));
/// let forged = rempart_vault::Disclosure::new("personal data", vec![], ticket);
/// ```
///
/// ```compile_fail,E0616
/// fn peek(d: rempart_vault::Disclosure<String>) -> String {
///     d.data
/// }
/// ```
#[must_use = "personal data leaves only through Disclosure::wait or Disclosure::release"]
pub struct Disclosure<T> {
    data: T,
    people: Vec<String>,
    ticket: AuditTicket,
}

impl<T> std::fmt::Debug for Disclosure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Disclosure({} people, <redacted>)", self.people.len())
    }
}

impl<T> Disclosure<T> {
    /// `data`, naming `people` (pseudonymous ids), released once `ticket` completes with `Ok`.
    /// Private: every disclosure is made by [`Vault::disclose`], after containment.
    fn new(data: T, people: Vec<String>, ticket: AuditTicket) -> Disclosure<T> {
        Disclosure {
            data,
            people,
            ticket,
        }
    }

    /// The pseudonymous ids of the people whose data it holds, each once, in the order of the
    /// response (no personal data).
    pub fn people(&self) -> &[String] {
        &self.people
    }

    /// Blocks until the audit entry is durable, then yields the data; an entry that failed
    /// yields nothing but the error.
    pub fn wait(self) -> Result<T, VaultError> {
        self.ticket.wait()?;
        Ok(self.data)
    }

    /// As [`Disclosure::wait`], awaited without holding a thread.
    pub async fn release(self) -> Result<T, VaultError> {
        self.ticket.await?;
        Ok(self.data)
    }
}

/// A person whose data a response carries, as containment sees them.
pub(crate) struct Reached {
    /// Pseudonymous id.
    pub(crate) id: String,
    /// In the principal's caseload: assigned to the counsellor, or enrolled with the partner.
    pub(crate) in_caseload: bool,
    /// A decoy file.
    pub(crate) decoy: bool,
}

impl Reached {
    /// `stored` as reached by `p`. Counsellors and partners have caseloads (the files assigned
    /// to the counsellor, the people enrolled with the partner); the other roles work for
    /// their whole agency, which is their caseload.
    pub(crate) fn of(p: &Principal, stored: &StoredPerson) -> Reached {
        let in_caseload = match p.role() {
            Role::Counsellor => stored
                .counsellor
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(p.name())),
            Role::Partner => stored.partners.iter().any(|x| x == p.agency().as_str()),
            Role::Dpo | Role::Operator | Role::Service => true,
            // A role added later counts as outside until it says otherwise.
            _ => false,
        };
        Reached {
            id: stored.id.clone(),
            in_caseload,
            decoy: stored.decoy,
        }
    }
}

/// What kind of response a disclosure is, for the log and for containment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A file read.
    Read,
    /// Search hits.
    Search,
    /// A page of a listing; `paged` after the first page.
    Listing { paged: bool },
    /// The categories an update gives back.
    Update,
    /// An export to a recipient; `approved` by a second operator (a large one).
    Export { approved: bool },
}

impl Shape {
    fn action(self) -> Action {
        match self {
            Shape::Read => Action::Read,
            Shape::Search => Action::Search,
            Shape::Listing { .. } => Action::List,
            Shape::Update => Action::Update,
            Shape::Export { .. } => Action::Export,
        }
    }

    fn kind(self) -> Kind {
        match self {
            Shape::Read => Kind::Read,
            Shape::Search => Kind::Search,
            Shape::Listing { paged } => Kind::Listing { paged },
            Shape::Update | Shape::Export { .. } => Kind::Update,
        }
    }
}

/// How the entries of a disclosure reach the log.
pub(crate) enum Record {
    /// Submitted now, after containment let the response leave.
    Submit(Vec<AuditEntry>),
    /// Already durable, written with the act itself (an update's answer, an export), which
    /// asked containment before it wrote ([`Vault::contain`]): it is not asked twice.
    Written,
}

impl Vault {
    /// The one way personal data leaves the vault: containment decides first (the response
    /// leaves, is refused, or the principal is suspended), then the entries are recorded, and
    /// the data is released only once they are durable.
    pub(crate) fn disclose<T>(
        &self,
        p: &Principal,
        data: T,
        people: Vec<Reached>,
        shape: Shape,
        record: Record,
    ) -> Result<Disclosure<T>, VaultError> {
        let ticket = match record {
            Record::Submit(entries) => {
                self.contain(p, &people, shape)?;
                self.store.submit_audit(&entries)
            }
            Record::Written => AuditTicket::ready(Ok(())),
        };
        let ids = people.into_iter().map(|r| r.id).collect();
        Ok(Disclosure::new(data, ids, ticket))
    }

    /// Asks containment whether a response showing `people` may leave for `p`. A refusal is
    /// recorded (`denied`, nobody named) and is [`VaultError::Contained`]; a trip suspends the
    /// principal, records an alert naming the people exposed over the last day, and is
    /// [`VaultError::Suspended`].
    pub(crate) fn contain(
        &self,
        p: &Principal,
        people: &[Reached],
        shape: Shape,
    ) -> Result<(), VaultError> {
        let Some(guard) = &self.guard else {
            return Ok(());
        };
        // A search that found nobody is a miss, which containment counts; any other response
        // without people shows nobody.
        if people.is_empty() && shape != Shape::Search {
            return Ok(());
        }
        // An approved export is decided by its four eyes, not by the budgets of the recipient
        // who runs it; a decoy in it trips all the same. A small one is counted like reads.
        if shape == (Shape::Export { approved: true }) && !people.iter().any(|r| r.decoy) {
            return Ok(());
        }
        let action = shape.action();
        let now = self.clock.now();
        // Counted under the login in lower case, as suspensions are: tokens made before logins
        // were lower-cased keep the case they were typed in.
        let key = p.name().to_ascii_lowercase();
        let who = Subject {
            principal: &key,
            role: p.role().as_str(),
            agency: p.agency().as_str(),
            since: p.since,
            client: p.client.as_deref(),
        };
        // A decoy trips when it is read or found by a search; a listing of the agency's files
        // shows decoys among the others (counted like them), and reading one then trips.
        let trips = action != Action::List;
        let exposed: Vec<Exposed> = people
            .iter()
            .map(|r| Exposed {
                id: &r.id,
                in_caseload: r.in_caseload,
                decoy: r.decoy && trips,
            })
            .collect();
        let report = |outage| {
            if let Some(sink) = &self.alert_sink {
                sink.containment_outage(outage, now);
            }
        };
        let verdict = match guard.decide(&who, now, shape.kind(), &exposed, &report) {
            Ok(v) => v,
            Err(e) => {
                // Refused without the counts: recorded as denied, naming nobody.
                let mut entry = self.entry(p, action, vec![], vec![], None, Outcome::Denied);
                entry.detail = Some("containment_unavailable".into());
                self.store.append_audit(&[entry])?;
                return Err(e);
            }
        };
        match verdict.decision {
            Decision::Pass => Ok(()),
            Decision::Refuse { retry_after } => {
                self.containment
                    .refusals
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut e = self.entry(p, action, vec![], vec![], None, Outcome::Denied);
                e.detail = Some(format!("contained retry_after={retry_after}"));
                self.store.append_audit(&[e])?;
                Err(VaultError::Contained { retry_after })
            }
            Decision::Suspend(trip) => {
                let (trip, counter) = match trip {
                    Trip::Decoy => ("decoy", &self.containment.decoy_trips),
                    Trip::Refusals => ("refusals", &self.containment.refusal_trips),
                };
                let report = verdict.report.unwrap_or_default();
                let [(m, m_out), (h, h_out), (d, d_out)] = report.counts;
                let names: Vec<&str> = report.signals.iter().map(|s| s.as_str()).collect();
                let signals = format!(
                    "action={} people_minute={m} people_hour={h} people_day={d} outside_minute={m_out} outside_hour={h_out} outside_day={d_out} signals={}",
                    serde_json::to_value(action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    if names.is_empty() { "none".to_string() } else { names.join(",") }
                );
                self.raise_alert(p, trip, signals, report.exposed)?;
                // Counted once the suspension and its alert are written.
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(VaultError::Suspended)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rempart_store::StoreError;

    #[test]
    fn nothing_leaves_when_the_entry_failed() {
        let failed = Disclosure::new(
            "secret".to_string(),
            vec!["p1".into()],
            AuditTicket::ready(Err(StoreError::Audit("refused".into()))),
        );
        assert_eq!(failed.people(), ["p1"]);
        assert!(!format!("{failed:?}").contains("secret"));
        assert!(matches!(failed.wait(), Err(VaultError::Store(_))));
        let (ticket, sender) = AuditTicket::pending();
        let pending = Disclosure::new(7, vec![], ticket);
        sender.complete(Ok(()));
        assert_eq!(pending.wait().unwrap(), 7);
    }
}
