//! The art. 33 notification draft: every element of art. 33(3) and of the CNIL's form, the
//! dates of the breach, of its discovery and of the notification, its phase (initial or
//! complementary), and the 72-hour clock, in JSON and in Markdown (a template an operator can
//! edit). Nothing in it names a person.

use crate::notice::day;
use crate::templates::{TemplateError, Templates};
use crate::words::{self, Language};
use serde::Serialize;
use std::collections::BTreeMap;

/// Seconds art. 33 gives from discovery to notification.
pub const DEADLINE: i64 = 72 * 3600;

/// Who notifies: the organisation's identity and contacts (from the configuration).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Organisation {
    /// Its name.
    pub name: String,
    /// Its SIREN.
    pub siren: String,
    /// Its postal address.
    pub address: String,
    /// Its legal representative (name, title).
    pub legal_representative: String,
    /// The DPO: name, email, phone.
    pub dpo: String,
    /// The contact point people are given.
    pub contact: String,
}

/// What the vault knows of an incident, for its draft.
#[derive(Debug, Clone, Default)]
pub struct DraftFacts {
    /// The incident's id.
    pub incident: String,
    /// `access`, `stolen` or `leak`.
    pub kind: String,
    /// What its author says happened.
    pub summary: String,
    /// What it covers, in words (principals, tokens, addresses, key version, copy date).
    pub scope: Vec<String>,
    /// First and last exposure found (or the scope's window), Unix seconds.
    pub breach: Option<(i64, i64)>,
    /// Discovery, Unix seconds.
    pub discovered_at: i64,
    /// Opening of the incident, Unix seconds.
    pub opened_at: i64,
    /// Now, Unix seconds.
    pub now: i64,
    /// People exposed.
    pub people: usize,
    /// Records exposed: responses of the log that carried personal data, or files for a copy.
    pub records: usize,
    /// People exposed per category.
    pub per_category: BTreeMap<String, usize>,
    /// People exposed per agency.
    pub per_agency: BTreeMap<String, usize>,
    /// Minors among them.
    pub minors: usize,
    /// People whose files left only as ciphertext under keys the attacker did not hold
    /// (art. 34(3)(a): no notice).
    pub spared: usize,
    /// The timeline: (when, who, what).
    pub timeline: Vec<(i64, String, String)>,
    /// The notifications already made: (phase, when, reference, late reason).
    pub filings: Vec<(u32, i64, String, Option<String>)>,
    /// Notices: prepared, sent.
    pub notices: (usize, usize),
}

/// The draft, as JSON and as the Markdown template sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    /// The incident.
    pub incident: String,
    /// `initial` or `complementary`.
    pub notification: &'static str,
    /// 1 for the initial notification, then 2, 3…
    pub phase: u32,
    /// Who notifies.
    pub organisation: Organisation,
    /// The nature of the breach.
    pub nature: Nature,
    /// Its dates and the 72-hour clock.
    pub dates: Dates,
    /// People and records concerned.
    pub concerned: Concerned,
    /// Likely consequences.
    pub consequences: Vec<&'static str>,
    /// Measures taken: the incident's timeline.
    pub measures_taken: Vec<Step>,
    /// Measures proposed.
    pub measures_proposed: Vec<&'static str>,
    /// Whether people must be told (art. 34), and why.
    pub people_notice: PeopleNotice,
    /// The notifications already made.
    pub previous: Vec<Previous>,
}

/// The nature of the breach.
#[derive(Debug, Clone, Serialize)]
pub struct Nature {
    /// `access`, `stolen` or `leak`.
    pub kind: String,
    /// One sentence.
    pub description: &'static str,
    /// The author's account.
    pub summary: String,
    /// What the incident covers.
    pub scope: Vec<String>,
    /// Confidentiality breached.
    pub confidentiality: bool,
    /// Integrity breached (Rempart's log shows no change of a file through the scope).
    pub integrity: bool,
    /// Availability breached.
    pub availability: bool,
}

/// Dates, RFC 3339 UTC.
#[derive(Debug, Clone, Serialize)]
pub struct Dates {
    /// First exposure found.
    pub breach_start: Option<String>,
    /// Last exposure found.
    pub breach_end: Option<String>,
    /// Discovery.
    pub discovered: String,
    /// The 72-hour deadline.
    pub deadline: String,
    /// Hours left before it (negative once passed).
    pub hours_left: i64,
    /// Hours past it (0 before it).
    pub hours_late: i64,
    /// Whether a notification made now is late.
    pub late: bool,
    /// The reasons a late notification must give (to be filled in when late).
    pub late_reason: Option<String>,
    /// When the draft was made.
    pub drafted: String,
}

