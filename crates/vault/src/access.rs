//! What the access policy is told about a request, and the NIR's masked form.

use crate::principal::Principal;
use rempart_domain::{Category, PersonInput};
use rempart_policy::{FileFacts, Subject};
use rempart_store::StoredPerson;

/// The policy's view of the caller. Logins are compared in lower case, as the follow-up
/// category stores them.
pub(crate) struct Caller {
    name: String,
    role: rempart_domain::Role,
    agency: String,
}

impl Caller {
    pub(crate) fn of(p: &Principal) -> Caller {
        Caller {
            name: p.name.to_ascii_lowercase(),
            role: p.role,
            agency: p.agency.as_str().to_string(),
        }
    }

    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            name: &self.name,
            role: self.role,
            agency: &self.agency,
        }
    }
}

/// The policy's view of a stored file.
pub(crate) fn facts(stored: &StoredPerson, minor: bool) -> FileFacts<'_> {
    FileFacts {
        id: &stored.id,
        agency: &stored.agency,
        counsellor: stored.counsellor.as_deref(),
        partners: &stored.partners,
        minor,
    }
}

/// Whether someone born on `birth_date` (`YYYY-MM-DD`) is under 18 on `today`; a missing or
/// unreadable date counts as a minor, the more protective case.
pub(crate) fn is_minor(record: &PersonInput, today: chrono::NaiveDate) -> bool {
    let birth = record
        .identity
        .as_ref()
        .and_then(|i| i.birth_date.as_deref())
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match birth.and_then(|b| b.checked_add_months(chrono::Months::new(18 * 12))) {
        Some(adult_on) => today < adult_on,
        None => true,
    }
}

/// Masks a NIR to its last digits: `2060475113042 33` becomes `**********042 33`.
pub(crate) fn mask_nir(record: &mut PersonInput) {
    if let Some(nir) = record.nir.as_mut() {
        let digits = nir.chars().filter(|c| !c.is_whitespace()).count();
        let keep_from = digits.saturating_sub(5);
        let mut seen = 0;
        let masked: String = nir
            .chars()
            .map(|c| {
                if c.is_whitespace() {
                    return c;
                }
                seen += 1;
                if seen <= keep_from {
                    '*'
                } else {
                    c
                }
            })
            .collect();
        *nir = masked;
    }
}

/// The name the audit log gives to what was read of `c`.
pub(crate) fn read_name(c: Category, masked_nir: bool) -> String {
    if c == Category::SocialSecurity && masked_nir {
        rempart_policy::NIR_LAST_DIGITS.to_string()
    } else {
        c.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_nir_is_masked_to_its_last_five_digits() {
        let mut r = PersonInput {
            nir: Some("2060475113042 33".into()),
            ..Default::default()
        };
        mask_nir(&mut r);
        assert_eq!(r.nir.as_deref(), Some("**********042 33"));
    }

    #[test]
    fn eighteen_years_to_the_day() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let born = |d: &str| PersonInput {
            identity: Some(rempart_domain::Identity {
                birth_date: Some(d.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(is_minor(&born("2008-11-24"), today));
        assert!(!is_minor(&born("2008-11-23"), today));
        assert!(is_minor(&PersonInput::default(), today));
    }
}
