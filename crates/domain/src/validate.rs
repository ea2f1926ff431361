//! The one place where raw input becomes a valid file: every field is checked, every error
//! is collected with its field path, identifiers are normalised.

use crate::contact::{Email, Phone};
use crate::ids::{parse_france_travail_id, Agency, FranceTravailPattern};
use crate::nir::Nir;
use crate::record::*;
use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

/// One invalid field: a path such as `contact.phones[1]` and a message that never repeats
/// the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the field in the JSON body.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every invalid field of one input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s): {}", .0.len(), .0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(", "))]
pub struct ValidationErrors(pub Vec<FieldError>);

/// What validation needs from outside: today's date (injected: the domain does no I/O) and
/// the configured France Travail identifier pattern.
#[derive(Debug, Clone)]
pub struct ValidationRules {
    /// Today's date, for birth dates in the past.
    pub today: NaiveDate,
    /// Pattern of France Travail identifiers.
    pub france_travail: FranceTravailPattern,
}

/// Kinds of blind index: the exact-search keys of product.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IndexKind {
    /// Email, lower-cased.
    Email,
    /// Phone, E.164.
    Phone,
    /// NIR, 15 characters.
    Nir,
    /// France Travail identifier, upper case.
    FranceTravailId,
    /// Last name without accents or case, and birth date.
    NameBirth,
}

impl IndexKind {
    /// Stable small number stored beside the hash.
    pub fn code(self) -> i64 {
        match self {
            IndexKind::Email => 1,
            IndexKind::Phone => 2,
            IndexKind::Nir => 3,
            IndexKind::FranceTravailId => 4,
            IndexKind::NameBirth => 5,
        }
    }
    /// Domain-separation label for the keyed hash.
    pub fn label(self) -> &'static str {
        match self {
            IndexKind::Email => "email",
            IndexKind::Phone => "phone",
            IndexKind::Nir => "nir",
            IndexKind::FranceTravailId => "france_travail_id",
            IndexKind::NameBirth => "name_birth",
        }
    }
}

/// A search term ready for the blind index: normalised plaintext that must be hashed, never
/// stored. `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq)]
pub struct SearchTerm {
    /// Which index.
    pub kind: IndexKind,
    value: String,
}

impl std::fmt::Debug for SearchTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SearchTerm({:?}, <redacted>)", self.kind)
    }
}

/// The normalised value is personal data: wiped when the term is dropped.
impl Drop for SearchTerm {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

impl SearchTerm {
    /// The normalised value, to be fed to the keyed hash and nowhere else.
    pub fn normalised_value(&self) -> &str {
        &self.value
    }

    /// Parses a search value of `kind` (name_birth takes the last name and birth date).
    pub fn email(s: &str) -> Result<Self, String> {
        Email::parse(s)
            .map(|e| Self {
                kind: IndexKind::Email,
                value: e.normalised(),
            })
            .map_err(|e| e.to_string())
    }
    /// A phone search term.
    pub fn phone(s: &str) -> Result<Self, String> {
        Phone::parse(s)
            .map(|p| Self {
                kind: IndexKind::Phone,
                value: p.as_str().to_string(),
            })
            .map_err(|e| e.to_string())
    }
    /// A NIR search term.
    pub fn nir(s: &str) -> Result<Self, String> {
        Nir::parse(s)
            .map(|n| Self {
                kind: IndexKind::Nir,
                value: n.as_str().to_string(),
            })
            .map_err(|e| e.to_string())
    }
    /// A France Travail identifier search term.
    pub fn france_travail_id(s: &str, rules: &ValidationRules) -> Result<Self, String> {
        parse_france_travail_id(s, &rules.france_travail)
            .map(|v| Self {
                kind: IndexKind::FranceTravailId,
                value: v,
            })
            .ok_or_else(|| "does not match the configured France Travail identifier pattern".into())
    }
    /// A last name + birth date search term.
    pub fn name_birth(last_name: &str, birth_date: &str) -> Result<Self, String> {
        let name = normalise_name(last_name);
        if name.is_empty() {
            return Err("last_name is required".into());
        }
        let date = parse_date(birth_date).ok_or("birth_date must be a date YYYY-MM-DD")?;
        Ok(Self {
            kind: IndexKind::NameBirth,
            value: format!("{name}|{date}"),
        })
    }
}

/// Lower case, accents removed, any run of non-alphanumerics a single space.
pub fn normalise_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
    {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// Parses a strict `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A file that passed validation: normalised identifiers, known agency. Only
/// [`ValidFile::parse`] makes one.
#[derive(Clone)]
pub struct ValidFile {
    agency: Agency,
    record: PersonInput,
    terms: Vec<SearchTerm>,
}

impl std::fmt::Debug for ValidFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValidFile({}, <redacted>)", self.agency)
    }
}

