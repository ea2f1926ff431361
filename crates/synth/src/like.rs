//! A synthetic young person shaped like a real file: the same categories and fields present,
//! the same number of entries in each list, synthetic values where a value could identify
//! someone (names, dates, NIR, email, phones, address, identifiers, free text) and the
//! template's own where it is one of a few common values (benefits, housing, levels, statuses,
//! kinds of events, the counsellor's login). Export markers are made this way, so that a
//! recipient cannot tell them from the files around them.

use crate::{CITIES, FIRST_F, FIRST_M, LAST, STREETS, STREET_TYPES};
use chrono::{Months, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rempart_domain::{
    nir_key, Address, Contact, Education, Experience, Followup, FollowupEvent, Identity,
    LegalRepresentative, PersonInput, Professional, Situation,
};

/// Email providers young people in France use.
const PROVIDERS: &[&str] = &[
    "gmail.com",
    "hotmail.fr",
    "outlook.fr",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "yahoo.fr",
    "sfr.fr",
    "icloud.com",
];
const LINE2: &[&str] = &[
    "Appartement 12",
    "Bâtiment B",
    "Résidence les Pins",
    "Escalier 3",
];
const DIPLOMAS: &[&str] = &[
    "Diplôme national du brevet",
    "CAP Cuisine",
    "CAP Accompagnant éducatif petite enfance",
    "Baccalauréat professionnel Commerce",
    "Baccalauréat général",
    "BEP Métiers de la relation client",
];
const TRAININGS: &[&str] = &[
    "Remise à niveau",
    "Permis B",
    "SST",
    "CACES R489",
    "Atelier CV",
    "Formation bureautique",
];
const ROLES: &[&str] = &[
    "Vendeur",
    "Employé polyvalent",
    "Préparateur de commandes",
    "Agent d'entretien",
    "Serveur",
    "Animateur",
    "Manutentionnaire",
];
const ACTIVITIES: &[&str] = &[
    "Recherche d'emploi",
    "Contrat d'engagement jeune",
    "Intérim",
    "Service civique",
    "Formation",
];
const NOTES: &[&str] = &[
    "Entretien de suivi, projet confirmé.",
    "Point sur les démarches en cours.",
    "Orientation vers un atelier collectif.",
    "Relance sur les pièces justificatives.",
    "Échange téléphonique, rendez-vous fixé.",
];

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from.choose(rng).copied().unwrap_or_default()
}

fn slug(s: &str) -> String {
    crate::ascii_slug(s)
}

/// `value` with every digit replaced by a random one (and, when it holds fewer than four
/// digits, every letter by a random one of the same case): the same shape, another value.
fn reshape(rng: &mut ChaCha8Rng, value: &str) -> String {
    let letters = value.chars().filter(char::is_ascii_digit).count() < 4;
    value
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from(b'0' + rng.gen_range(0..10u8)),
            'A'..='Z' if letters => char::from(b'A' + rng.gen_range(0..26u8)),
            'a'..='z' if letters => char::from(b'a' + rng.gen_range(0..26u8)),
            other => other,
        })
        .collect()
}

fn day_between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0);
    from + chrono::Duration::days(rng.gen_range(0..=span))
}

fn phone(rng: &mut ChaCha8Rng) -> String {
    format!(
        "+33{}{:08}",
        rng.gen_range(6..=7),
        rng.gen_range(0..100_000_000u32)
    )
}

