//! Breach response, from the audit log: **exactly** which people's data left within an
//! incident's scope (a principal, a token, a client address, a time window), per person the
//! categories exposed, when, and through which principal and act.
//!
//! It agrees with what was served: only entries of acts that returned personal data and were
//! `allowed` count (reads, search hits, listing entries, the categories an update gives back,
//! exports). A refused request, a probe answered 404 (recorded `denied`), a creation or an
//! import (the data came in, nothing left) names nobody here.
//!
//! Then what must be said: the art. 33 draft for the authority ([`draft`]) and the art. 34
//! notices for each person ([`notice`]), from templates an operator can edit ([`templates`]).
//!
//! No I/O: the caller feeds the entries (from the log, in order), the templates' sources and
//! the facts, and prints or sends the result.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod draft;
pub mod leak;
pub mod notice;
pub mod stolen;
pub mod templates;
pub mod words;

pub use draft::{Draft, DraftFacts, Organisation};
pub use notice::NoticeFacts;
pub use stolen::{Held, Holdings};
pub use templates::{Message, TemplateError, Templates};
pub use words::Language;

use rempart_audit::{Action, AuditEntry, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What an incident covers: entries matching every criterion given (an empty list matches
/// all), within `[since, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Principal names (compared without case).
    pub principals: Vec<String>,
    /// Token ids.
    pub tokens: Vec<String>,
    /// Client addresses.
    pub clients: Vec<String>,
    /// From (Unix seconds, inclusive).
    pub since: i64,
    /// To (Unix seconds, exclusive); `None`: no end.
    pub until: Option<i64>,
    /// Only entries of principals of this agency (`None`: every agency).
    pub agency: Option<String>,
}

impl Scope {
    fn covers(&self, e: &AuditEntry) -> bool {
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        e.time >= self.since
            && self.until.is_none_or(|u| e.time < u)
            && self.agency.as_deref().is_none_or(|a| a == e.agency)
            && (self.principals.is_empty()
                || self
                    .principals
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&e.principal)))
            && any(&self.tokens, &e.token_id)
            && (self.clients.is_empty()
                || e.client.as_deref().is_some_and(|c| {
                    let canonical = c
                        .parse::<std::net::IpAddr>()
                        .map(|ip| ip.to_canonical().to_string());
                    any(&self.clients, c) || canonical.is_ok_and(|c| any(&self.clients, &c))
                }))
    }
}

/// Whether an entry of `action` records personal data leaving.
fn discloses(action: Action) -> bool {
    matches!(
        action,
        Action::Read | Action::Search | Action::List | Action::Update | Action::Export
    )
}

/// One person's exposure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Exposure {
    /// Pseudonymous id.
    pub id: String,
    /// Categories exposed, by their names in the policies (`social_security_masked` for the
    /// NIR's last digits).
    pub categories: BTreeSet<String>,
    /// First and last exposure, Unix seconds.
    pub first: i64,
    /// Last exposure.
    pub last: i64,
    /// Through whom and how: `principal action` pairs (`c.durand read`).
    pub through: BTreeSet<String>,
    /// Positions in the audit log of the entries that exposed them.
    pub entries: Vec<u64>,
    /// The file's agency, when the caller has told it ([`Impact::describe`]).
    pub agency: Option<String>,
    /// Whether the person is a minor now, when the caller has told it.
    pub minor: Option<bool>,
}

/// The people whose data left within a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impact {
    /// Per person, in id order.
    pub people: BTreeMap<String, Exposure>,
}

impl Impact {
    /// Counts the entries `entries` (position, entry) that `scope` covers.
    pub fn of<'a>(
        scope: &Scope,
        entries: impl IntoIterator<Item = (u64, &'a AuditEntry)>,
    ) -> Impact {
        let mut impact = Impact::default();
        for (seq, e) in entries {
            impact.count(scope, seq, e);
        }
        impact
    }