struct Checker<'a> {
    rules: &'a ValidationRules,
    errors: Vec<FieldError>,
}

const NAME_MAX: usize = 100;
const TEXT_MAX: usize = 200;
const NOTE_MAX: usize = 2000;
use crate::limits::{too_many, EVENTS_MAX, LEGAL_REPRESENTATIVES_MAX, LIST_MAX, PHONES_MAX};

impl Checker<'_> {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn required<'v>(&mut self, field: &str, v: &'v mut Option<String>) -> Option<&'v mut String> {
        if v.as_deref().map(str::trim).unwrap_or_default().is_empty() {
            self.err(field, "is required");
            None
        } else {
            v.as_mut()
        }
    }

    fn text(&mut self, field: &str, v: &mut String, max: usize) {
        let t = v.trim();
        if t.is_empty() {
            self.err(field, "must not be empty");
        } else if t.chars().count() > max {
            self.err(field, format!("must be at most {max} characters"));
        } else if t.chars().any(|c| c.is_control() && c != '\n') {
            self.err(field, "must not contain control characters");
        } else {
            *v = t.to_string();
        }
    }

    fn opt_text(&mut self, field: &str, v: &mut Option<String>, max: usize) {
        if let Some(s) = v.as_mut() {
            self.text(field, s, max);
        }
    }

    /// Whether a list is within its bound; one error for the whole list otherwise (its
    /// entries are then not checked one by one).
    fn bounded<T>(&mut self, field: &str, v: &[T], max: usize) -> bool {
        if v.len() > max {
            self.err(field, too_many(max));
            return false;
        }
        true
    }

    fn list(&mut self, field: &str, v: &mut [String], max: usize) {
        if !self.bounded(field, v, LIST_MAX) {
            return;
        }
        for (i, s) in v.iter_mut().enumerate() {
            self.text(&format!("{field}[{i}]"), s, max);
        }
    }

    fn name(&mut self, field: &str, v: &mut String) {
        let ok = v
            .trim()
            .chars()
            .all(|c| c.is_alphabetic() || " -'’.".contains(c))
            && v.chars().any(char::is_alphabetic);
        if !ok {
            self.err(
                field,
                "must contain letters, spaces, hyphens and apostrophes only",
            );
        } else {
            self.text(field, v, NAME_MAX);
        }
    }

    fn date(&mut self, field: &str, v: &mut String) -> Option<NaiveDate> {
        match parse_date(v) {
            Some(d) => {
                *v = d.format("%Y-%m-%d").to_string();
                Some(d)
            }
            None => {
                self.err(field, "must be a date YYYY-MM-DD");
                None
            }
        }
    }

    fn past_date(&mut self, field: &str, v: &mut String) -> Option<NaiveDate> {
        let d = self.date(field, v)?;
        if d > self.rules.today {
            self.err(field, "must not be in the future");
            return None;
        }
        Some(d)
    }

    fn month(&mut self, field: &str, v: &mut Option<String>) {
        if let Some(s) = v.as_mut() {
            let t = s.trim();
            if t.len() == 7 && parse_date(&format!("{t}-01")).is_some() {
                *s = t.to_string();
            } else {
                self.err(field, "must be a month YYYY-MM");
            }
        }
    }

    fn email(&mut self, field: &str, v: &mut Option<String>, terms: Option<&mut Vec<SearchTerm>>) {
        if let Some(s) = v.as_mut() {
            match Email::parse(s) {
                Ok(e) => {
                    *s = e.as_str().to_string();
                    if let Some(t) = terms {
                        t.push(SearchTerm {
                            kind: IndexKind::Email,
                            value: e.normalised(),
                        });
                    }
                }
                Err(e) => self.err(field, e.to_string()),
            }
        }
    }

    fn phone(&mut self, field: &str, s: &mut String, terms: Option<&mut Vec<SearchTerm>>) {
        match Phone::parse(s) {
            Ok(p) => {
                *s = p.as_str().to_string();
                if let Some(t) = terms {
                    t.push(SearchTerm {
                        kind: IndexKind::Phone,
                        value: p.as_str().to_string(),
                    });
                }
            }
            Err(e) => self.err(field, e.to_string()),
        }
    }
}

