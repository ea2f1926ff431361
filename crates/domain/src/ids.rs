//! Agency codes, France Travail identifiers, purposes and roles.

use regex::Regex;
use std::fmt;

/// Default pattern for France Travail identifiers: the regional form (7 digits and a
/// letter) and the national form (letters and digits, up to 11) both fit.
pub const DEFAULT_FRANCE_TRAVAIL_PATTERN: &str = "^[0-9A-Z]{8,11}$";

/// An agency code such as `ML-075-13` (upper-case letters, digits and dashes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Agency(String);

/// Why an agency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agency code must be 2 to 5 letters followed by up to 4 dash-separated groups of letters and digits, e.g. ML-075-13")]
pub struct AgencyError;

impl Agency {
    /// Parses an agency code; letters are upper-cased.
    pub fn parse(input: &str) -> Result<Agency, AgencyError> {
        let s = input.trim().to_ascii_uppercase();
        let mut parts = s.split('-');
        let head = parts.next().unwrap_or_default();
        if !(2..=5).contains(&head.len()) || !head.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AgencyError);
        }
        let mut n = 0;
        for p in parts {
            n += 1;
            if n > 4
                || p.is_empty()
                || p.len() > 8
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(AgencyError);
            }
        }
        Ok(Agency(s))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pattern France Travail identifiers must match (configurable: the format changed over
/// time).
#[derive(Debug, Clone)]
pub struct FranceTravailPattern(Regex);

/// Why a France Travail pattern could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid France Travail identifier pattern: {0}")]
pub struct PatternError(String);

impl FranceTravailPattern {
    /// Compiles a pattern; it is anchored at both ends if it is not already.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let anchored = format!(
            "^(?:{})$",
            pattern.trim_start_matches('^').trim_end_matches('$')
        );
        Regex::new(&anchored)
            .map(FranceTravailPattern)
            .map_err(|e| PatternError(e.to_string()))
    }
}

impl Default for FranceTravailPattern {
    fn default() -> Self {
        // The default pattern is a constant known to compile.
        FranceTravailPattern(
            Regex::new(DEFAULT_FRANCE_TRAVAIL_PATTERN).unwrap_or_else(|_| unreachable!()),
        )
    }
}

/// Normalises a France Travail identifier (upper case, no spaces) and checks it against
/// the pattern.
pub fn parse_france_travail_id(input: &str, pattern: &FranceTravailPattern) -> Option<String> {
    let s: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    pattern.0.is_match(&s).then_some(s)
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The wire name.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
            /// Parses the wire name.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some($name::$v),)+ _ => None } }
            /// The wire names, comma-separated, for error messages.
            pub fn expected() -> String { [$($s),+].join(", ") }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// Why personal data is being processed; every read declares one.
    Purpose {
        /// Following the young person (counsellors).
        Accompaniment = "accompaniment",
        /// A partner's service (training, other public body).
        PartnerService = "partner_service",
        /// Paying an allowance.
        Payment = "payment",
        /// Statistics.
        Statistics = "statistics",
        /// Answering the person's own request (GDPR art. 15–22).
        DataSubjectRequest = "data_subject_request",
        /// Investigating a breach.
        BreachResponse = "breach_response",
        /// A legal obligation.
        LegalObligation = "legal_obligation",
    }
}

string_enum! {
    /// What a principal is.
    Role {
        /// A Mission locale counsellor.
        Counsellor = "counsellor",
        /// A partner organisation.
        Partner = "partner",
        /// An operator / security officer.
        Operator = "operator",
        /// The data protection officer.
        Dpo = "dpo",
        /// The case-management application acting for counsellors.
        Service = "service",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_codes() {
        assert_eq!(Agency::parse("ml-075-13").unwrap().as_str(), "ML-075-13");
        assert!(Agency::parse("FT").is_ok());
        assert!(Agency::parse("M").is_err());
        assert!(Agency::parse("ML--1").is_err());
        assert!(Agency::parse("ML-075-13-1-2-3").is_err());
        assert!(Agency::parse("ML 075").is_err());
    }

    #[test]
    fn france_travail_ids_follow_the_configured_pattern() {
        let p = FranceTravailPattern::default();
        assert_eq!(
            parse_france_travail_id("1234567a", &p).as_deref(),
            Some("1234567A")
        );
        assert_eq!(parse_france_travail_id("12345", &p), None);
        let strict = FranceTravailPattern::new("[0-9]{7}[A-Z]").unwrap();
        assert!(parse_france_travail_id("1234567A", &strict).is_some());
        assert!(parse_france_travail_id("AB1234567", &strict).is_none());
        assert!(FranceTravailPattern::new("(").is_err());
    }

    #[test]
    fn purposes_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Purpose::parse("curiosity"), None);
    }
}
