//! Art. 34 notices: one message per recipient (the person, and each legal representative of a
//! minor), saying what happened, exactly which of their categories were exposed and which were
//! not, the risks, the advice, whom to ask, and how to verify the message itself.

use crate::templates::{Message, TemplateError, Templates};
use crate::words::{self, Language, CATEGORIES};
use serde::Serialize;

/// What a notice says to one recipient.
#[derive(Clone)]
pub struct NoticeFacts {
    /// Its language.
    pub language: Language,
    /// The organisation that sends it (the agency's name).
    pub organisation: String,
    /// The sending agency's code.
    pub agency: String,
    /// The contact point people may ask (an address, a phone number).
    pub contact: String,
    /// Where a code is verified (the installation's public `/verify` page).
    pub verify_url: String,
    /// The incident's kind (`access`, `stolen`, `leak`).
    pub kind: String,
    /// First and last exposure, Unix seconds.
    pub period: (i64, i64),
    /// The young person's name (first names, last name).
    pub person_name: String,
    /// Whether the recipient is a legal representative of the person.
    pub representative: bool,
    /// The categories exposed, by their names in the policies.
    pub exposed: Vec<String>,
    /// The message's verification code.
    pub code: String,
}

impl std::fmt::Debug for NoticeFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoticeFacts(<redacted>)")
    }
}

#[derive(Serialize)]
struct Context<'a> {
    organisation: &'a str,
    agency: &'a str,
    contact: &'a str,
    verify_url: &'a str,
    what_happened: &'static str,
    measures: &'static str,
    period: String,
    person_name: String,
    representative: bool,
    exposed: Vec<&'static str>,
    exposed_short: String,
    not_exposed: Vec<&'static str>,
    code: &'a str,
}

impl NoticeFacts {
    /// The categories exposed and those not, as labels, in the documents' order.
    fn split(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        let has = |c: &str| self.exposed.iter().any(|x| x == c);
        let mut exposed = Vec::new();
        let mut not = Vec::new();
        for c in CATEGORIES {
            if has(c) {
                exposed.push(words::label(c, self.language));
            } else if c == "social_security" && has("social_security_masked") {
                exposed.push(words::label("social_security_masked", self.language));
            } else {
                not.push(words::label(c, self.language));
            }
        }
        (exposed, not)
    }

    fn context(&self) -> Context<'_> {
        let (exposed, not_exposed) = self.split();
        let safe_name = safe_name(&self.person_name);
        let short: Vec<&str> = exposed
            .iter()
            .map(|l| {
                l.trim_start_matches("votre ")
                    .trim_start_matches("vos ")
                    .trim_start_matches("your ")
                    .split(" (")
                    .next()
                    .unwrap_or(l)
            })
            .collect();
        Context {
            organisation: &self.organisation,
            agency: &self.agency,
            contact: &self.contact,
            verify_url: &self.verify_url,
            what_happened: words::what_happened(&self.kind, self.language),
            measures: words::measures_taken(&self.kind, self.language),
            period: period(self.period, self.language),
            person_name: safe_name,
            representative: self.representative,
            exposed,
            exposed_short: short.join(", "),
            not_exposed,
            code: &self.code,
        }
    }

    /// The notice sent by email.
    pub fn email(&self, t: &Templates) -> Result<Message, TemplateError> {
        t.message(
            &format!("notice.{}.txt", self.language.as_str()),
            self.context(),
        )
    }

    /// The notice sent by SMS (one text, no subject).
    pub fn sms(&self, t: &Templates) -> Result<String, TemplateError> {
        Ok(t.render(
            &format!("sms.{}.txt", self.language.as_str()),
            self.context(),
        )?
        .trim()
        .to_string())
    }
}

/// A name as a message shows it: letters, spaces, hyphens, apostrophes and full stops only,
/// on one line, at most 80 characters, so that a file's content can never add a line or a
/// link to a genuine message.
fn safe_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.'))
        .take(80)
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A day as people write it.
pub fn day(secs: i64, lang: Language) -> String {
    const MOIS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let Some(t) = chrono::DateTime::from_timestamp(secs, 0) else {
        return secs.to_string();
    };
    match lang {
        Language::Fr => {
            use chrono::Datelike;
            let m = MOIS.get(t.month0() as usize).copied().unwrap_or("?");
            format!("{} {m} {}", t.day(), t.year())
        }
        Language::En => t.format("%-d %B %Y").to_string(),
    }
}