impl ValidFile {
    /// Validates and normalises a file to be created. Every error is reported, each with its
    /// field path; nothing is returned unless all fields are valid.
    pub fn parse(
        mut input: PersonInput,
        rules: &ValidationRules,
    ) -> Result<ValidFile, ValidationErrors> {
        let mut c = Checker {
            rules,
            errors: Vec::new(),
        };
        let mut terms = Vec::new();

        let agency = match input.agency.as_deref().map(Agency::parse) {
            None => {
                c.err("agency", "is required");
                None
            }
            Some(Ok(a)) => {
                input.agency = Some(a.as_str().to_string());
                Some(a)
            }
            Some(Err(e)) => {
                c.err("agency", e.to_string());
                None
            }
        };

        // Identity (required).
        let mut birth: Option<NaiveDate> = None;
        let mut sex: Option<String> = None;
        match input.identity.as_mut() {
            None => c.err("identity", "is required"),
            Some(id) => {
                let mut last = None;
                if let Some(v) = c.required("identity.last_name", &mut id.last_name) {
                    c.name("identity.last_name", v);
                    last = Some(v.clone());
                }
                if let Some(v) = c.required("identity.first_names", &mut id.first_names) {
                    c.name("identity.first_names", v);
                }
                if let Some(v) = c.required("identity.birth_date", &mut id.birth_date) {
                    birth = c.past_date("identity.birth_date", v);
                    if let Some(b) = birth {
                        if b.year() < 1900 {
                            c.err("identity.birth_date", "must be after 1900");
                            birth = None;
                        }
                    }
                }
                if let Some(s) = id.sex.as_mut() {
                    let up = s.trim().to_ascii_uppercase();
                    if up == "F" || up == "M" {
                        *s = up.clone();
                        sex = Some(up);
                    } else {
                        c.err("identity.sex", "must be F or M");
                    }
                }
                if let Some(n) = id.nationality.as_mut() {
                    let up = n.trim().to_ascii_uppercase();
                    if up.len() == 2 && up.bytes().all(|b| b.is_ascii_uppercase()) {
                        *n = up;
                    } else {
                        c.err(
                            "identity.nationality",
                            "must be a two-letter ISO 3166 country code",
                        );
                    }
                }
                if let (Some(l), Some(b)) = (last, birth) {
                    let name = normalise_name(&l);
                    if !name.is_empty() {
                        terms.push(SearchTerm {
                            kind: IndexKind::NameBirth,
                            value: format!("{name}|{b}"),
                        });
                    }
                }
            }
        }

        if let Some(raw) = input.nir.as_mut() {
            match Nir::parse(raw) {
                Err(e) => c.err("nir", e.to_string()),
                Ok(nir) => {
                    if let Some(s) = &sex {
                        let expected = if nir.sex_digit() == 1 { "M" } else { "F" };
                        if s != expected {
                            c.err("nir", "first digit does not agree with identity.sex");
                        }
                    }
                    if let Some(b) = birth {
                        if nir.year2() != (b.year() % 100) as u32 {
                            c.err(
                                "nir",
                                "year of birth does not agree with identity.birth_date",
                            );
                        } else if (1..=12).contains(&nir.month()) && nir.month() != b.month() {
                            c.err(
                                "nir",
                                "month of birth does not agree with identity.birth_date",
                            );
                        }
                    }
                    *raw = nir.as_str().to_string();
                    terms.push(SearchTerm {
                        kind: IndexKind::Nir,
                        value: nir.as_str().to_string(),
                    });
                }
            }
        }

        if let Some(raw) = input.france_travail_id.as_mut() {
            match parse_france_travail_id(raw, &rules.france_travail) {
                Some(v) => {
                    *raw = v.clone();
                    terms.push(SearchTerm {
                        kind: IndexKind::FranceTravailId,
                        value: v,
                    });
                }
                None => c.err(
                    "france_travail_id",
                    "does not match the configured France Travail identifier pattern",
                ),
            }
        }
        if let Some(v) = input.ml_file_number.as_mut() {
            if v.trim().is_empty()
                || v.trim().len() > 32
                || !v
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/')
            {
                c.err(
                    "ml_file_number",
                    "must be 1 to 32 letters, digits, dashes or slashes",
                );
            } else {
                *v = v.trim().to_string();
            }
        }

        if let Some(contact) = input.contact.as_mut() {
            c.email("contact.email", &mut contact.email, Some(&mut terms));
            let phones = if c.bounded("contact.phones", &contact.phones, PHONES_MAX) {
                contact.phones.as_mut_slice()
            } else {
                &mut []
            };
            for (i, p) in phones.iter_mut().enumerate() {
                c.phone(&format!("contact.phones[{i}]"), p, Some(&mut terms));
            }
            if let Some(a) = contact.address.as_mut() {
                c.opt_text("contact.address.line1", &mut a.line1, TEXT_MAX);
                c.opt_text("contact.address.line2", &mut a.line2, TEXT_MAX);
                c.opt_text("contact.address.city", &mut a.city, TEXT_MAX);
                let french = match a.country.as_mut() {
                    None => true,
                    Some(k) => {
                        let up = k.trim().to_ascii_uppercase();
                        if up.len() != 2 || !up.bytes().all(|b| b.is_ascii_uppercase()) {
                            c.err(
                                "contact.address.country",
                                "must be a two-letter ISO 3166 country code",
                            );
                        }
                        *k = up.clone();
                        up == "FR"
                    }
                };
                if let Some(pc) = a.postal_code.as_mut() {
                    let t = pc.trim().to_string();
                    let ok = if french {
                        t.len() == 5 && t.bytes().all(|b| b.is_ascii_digit())
                    } else {
                        (2..=10).contains(&t.len())
                            && t.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
                    };
                    if ok {
                        *pc = t;
                    } else {
                        c.err(
                            "contact.address.postal_code",
                            if french {
                                "must be 5 digits"
                            } else {
                                "must be 2 to 10 letters or digits"
                            },
                        );
                    }
                }
            }
        }

        if let Some(s) = input.situation.as_mut() {
            c.list("situation.benefits", &mut s.benefits, 40);
            if let Some(r) = s.monthly_resources_eur {
                if !(0..=1_000_000).contains(&r) {
                    c.err(
                        "situation.monthly_resources_eur",
                        "must be between 0 and 1000000",
                    );
                }
            }
            c.opt_text("situation.housing", &mut s.housing, TEXT_MAX);
            c.opt_text("situation.mobility", &mut s.mobility, TEXT_MAX);
        }

        if let Some(e) = input.education.as_mut() {
            if let Some(l) = e.level.as_mut() {
                let t = l.trim();
                if t.len() == 1 && ("1"..="8").contains(&t) {
                    *l = t.to_string();
                } else {
                    c.err("education.level", "must be a level from 1 to 8");
                }
            }
            c.list("education.diplomas", &mut e.diplomas, TEXT_MAX);
            c.list("education.trainings", &mut e.trainings, TEXT_MAX);
        }

        if let Some(p) = input.professional.as_mut() {
            let experiences = if c.bounded("professional.experiences", &p.experiences, LIST_MAX) {
                p.experiences.as_mut_slice()
            } else {
                &mut []
            };
            for (i, x) in experiences.iter_mut().enumerate() {
                let f = format!("professional.experiences[{i}]");
                if let Some(r) = c.required(&format!("{f}.role"), &mut x.role) {
                    c.text(&format!("{f}.role"), r, TEXT_MAX);
                }
                c.month(&format!("{f}.from"), &mut x.from);
                c.month(&format!("{f}.to"), &mut x.to);
            }
            c.opt_text(
                "professional.current_activity",
                &mut p.current_activity,
                TEXT_MAX,
            );
            c.list("professional.contracts", &mut p.contracts, TEXT_MAX);
        }

        if let Some(f) = input.followup.as_mut() {
            if let Some(d) = f.registered_on.as_mut() {
                c.past_date("followup.registered_on", d);
            }
            if let Some(s) = f.status.as_mut() {
                let t = s.trim().to_ascii_lowercase();
                if t == "registered" || t == "struck_off" {
                    *s = t;
                } else {
                    c.err("followup.status", "must be registered or struck_off");
                }
            }
            if let Some(k) = f.counsellor.as_mut() {
                let t = k.trim().to_ascii_lowercase();
                if t.is_empty()
                    || t.len() > 64
                    || !t
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    c.err(
                        "followup.counsellor",
                        "must be a login of letters, digits, dots, dashes and underscores",
                    );
                } else {
                    *k = t;
                }
            }
            let events = if c.bounded("followup.events", &f.events, EVENTS_MAX) {
                f.events.as_mut_slice()
            } else {
                &mut []
            };
            for (i, ev) in events.iter_mut().enumerate() {
                let p = format!("followup.events[{i}]");
                if let Some(d) = c.required(&format!("{p}.date"), &mut ev.date) {
                    c.date(&format!("{p}.date"), d);
                }
                c.opt_text(&format!("{p}.kind"), &mut ev.kind, TEXT_MAX);
                c.opt_text(&format!("{p}.note"), &mut ev.note, NOTE_MAX);
            }
        }