/// People and records concerned.
#[derive(Debug, Clone, Serialize)]
pub struct Concerned {
    /// People whose data an attacker could read.
    pub people: usize,
    /// Records.
    pub records: usize,
    /// Per category (names as in the policies).
    pub per_category: BTreeMap<String, usize>,
    /// Per agency.
    pub per_agency: BTreeMap<String, usize>,
    /// Minors.
    pub minors: usize,
    /// People whose data left only encrypted under keys the attacker did not hold.
    pub encrypted_only: usize,
}

/// One step of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Who.
    pub by: String,
    /// What.
    pub what: String,
}

/// Whether people must be told.
#[derive(Debug, Clone, Serialize)]
pub struct PeopleNotice {
    /// Whether notices are due (art. 34(1)).
    pub required: bool,
    /// Why, or why not.
    pub reason: String,
    /// Messages prepared.
    pub prepared: usize,
    /// Messages sent.
    pub sent: usize,
}

/// A notification already made.
#[derive(Debug, Clone, Serialize)]
pub struct Previous {
    /// Its phase.
    pub phase: u32,
    /// When.
    pub filed: String,
    /// The authority's reference.
    pub reference: String,
    /// Its late reason.
    pub late_reason: Option<String>,
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

impl Draft {
    /// The draft of the next notification, from what the vault knows.
    pub fn build(f: &DraftFacts, org: &Organisation) -> Draft {
        let phase = f.filings.iter().map(|x| x.0).max().unwrap_or(0) + 1;
        let deadline = f.discovered_at.saturating_add(DEADLINE);
        let late = f.now > deadline;
        let categories: Vec<String> = f.per_category.keys().cloned().collect();
        let required = f.people > 0;
        let reason = if required {
            "Les données de personnes ont été lues en clair par un tiers non autorisé : risque \
             élevé d'hameçonnage et d'usurpation d'identité ; chaque personne est informée \
             (art. 34(1))."
                .to_string()
        } else if f.spared > 0 {
            format!(
                "Les données de {} personnes ne sont sorties que chiffrées, sous des clés que \
                 l'attaquant ne détenait pas : elles lui sont inintelligibles, et l'article \
                 34(3)(a) dispense de les informer.",
                f.spared
            )
        } else {
            "Aucune donnée personnelle n'est sortie : aucune personne à informer.".to_string()
        };
        let mut proposed = vec![
            "Informer chaque personne concernée (art. 34), et les représentants légaux des \
             mineurs, avec un code permettant de vérifier l'authenticité du message.",
            "Surveiller les tentatives d'hameçonnage au nom de l'organisme et alerter le public.",
        ];
        match f.kind.as_str() {
            "stolen" => proposed.push(
                "Remplacer la clé dérobée (rotation de la clé maîtresse) et réenvelopper toutes \
                 les clés de données.",
            ),
            "leak" => proposed.push(
                "Identifier le destinataire d'export à l'origine du fichier grâce à ses \
                 marqueurs, et suspendre ses accès.",
            ),
            _ => proposed.push(
                "Révoquer les accès utilisés, renouveler les secrets du titulaire du compte, \
                 vérifier le poste de travail concerné.",
            ),
        }
        Draft {
            incident: f.incident.clone(),
            notification: if phase == 1 {
                "initial"
            } else {
                "complementary"
            },
            phase,
            organisation: org.clone(),
            nature: Nature {
                kind: f.kind.clone(),
                description: words::what_happened(&f.kind, Language::Fr),
                summary: f.summary.clone(),
                scope: f.scope.clone(),
                confidentiality: true,
                integrity: false,
                availability: false,
            },
            dates: Dates {
                breach_start: f.breach.map(|b| rfc3339(b.0)),
                breach_end: f.breach.map(|b| rfc3339(b.1)),
                discovered: rfc3339(f.discovered_at),
                deadline: rfc3339(deadline),
                hours_left: (deadline - f.now).div_euclid(3600),
                hours_late: (f.now - deadline).max(0).div_euclid(3600),
                late,
                late_reason: late
                    .then(|| "À COMPLÉTER : les motifs du retard (art. 33(1)).".to_string()),
                drafted: rfc3339(f.now),
            },
            concerned: Concerned {
                people: f.people,
                records: f.records,
                per_category: f.per_category.clone(),
                per_agency: f.per_agency.clone(),
                minors: f.minors,
                encrypted_only: f.spared,
            },
            consequences: words::consequences(&categories, f.minors > 0),
            measures_taken: f
                .timeline
                .iter()
                .map(|(at, by, what)| Step {
                    at: rfc3339(*at),
                    by: by.clone(),
                    what: what.clone(),
                })
                .collect(),
            measures_proposed: proposed,
            people_notice: PeopleNotice {
                required,
                reason,
                prepared: f.notices.0,
                sent: f.notices.1,
            },
            previous: f
                .filings
                .iter()
                .map(|(phase, at, reference, late_reason)| Previous {
                    phase: *phase,
                    filed: rfc3339(*at),
                    reference: reference.clone(),
                    late_reason: late_reason.clone(),
                })
                .collect(),
        }
    }