    /// Counts entry `seq` if `scope` covers it: one entry at a time, so that a caller walking a
    /// long log holds no more than the people found.
    pub fn count(&mut self, scope: &Scope, seq: u64, e: &AuditEntry) {
        if e.outcome != Outcome::Allowed || !discloses(e.action) || !scope.covers(e) {
            return;
        }
        let action = serde_json::to_value(e.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        for id in &e.persons {
            let x = self.people.entry(id.clone()).or_insert_with(|| Exposure {
                id: id.clone(),
                first: e.time,
                last: e.time,
                ..Exposure::default()
            });
            x.categories.extend(e.categories.iter().cloned());
            x.first = x.first.min(e.time);
            x.last = x.last.max(e.time);
            x.through.insert(format!("{} {action}", e.principal));
            x.entries.push(seq);
        }
    }

    /// Tells what the log does not hold: a person's agency and whether they are a minor (the
    /// caller reads them from the files; an erased file stays unknown).
    pub fn describe(&mut self, id: &str, agency: String, minor: bool) {
        if let Some(x) = self.people.get_mut(id) {
            x.agency = Some(agency);
            x.minor = Some(minor);
        }
    }

    /// People exposed per agency (`unknown` for a file erased since).
    pub fn per_agency(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for x in self.people.values() {
            let a = x.agency.clone().unwrap_or_else(|| "unknown".into());
            *out.entry(a).or_insert(0) += 1;
        }
        out
    }

    /// Minors among the people exposed.
    pub fn minors(&self) -> usize {
        self.people
            .values()
            .filter(|x| x.minor == Some(true))
            .count()
    }

    /// People exposed per category.
    pub fn per_category(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for x in self.people.values() {
            for c in &x.categories {
                *out.entry(c.clone()).or_insert(0) += 1;
            }
        }
        out
    }

    /// The JSON of `rempart incident impact --format json`: `{"people": [{"id", "categories"}],
    /// "per_category": {…}, "per_agency": {…}, "minors": N}`, people in id order.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "people": self
                .people
                .values()
                .map(|x| serde_json::json!({"id": x.id, "categories": x.categories}))
                .collect::<Vec<_>>(),
            "per_category": self.per_category(),
            "per_agency": self.per_agency(),
            "minors": self.minors(),
        })
    }

    /// CSV: a header, then `id,categories` with the categories joined by `;`.
    pub fn csv(&self) -> String {
        let mut out = String::from("id,categories\n");
        for x in self.people.values() {
            let cats: Vec<&str> = x.categories.iter().map(String::as_str).collect();
            out.push_str(&format!("{},{}\n", x.id, cats.join(";")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        t: i64,
        who: &str,
        action: Action,
        outcome: Outcome,
        persons: &[&str],
        cats: &[&str],
    ) -> AuditEntry {
        AuditEntry {
            time: t,
            principal: who.into(),
            token_id: format!("tok_{who}"),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action,
            persons: persons.iter().map(|p| p.to_string()).collect(),
            categories: cats.iter().map(|c| c.to_string()).collect(),
            purpose: Some("accompaniment".into()),
            client: Some(format!("10.0.0.{}", who.len())),
            request_id: None,
            outcome,
            detail: None,
        }
    }

    #[test]
    fn only_what_was_served_counts() {
        let log = [
            entry(
                10,
                "c.durand",
                Action::Read,
                Outcome::Allowed,
                &["p1"],
                &["identity", "contact"],
            ),
            entry(
                11,
                "c.durand",
                Action::Read,
                Outcome::Allowed,
                &["p1"],
                &["education"],
            ),
            // Refused, and a probe answered 404 (recorded denied): nobody.
            entry(12, "c.durand", Action::Read, Outcome::Denied, &["p2"], &[]),
            entry(13, "c.durand", Action::Read, Outcome::Denied, &[], &[]),
            entry(
                14,
                "c.durand",
                Action::Search,
                Outcome::Allowed,
                &["p3", "p4"],
                &["identity"],
            ),
            entry(
                15,
                "c.durand",
                Action::List,
                Outcome::Allowed,
                &["p5"],
                &["identity"],
            ),
            // Data coming in is not data leaving.
            entry(
                16,
                "c.durand",
                Action::Create,
                Outcome::Allowed,
                &["p6"],
                &["identity"],
            ),
            entry(
                17,
                "cli",
                Action::Import,
                Outcome::Allowed,
                &["p7"],
                &["identity"],
            ),
            // Someone else.
            entry(
                18,
                "c.martin",
                Action::Read,
                Outcome::Allowed,
                &["p8"],
                &["identity"],
            ),
            entry(
                19,
                "C.Durand",
                Action::Update,
                Outcome::Allowed,
                &["p1"],
                &["situation"],
            ),
        ];
        let scope = Scope {
            principals: vec!["c.durand".into()],
            ..Scope::default()
        };
        let impact = Impact::of(&scope, log.iter().enumerate().map(|(i, e)| (i as u64, e)));
        let ids: Vec<&str> = impact.people.keys().map(String::as_str).collect();
        assert_eq!(ids, ["p1", "p3", "p4", "p5"]);
        let p1 = &impact.people["p1"];
        assert_eq!(
            p1.categories.iter().map(String::as_str).collect::<Vec<_>>(),
            ["contact", "education", "identity", "situation"]
        );
        assert_eq!((p1.first, p1.last), (10, 19));
        assert_eq!(p1.entries, [0, 1, 9]);
        assert!(p1.through.contains("c.durand read") && p1.through.contains("C.Durand update"));
        assert_eq!(impact.per_category()["identity"], 4);
        let mut impact = impact;
        impact.describe("p1", "ML-1".into(), true);
        impact.describe("p3", "ML-2".into(), false);
        assert_eq!(impact.minors(), 1);
        assert_eq!(
            impact.per_agency(),
            BTreeMap::from([
                ("ML-1".into(), 1),
                ("ML-2".into(), 1),
                ("unknown".into(), 2)
            ])
        );
        let json = impact.json();
        assert_eq!(
            json["people"][0],
            serde_json::json!({"id": "p1", "categories": ["contact", "education", "identity", "situation"]})
        );
        assert!(impact
            .csv()
            .starts_with("id,categories\np1,contact;education;identity;situation\n"));
    }

    #[test]
    fn a_window_a_token_and_a_client_narrow_the_scope() {
        let log = [
            entry(
                10,
                "c.durand",
                Action::Read,
                Outcome::Allowed,
                &["p1"],
                &["identity"],
            ),
            entry(
                20,
                "c.durand",
                Action::Read,
                Outcome::Allowed,
                &["p2"],
                &["identity"],
            ),
            entry(
                30,
                "c.durand",
                Action::Read,
                Outcome::Allowed,
                &["p3"],
                &["identity"],
            ),
            entry(
                25,
                "c.x",
                Action::Read,
                Outcome::Allowed,
                &["p4"],
                &["identity"],
            ),
        ];
        let of = |scope: Scope| -> Vec<String> {
            Impact::of(&scope, log.iter().enumerate().map(|(i, e)| (i as u64, e)))
                .people
                .into_keys()
                .collect()
        };
        assert_eq!(
            of(Scope {
                since: 15,
                until: Some(30),
                ..Scope::default()
            }),
            ["p2", "p4"]
        );
        assert_eq!(
            of(Scope {
                tokens: vec!["tok_c.x".into()],
                ..Scope::default()
            }),
            ["p4"]
        );
        // c.durand's entries carry 10.0.0.8, c.x's 10.0.0.3.
        assert_eq!(
            of(Scope {
                clients: vec!["10.0.0.3".into()],
                ..Scope::default()
            }),
            ["p4"]
        );
        assert!(of(Scope {
            clients: vec!["192.0.2.1".into()],
            ..Scope::default()
        })
        .is_empty());
    }
}