        if let Some(reps) = input.legal_representatives.as_mut() {
            let reps = if c.bounded("legal_representatives", reps, LEGAL_REPRESENTATIVES_MAX) {
                reps.as_mut_slice()
            } else {
                &mut []
            };
            for (i, r) in reps.iter_mut().enumerate() {
                let p = format!("legal_representatives[{i}]");
                if let Some(v) = c.required(&format!("{p}.last_name"), &mut r.last_name) {
                    c.name(&format!("{p}.last_name"), v);
                }
                if let Some(v) = r.first_names.as_mut() {
                    c.name(&format!("{p}.first_names"), v);
                }
                c.opt_text(&format!("{p}.relationship"), &mut r.relationship, 40);
                c.email(&format!("{p}.email"), &mut r.email, None);
                if let Some(ph) = r.phone.as_mut() {
                    c.phone(&format!("{p}.phone"), ph, None);
                }
            }
        }

        match agency {
            Some(agency) if c.errors.is_empty() => Ok(ValidFile {
                agency,
                record: input,
                terms,
            }),
            _ => Err(ValidationErrors(c.errors)),
        }
    }

    /// The agency the file belongs to.
    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// The normalised file.
    pub fn record(&self) -> &PersonInput {
        &self.record
    }

    /// The exact-search terms of this file, to be hashed into blind indexes.
    pub fn search_terms(&self) -> &[SearchTerm] {
        &self.terms
    }

    /// The assigned counsellor's login, if any.
    pub fn counsellor(&self) -> Option<&str> {
        self.record
            .followup
            .as_ref()
            .and_then(|f| f.counsellor.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn rules() -> ValidationRules {
        ValidationRules {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            france_travail: FranceTravailPattern::default(),
        }
    }

    fn example() -> PersonInput {
        PersonInput {
            agency: Some("ML-075-13".into()),
            identity: Some(Identity {
                last_name: Some("Martin".into()),
                first_names: Some("Léa Anne".into()),
                birth_date: Some("2006-04-17".into()),
                sex: Some("F".into()),
                nationality: Some("FR".into()),
            }),
            nir: Some("2060475113042 33".into()),
            france_travail_id: Some("1234567A".into()),
            contact: Some(Contact {
                email: Some("Lea.Martin@example.fr".into()),
                phones: vec!["06 12 34 56 78".into()],
                address: Some(Address {
                    line1: Some("12 rue des Lilas".into()),
                    postal_code: Some("75013".into()),
                    city: Some("Paris".into()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_interface_example_is_valid_and_normalised() {
        let v = ValidFile::parse(example(), &rules()).unwrap();
        assert_eq!(v.record().nir.as_deref(), Some("206047511304233"));
        assert_eq!(
            v.record().contact.as_ref().unwrap().phones[0],
            "+33612345678"
        );
        let kinds: Vec<_> = v.search_terms().iter().map(|t| t.kind).collect();
        assert!(kinds.contains(&IndexKind::NameBirth));
        assert!(kinds.contains(&IndexKind::Email));
        let nb = v
            .search_terms()
            .iter()
            .find(|t| t.kind == IndexKind::NameBirth)
            .unwrap();
        assert_eq!(nb.normalised_value(), "martin|2006-04-17");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut f = example();
        f.agency = None;
        f.nir = Some("2060475113042 34".into());
        f.contact.as_mut().unwrap().email = Some("nope".into());
        f.contact.as_mut().unwrap().phones.push("12".into());
        f.identity.as_mut().unwrap().birth_date = Some("2030-01-01".into());
        let errs = ValidFile::parse(f, &rules()).unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "agency",
                "identity.birth_date",
                "nir",
                "contact.email",
                "contact.phones[1]"
            ]
        );
    }

    #[test]
    fn a_list_past_its_bound_is_one_error_and_its_entries_are_not_checked() {
        let mut f = example();
        f.followup = Some(Followup {
            events: vec![FollowupEvent::default(); 10_000],
            ..Default::default()
        });
        f.contact.as_mut().unwrap().phones = vec!["12".into(); 6];
        f.education = Some(Education {
            diplomas: vec![String::new(); 51],
            ..Default::default()
        });
        f.legal_representatives = Some(vec![LegalRepresentative::default(); 5]);
        let errs = ValidFile::parse(f, &rules()).unwrap_err();
        let got: Vec<_> = errs
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("contact.phones", "at most 5 entries"),
                ("education.diplomas", "at most 50 entries"),
                ("followup.events", "at most 500 entries"),
                ("legal_representatives", "at most 4 entries"),
            ]
        );
    }

    #[test]
    fn nir_must_agree_with_identity() {
        let mut f = example();
        f.identity.as_mut().unwrap().sex = Some("M".into());
        let errs = ValidFile::parse(f, &rules()).unwrap_err();
        assert_eq!(errs.0[0].field, "nir");
        let mut f = example();
        f.identity.as_mut().unwrap().birth_date = Some("2006-05-17".into());
        assert!(ValidFile::parse(f, &rules()).is_err());
    }

    #[test]
    fn errors_never_repeat_values() {
        let mut f = example();
        f.contact.as_mut().unwrap().email = Some("secret-value-xyz".into());
        f.nir = Some("secret-value-xyz".into());
        let errs = ValidFile::parse(f, &rules()).unwrap_err();
        assert!(!format!("{errs:?} {errs}").contains("secret-value-xyz"));
    }

    #[test]
    fn names_normalise_without_accents_or_case() {
        assert_eq!(
            normalise_name("  Le Bœuf-DUPRÉ d’Artagnan "),
            "le bœuf dupre d artagnan"
        );
        assert_eq!(normalise_name("Éloïse"), "eloise");
    }

    #[test]
    fn debug_of_personal_data_prints_nothing() {
        let v = ValidFile::parse(example(), &rules()).unwrap();
        let s = format!("{v:?} {:?} {:?}", v.record(), v.search_terms());
        assert!(!s.contains("Martin") && !s.contains("lea") && !s.contains("2060"));
    }
}