    /// The JSON form.
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The Markdown form, from template `art33.fr.md`.
    pub fn markdown(&self, t: &Templates) -> Result<String, TemplateError> {
        let labels: BTreeMap<&String, &str> = self
            .concerned
            .per_category
            .keys()
            .map(|c| (c, words::label(c, Language::Fr)))
            .collect();
        t.render(
            "art33.fr.md",
            serde_json::json!({
                "d": self,
                "labels": labels,
                "discovered_day": self.dates.discovered.get(..10),
            }),
        )
    }

    /// The deadline's day, as people write it.
    pub fn deadline_day(discovered_at: i64) -> String {
        day(discovered_at.saturating_add(DEADLINE), Language::Fr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(now: i64) -> DraftFacts {
        DraftFacts {
            incident: "inc_1".into(),
            kind: "access".into(),
            summary: "A counsellor's token used from an unknown address.".into(),
            scope: vec!["principal c.durand".into()],
            breach: Some((1_000, 2_000)),
            discovered_at: 3_000,
            opened_at: 3_100,
            now,
            people: 10,
            records: 14,
            per_category: [("identity".to_string(), 10), ("contact".to_string(), 4)].into(),
            per_agency: [("ML-075-13".to_string(), 10)].into(),
            minors: 2,
            spared: 0,
            timeline: vec![(3_100, "dpo".into(), "opened".into())],
            filings: vec![],
            notices: (0, 0),
        }
    }

    fn org() -> Organisation {
        Organisation {
            name: "Mission locale de Paris".into(),
            siren: "123456789".into(),
            address: "1 rue de Paris".into(),
            legal_representative: "La présidente".into(),
            dpo: "dpo@ml.example".into(),
            contact: "01 23 45 67 89".into(),
        }
    }

    #[test]
    fn the_draft_holds_every_element_of_article_33() {
        let d = Draft::build(&facts(3_000 + 3_600), &org());
        assert_eq!(d.notification, "initial");
        assert_eq!(d.phase, 1);
        assert_eq!(d.dates.hours_left, 71);
        assert!(!d.dates.late);
        assert!(d.dates.late_reason.is_none());
        assert_eq!(d.concerned.people, 10);
        assert!(d.people_notice.required);
        assert!(!d.consequences.is_empty());
        let md = d.markdown(&Templates::default()).expect("renders");
        for needle in [
            "Notification initiale",
            "inc_1",
            "123456789",
            "dpo@ml.example",
            "10 personnes",
            "votre identité",
            "Conséquences probables",
            "Mesures prises",
            "Mesures proposées",
            "72 heures",
            "Mineurs : 2",
        ] {
            assert!(md.contains(needle), "{needle} missing:\n{md}");
        }
    }

    #[test]
    fn a_late_draft_asks_for_its_reasons_and_the_next_one_is_complementary() {
        let mut f = facts(3_000 + DEADLINE + 1);
        let d = Draft::build(&f, &org());
        assert!(d.dates.late);
        assert!(d.dates.hours_left < 0);
        let md = d.markdown(&Templates::default()).expect("renders");
        assert!(md.contains("motifs du retard"), "{md}");
        f.filings.push((1, 4_000, "CNIL-1".into(), None));
        let d = Draft::build(&f, &org());
        assert_eq!(d.notification, "complementary");
        assert_eq!(d.phase, 2);
        let md = d.markdown(&Templates::default()).expect("renders");
        assert!(md.contains("Notification complémentaire"), "{md}");
        assert!(md.contains("CNIL-1"), "{md}");
    }

    #[test]
    fn ciphertext_under_keys_not_held_spares_a_notice() {
        let mut f = facts(3_000);
        f.kind = "stolen".into();
        f.people = 0;
        f.per_category.clear();
        f.spared = 1_200;
        let d = Draft::build(&f, &org());
        assert!(!d.people_notice.required);
        assert!(d.people_notice.reason.contains("34(3)(a)"));
        let md = d.markdown(&Templates::default()).expect("renders");
        assert!(md.contains("34(3)(a)"), "{md}");
        assert!(md.contains("1200"), "{md}");
    }
}