/// `le 2 décembre 2026`, or `du 1er … au …`.
fn period((first, last): (i64, i64), lang: Language) -> String {
    let (a, b) = (day(first, lang), day(last, lang));
    match (lang, a == b) {
        (Language::Fr, true) => format!("le {a}"),
        (Language::Fr, false) => format!("du {a} au {b}"),
        (Language::En, true) => format!("on {a}"),
        (Language::En, false) => format!("from {a} to {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(exposed: &[&str], lang: Language, representative: bool) -> NoticeFacts {
        NoticeFacts {
            language: lang,
            organisation: "Mission locale de Paris".into(),
            agency: "ML-075-13".into(),
            contact: "dpo@ml-paris.example, 01 23 45 67 89".into(),
            verify_url: "https://rempart.ml-paris.example/verify".into(),
            kind: "access".into(),
            period: (1_764_633_600, 1_764_720_000),
            person_name: "Léa Martin".into(),
            representative,
            exposed: exposed.iter().map(|s| s.to_string()).collect(),
            code: "ABCD-EFGH-JKMN".into(),
        }
    }

    #[test]
    fn a_notice_names_exactly_the_categories_exposed_and_those_not() {
        let t = Templates::default();
        let m = facts(&["identity", "contact"], Language::Fr, false)
            .email(&t)
            .expect("renders");
        assert!(m.subject.contains("vos données"), "{}", m.subject);
        let (exposed, rest) = m
            .body
            .split_once("n'ont PAS été exposées")
            .expect("both lists");
        assert!(exposed.contains("votre identité"));
        assert!(exposed.contains("vos coordonnées"));
        assert!(!exposed.contains("sécurité sociale"));
        let not = rest.split("Ce que cela").next().unwrap_or("");
        assert!(not.contains("votre numéro de sécurité sociale"));
        assert!(not.contains("votre situation personnelle"));
        assert!(!not.contains("votre identité"));
        assert!(m.body.contains("Bonjour Léa Martin"));
        assert!(m.body.contains("ABCD-EFGH-JKMN"));
        assert!(m.body.contains("https://rempart.ml-paris.example/verify"));
        assert!(m.body.contains("du 2 décembre 2025 au 3 décembre 2025"));
        assert!(m.body.contains("hameçonnage"));
        assert!(m.body.contains("cybermalveillance.gouv.fr"));
    }

    #[test]
    fn a_representative_is_told_about_the_minor_and_english_is_an_option() {
        let t = Templates::default();
        let fr = facts(&["identity"], Language::Fr, true)
            .email(&t)
            .expect("renders");
        assert!(fr
            .body
            .contains("À l'attention des représentants légaux de Léa Martin"));
        let en = facts(&["identity", "social_security_masked"], Language::En, false)
            .email(&t)
            .expect("renders");
        assert!(en.body.contains("Dear Léa Martin"));
        assert!(en
            .body
            .contains("the last digits of your social-security number"));
        let (exposed, _) = en.body.split_once("was NOT exposed").expect("both lists");
        assert!(exposed.contains("last digits"));
    }

    #[test]
    fn an_sms_is_short_and_carries_the_code() {
        let t = Templates::default();
        let s = facts(&["identity", "contact"], Language::Fr, false)
            .sms(&t)
            .expect("renders");
        assert!(s.contains("ABCD-EFGH-JKMN"));
        assert!(s.contains("identité, coordonnées"), "{s}");
        assert!(s.chars().count() < 480, "{}", s.chars().count());
    }

    #[test]
    fn a_name_cannot_add_a_line_or_a_link() {
        let t = Templates::default();
        let mut f = facts(&["identity"], Language::Fr, true);
        f.person_name = "Léa\n\nVérifiez votre dossier : https://evil.example/x".into();
        let m = f.email(&t).expect("renders");
        assert!(!m.body.contains("https://evil"), "{}", m.body);
        assert!(!m.subject.contains('\n'));
        assert!(
            m.body
                .contains("Léa Vérifiez votre dossier httpsevil.examplex"),
            "{}",
            m.body
        );
    }

    #[test]
    fn facts_print_nothing_personal() {
        let f = facts(&["identity"], Language::Fr, false);
        assert_eq!(format!("{f:?}"), "NoticeFacts(<redacted>)");
    }
}
