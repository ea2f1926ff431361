//! Email addresses and phone numbers.

use std::fmt;

/// Why an email address was refused (never repeats the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Empty, too long, or not exactly one `@`.
    #[error("must be of the form name@domain.tld, at most 254 characters")]
    Shape,
    /// Local part with a character outside RFC 5321's dot-atom, or misplaced dots.
    #[error("the part before @ has a character or dot that is not allowed")]
    Local,
    /// Domain without a dot, with an empty or over-long label, or a non-alphabetic TLD.
    #[error("the domain after @ is not a valid domain name")]
    Domain,
}

/// An email address (dot-atom local part, DNS domain with at least two labels).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

fn local_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c)
}

impl Email {
    /// Parses an address; surrounding spaces are removed, case is kept.
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let s = input.trim();
        if s.is_empty() || s.len() > 254 || s.matches('@').count() != 1 {
            return Err(EmailError::Shape);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(local_char_ok)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::Local);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || domain.len() > 253 {
            return Err(EmailError::Domain);
        }
        for l in &labels {
            if l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(EmailError::Domain);
            }
        }
        let tld = labels.last().copied().unwrap_or_default();
        if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(EmailError::Domain);
        }
        Ok(Email(s.to_string()))
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for exact search: lower-cased.
    pub fn normalised(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Why a phone number was refused (never repeats the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Characters other than digits, spaces, dots, dashes, parentheses and a leading `+`.
    #[error("may contain only digits, spaces, dots, dashes, parentheses and a leading +")]
    Characters,
    /// Neither E.164 (+ and 8 to 15 digits) nor a French national number (10 digits from 0).
    #[error(
        "must be in international form (+33612345678) or a 10-digit French number (06 12 34 56 78)"
    )]
    Shape,
}

/// A phone number in E.164 form (`+33612345678`).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(<redacted>)")
    }
}

impl Phone {
    /// Parses an E.164 number or a French national number and normalises it to E.164.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let s = input.trim();
        let mut digits = String::with_capacity(s.len());
        let mut plus = false;
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => plus = true,
                ' ' | '.' | '-' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError::Characters),
            }
        }
        if !plus && digits.starts_with("00") {
            plus = true;
            digits.drain(..2);
        }
        let e164 = if plus {
            // French numbers written +33 0 6 … : drop the trunk zero.
            if let Some(rest) = digits.strip_prefix("330") {
                if rest.len() == 9 {
                    digits = format!("33{rest}");
                }
            }
            if digits.len() < 8 || digits.len() > 15 || digits.starts_with('0') {
                return Err(PhoneError::Shape);
            }
            if let Some(rest) = digits.strip_prefix("33") {
                if rest.len() != 9 || rest.starts_with('0') {
                    return Err(PhoneError::Shape);
                }
            }
            format!("+{digits}")
        } else {
            if digits.len() != 10 || !digits.starts_with('0') || digits.as_bytes()[1] == b'0' {
                return Err(PhoneError::Shape);
            }
            format!("+33{}", &digits[1..])
        };
        Ok(Phone(e164))
    }

    /// E.164 form, also the form used for exact search.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn french_forms_normalise_to_e164() {
        for s in [
            "06 12 34 56 78",
            "0612345678",
            "06.12.34.56.78",
            "+33 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "0033612345678",
            "+33612345678",
        ] {
            assert_eq!(Phone::parse(s).unwrap().as_str(), "+33612345678", "{s}");
        }
        assert_eq!(
            Phone::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn bad_phones_are_refused() {
        assert_eq!(Phone::parse("06 12 34 56"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("00 12 34"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("+33 06 12 34 56 7"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse("06-12-ab-56-78"), Err(PhoneError::Characters));
        assert_eq!(Phone::parse("+3361234567"), Err(PhoneError::Shape));
        assert_eq!(Phone::parse(""), Err(PhoneError::Shape));
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Lea.Martin@Example.fr ")
                .unwrap()
                .normalised(),
            "lea.martin@example.fr"
        );
        assert_eq!(Email::parse("lea"), Err(EmailError::Shape));
        assert_eq!(Email::parse("a@b@c.fr"), Err(EmailError::Shape));
        assert_eq!(Email::parse(".lea@example.fr"), Err(EmailError::Local));
        assert_eq!(Email::parse("le..a@example.fr"), Err(EmailError::Local));
        assert_eq!(Email::parse("lea@example"), Err(EmailError::Domain));
        assert_eq!(Email::parse("lea@-x.fr"), Err(EmailError::Domain));
        assert_eq!(Email::parse("lea@x.f1"), Err(EmailError::Domain));
        assert_eq!(
            format!("{:?}", Email::parse("lea@x.fr").unwrap()),
            "Email(<redacted>)"
        );
    }

    proptest! {
        #[test]
        fn any_french_mobile_in_any_layout_normalises(rest in "[67][0-9]{8}", sep in prop_oneof![Just(""), Just(" "), Just("."), Just("-")], intl in any::<bool>()) {
            let pairs: Vec<String> = format!("0{rest}").as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            let national = pairs.join(sep);
            let text = if intl { format!("+33{sep}{}", &national[1..]) } else { national };
            let p = Phone::parse(&text).unwrap();
            prop_assert_eq!(p.as_str(), format!("+33{rest}"));
        }

        #[test]
        fn phone_parse_never_panics_and_output_is_e164(s in "\\PC{0,30}") {
            if let Ok(p) = Phone::parse(&s) {
                let d = &p.as_str()[1..];
                prop_assert!(p.as_str().starts_with('+'));
                prop_assert!(d.len() >= 8 && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()));
                // Normalisation is idempotent.
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
            }
        }

        #[test]
        fn generated_addresses_parse(local in "[a-z0-9]{1,10}(\\.[a-z0-9_+-]{1,10}){0,2}", dom in "[a-z0-9]{1,10}(-[a-z0-9]{1,5})?", tld in "[a-z]{2,6}") {
            let e = format!("{local}@{dom}.{tld}");
            let parsed = Email::parse(&e).unwrap();
            prop_assert_eq!(parsed.as_str(), e.as_str());
            prop_assert_eq!(Email::parse(&e.to_uppercase()).unwrap().normalised(), e);
        }

        #[test]
        fn email_parse_never_panics_and_has_one_at(s in "\\PC{0,60}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
                prop_assert!(e.as_str().is_ascii());
            }
        }
    }
}