fn month(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// A synthetic young person (16 to 25 years old on `today`) of `agency` shaped like
/// `template`, drawn from `seed`. Identity is always present; every other category, field and
/// list entry is present exactly when the template's is.
pub fn young_person_like(
    template: &PersonInput,
    agency: &str,
    today: NaiveDate,
    seed: u64,
) -> PersonInput {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let female = rng.gen_bool(0.5);
    let last = pick(&mut rng, LAST).to_string();
    let pool = if female { FIRST_F } else { FIRST_M };
    let first = pick(&mut rng, pool).to_string();
    let oldest = today
        .checked_sub_months(Months::new(26 * 12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(today);
    let youngest = today
        .checked_sub_months(Months::new(16 * 12))
        .unwrap_or(today);
    let birth = day_between(&mut rng, oldest, youngest);
    let t = template.identity.clone().unwrap_or_default();
    let first_names = match &t.first_names {
        Some(f) if f.split_whitespace().count() > 1 => {
            format!("{first} {}", pick(&mut rng, pool))
        }
        _ => first.clone(),
    };
    let identity = Identity {
        last_name: Some(last.clone()),
        first_names: Some(first_names),
        birth_date: Some(birth.format("%Y-%m-%d").to_string()),
        sex: t
            .sex
            .as_ref()
            .map(|_| if female { "F" } else { "M" }.to_string()),
        nationality: t.nationality.clone(),
    };
    let (city, postal, place) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
    let nir = template.nir.as_ref().map(|_| {
        let first13 = crate::nir_first13(&mut rng, female, birth, place);
        format!("{first13}{:02}", nir_key(&first13).unwrap_or(0))
    });
    let france_travail_id = template
        .france_travail_id
        .as_deref()
        .map(|v| reshape(&mut rng, v));
    let ml_file_number = template
        .ml_file_number
        .as_deref()
        .map(|v| reshape(&mut rng, v));
    let contact = template.contact.as_ref().map(|c| {
        let local = match rng.gen_range(0..4) {
            0 => format!("{}.{}", slug(&first), slug(&last)),
            1 => format!("{}{}", slug(&first), slug(&last)),
            2 => format!("{}.{}", slug(&last), slug(&first)),
            _ => format!("{}_{}", slug(&first), slug(&last)),
        };
        Contact {
            email: c.email.as_ref().map(|_| {
                format!(
                    "{local}{}@{}",
                    rng.gen_range(10..10_000),
                    pick(&mut rng, PROVIDERS)
                )
            }),
            phones: c.phones.iter().map(|_| phone(&mut rng)).collect(),
            address: c.address.as_ref().map(|a| Address {
                line1: a.line1.as_ref().map(|_| {
                    format!(
                        "{} {} {}",
                        rng.gen_range(1..200),
                        pick(&mut rng, STREET_TYPES),
                        pick(&mut rng, STREETS)
                    )
                }),
                line2: a.line2.as_ref().map(|_| pick(&mut rng, LINE2).to_string()),
                postal_code: a.postal_code.as_ref().map(|_| postal.to_string()),
                city: a.city.as_ref().map(|_| city.to_string()),
                country: a.country.as_ref().map(|_| "FR".to_string()),
            }),
        }
    });
    let situation = template.situation.as_ref().map(|s| Situation {
        benefits: s.benefits.clone(),
        monthly_resources_eur: s.monthly_resources_eur.map(|_| rng.gen_range(0..1_200)),
        housing: s.housing.clone(),
        mobility: s.mobility.clone(),
    });
    let education = template.education.as_ref().map(|e| Education {
        level: e.level.clone(),
        diplomas: e
            .diplomas
            .iter()
            .map(|_| pick(&mut rng, DIPLOMAS).to_string())
            .collect(),
        trainings: e
            .trainings
            .iter()
            .map(|_| pick(&mut rng, TRAININGS).to_string())
            .collect(),
    });
    let adult = birth
        .checked_add_months(Months::new(18 * 12))
        .unwrap_or(today)
        .min(today);
    let professional = template.professional.as_ref().map(|p| Professional {
        experiences: p
            .experiences
            .iter()
            .map(|x| {
                let from = day_between(&mut rng, adult.min(today), today);
                Experience {
                    role: x.role.as_ref().map(|_| pick(&mut rng, ROLES).to_string()),
                    from: x.from.as_ref().map(|_| month(from)),
                    to: x
                        .to
                        .as_ref()
                        .map(|_| month(day_between(&mut rng, from, today))),
                }
            })
            .collect(),
        current_activity: p
            .current_activity
            .as_ref()
            .map(|_| pick(&mut rng, ACTIVITIES).to_string()),
        contracts: p.contracts.clone(),
    });
    let registered = day_between(
        &mut rng,
        today
            .checked_sub_months(Months::new(36))
            .unwrap_or(today)
            .max(birth),
        today,
    );
    let followup = template.followup.as_ref().map(|f| Followup {
        registered_on: f
            .registered_on
            .as_ref()
            .map(|_| registered.format("%Y-%m-%d").to_string()),
        status: f.status.clone(),
        counsellor: f.counsellor.clone(),
        events: f
            .events
            .iter()
            .map(|e| FollowupEvent {
                date: e.date.as_ref().map(|_| {
                    day_between(&mut rng, registered, today)
                        .format("%Y-%m-%d")
                        .to_string()
                }),
                kind: e.kind.clone(),
                note: e.note.as_ref().map(|_| pick(&mut rng, NOTES).to_string()),
            })
            .collect(),
    });
    let legal_representatives = template.legal_representatives.as_ref().map(|reps| {
        reps.iter()
            .map(|r| {
                let names = if rng.gen_bool(0.5) { FIRST_F } else { FIRST_M };
                let parent = pick(&mut rng, names);
                LegalRepresentative {
                    last_name: Some(last.clone()),
                    first_names: r.first_names.as_ref().map(|_| parent.to_string()),
                    relationship: r.relationship.clone(),
                    email: r.email.as_ref().map(|_| {
                        format!(
                            "{}.{}{}@{}",
                            slug(parent),
                            slug(&last),
                            rng.gen_range(10..10_000),
                            pick(&mut rng, PROVIDERS)
                        )
                    }),
                    phone: r.phone.as_ref().map(|_| phone(&mut rng)),
                }
            })
            .collect()
    });
    PersonInput {
        agency: Some(agency.to_string()),
        identity: Some(identity),
        nir,
        france_travail_id,
        ml_file_number,
        contact,
        situation,
        education,
        professional,
        followup,
        legal_representatives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rempart_domain::{Category, FranceTravailPattern, ValidFile, ValidationRules};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn template() -> PersonInput {
        PersonInput {
            agency: Some("ML-1".into()),
            identity: Some(Identity {
                last_name: Some("Martin".into()),
                first_names: Some("Léa Anne".into()),
                birth_date: Some("2006-04-17".into()),
                sex: Some("F".into()),
                nationality: Some("FR".into()),
            }),
            nir: Some("***********42 33".into()),
            france_travail_id: Some("1234567A".into()),
            ml_file_number: None,
            contact: Some(Contact {
                email: Some("lea@example.fr".into()),
                phones: vec!["+33612345678".into(), "+33700000000".into()],
                address: Some(Address {
                    line1: Some("12 rue des Lilas".into()),
                    postal_code: Some("75013".into()),
                    city: Some("Paris".into()),
                    ..Default::default()
                }),
            }),
            situation: None,
            education: Some(Education {
                level: Some("4".into()),
                diplomas: vec!["Bac pro".into()],
                trainings: vec![],
            }),
            professional: Some(Professional {
                experiences: vec![Experience {
                    role: Some("Vendeuse".into()),
                    from: Some("2024-06".into()),
                    to: None,
                }],
                ..Default::default()
            }),
            followup: Some(Followup {
                registered_on: Some("2024-09-02".into()),
                status: Some("registered".into()),
                counsellor: Some("c.durand".into()),
                events: vec![FollowupEvent {
                    date: Some("2024-10-01".into()),
                    kind: Some("entretien".into()),
                    note: Some("Parle de sa sœur".into()),
                }],
            }),
            legal_representatives: Some(vec![LegalRepresentative {
                last_name: Some("Martin".into()),
                relationship: Some("mère".into()),
                phone: Some("+33611111111".into()),
                ..Default::default()
            }]),
        }
    }

    #[test]
    fn the_same_shape_other_values_and_valid() {
        let rules = ValidationRules {
            today: today(),
            france_travail: FranceTravailPattern::default(),
        };
        let t = template();
        for seed in 0..200 {
            let m = young_person_like(&t, "ML-1", today(), seed);
            for c in Category::ALL {
                assert_eq!(m.has(*c), t.has(*c), "{c:?}");
            }
            let mc = m.contact.as_ref().unwrap();
            assert_eq!(mc.phones.len(), 2);
            assert!(mc.address.as_ref().unwrap().line2.is_none());
            assert_ne!(m.france_travail_id, t.france_travail_id);
            assert_eq!(m.professional.as_ref().unwrap().experiences[0].to, None);
            let note = m.followup.as_ref().unwrap().events[0].note.clone();
            assert!(note.is_some() && note != t.followup.as_ref().unwrap().events[0].note);
            let f = ValidFile::parse(m, &rules).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let birth = NaiveDate::parse_from_str(
                f.record()
                    .identity
                    .as_ref()
                    .unwrap()
                    .birth_date
                    .as_deref()
                    .unwrap(),
                "%Y-%m-%d",
            )
            .unwrap();
            let age = today().years_since(birth).unwrap();
            assert!((16..=25).contains(&age), "age {age}");
        }
        assert_ne!(
            young_person_like(&t, "ML-1", today(), 1)
                .contact
                .unwrap()
                .email,
            young_person_like(&t, "ML-1", today(), 2)
                .contact
                .unwrap()
                .email
        );
    }

    #[test]
    fn a_template_without_a_category_gives_none() {
        let t = PersonInput {
            identity: template().identity,
            ..Default::default()
        };
        let m = young_person_like(&t, "ML-1", today(), 3);
        assert!(m.identity.is_some());
        for c in Category::ALL.iter().filter(|c| **c != Category::Identity) {
            assert!(!m.has(*c), "{c:?}");
        }
    }
}
