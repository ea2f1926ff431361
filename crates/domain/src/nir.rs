//! The NIR (numéro d'inscription au répertoire, "numéro de sécurité sociale").
//!
//! 15 characters: sex (1), year (2), month (2), place of birth (5), serial (3), key (2).
//! Key = 97 − (the first 13 characters as a number mod 97), with Corsica's `2A` read as
//! `19` and `2B` as `18`. Errors never repeat the value.

use std::fmt;

/// Why a NIR was refused. The messages never contain the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NirError {
    /// Not 15 characters once spaces are removed.
    #[error("must have 15 characters: 13 digits and a 2-digit key")]
    Length,
    /// First character is not 1 (man) or 2 (woman).
    #[error("first character (sex) must be 1 or 2")]
    Sex,
    /// A character that must be a digit is not.
    #[error("must contain digits only, except 2A/2B for Corsica")]
    NotDigits,
    /// Month outside 01–12, 20–42, 50.
    #[error("month of birth must be 01-12, 20-42 or 50")]
    Month,
    /// Department or commune not possible.
    #[error("place of birth is not a valid department and commune")]
    Place,
    /// Serial 000.
    #[error("serial number cannot be 000")]
    Serial,
    /// Key does not match.
    #[error("control key does not match the number")]
    Key,
}

/// A syntactically valid NIR with a correct key, stored as 15 upper-case characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Nir(String);

impl fmt::Debug for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nir(<redacted>)")
    }
}

/// Computes the control key of the first 13 characters (already checked to be digits,
/// or `2A`/`2B` at positions 5–6).
pub fn nir_key(first13: &str) -> Option<u8> {
    let replaced = if first13.len() == 13 && &first13[5..7] == "2A" {
        format!("{}19{}", &first13[..5], &first13[7..])
    } else if first13.len() == 13 && &first13[5..7] == "2B" {
        format!("{}18{}", &first13[..5], &first13[7..])
    } else {
        first13.to_string()
    };
    let n: u64 = replaced.parse().ok()?;
    Some((97 - (n % 97)) as u8)
}

impl Nir {
    /// Parses a NIR, ignoring spaces; letters of `2A`/`2B` may be lower case.
    pub fn parse(input: &str) -> Result<Nir, NirError> {
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if s.chars().count() != 15 || !s.is_ascii() {
            return Err(NirError::Length);
        }
        let b = s.as_bytes();
        let corsica = &s[5..7] == "2A" || &s[5..7] == "2B";
        for (i, c) in b.iter().enumerate() {
            let letter_allowed = corsica && (i == 6);
            if !(c.is_ascii_digit() || letter_allowed) {
                return Err(NirError::NotDigits);
            }
        }
        if b[0] != b'1' && b[0] != b'2' {
            return Err(NirError::Sex);
        }
        let month: u8 = s[3..5].parse().map_err(|_| NirError::NotDigits)?;
        if !((1..=12).contains(&month) || (20..=42).contains(&month) || month == 50) {
            return Err(NirError::Month);
        }
        let dept = &s[5..7];
        let place_ok = if corsica {
            &s[7..10] != "000"
        } else {
            match dept {
                "00" => false,
                // Overseas: 3-digit department 971–978, 2-digit commune.
                "97" => (b'1'..=b'8').contains(&b[7]) && &s[8..10] != "00",
                // Born abroad: 99 and a 3-digit country code.
                "99" => &s[7..10] != "000",
                _ => &s[7..10] != "000",
            }
        };
        if !place_ok {
            return Err(NirError::Place);
        }
        if &s[10..13] == "000" {
            return Err(NirError::Serial);
        }
        let key: u8 = s[13..15].parse().map_err(|_| NirError::NotDigits)?;
        if nir_key(&s[..13]) != Some(key) {
            return Err(NirError::Key);
        }
        Ok(Nir(s))
    }

    /// The 15 characters, no spaces (the normalised form used for blind indexes).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 1 for a man, 2 for a woman.
    pub fn sex_digit(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }

    /// Two-digit year of birth.
    pub fn year2(&self) -> u32 {
        self.0[1..3].parse().unwrap_or(0)
    }

    /// Month of birth as written (01–12, or 20–42/50 for incomplete civil records).
    pub fn month(&self) -> u32 {
        self.0[3..5].parse().unwrap_or(0)
    }

    /// Masked form showing only the key: `*************33`.
    pub fn masked(&self) -> String {
        format!("{}{}", "*".repeat(13), &self.0[13..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_interface_example() {
        let n = Nir::parse("2060475113042 33").unwrap();
        assert_eq!(n.as_str(), "206047511304233");
        assert_eq!(n.sex_digit(), 2);
        assert_eq!(n.year2(), 6);
        assert_eq!(n.month(), 4);
        assert_eq!(n.masked(), "*************33");
    }

    #[test]
    fn corsica_keys() {
        // 2A read as 19, 2B as 18.
        let base_a = "185072A004012";
        let k = nir_key(base_a).unwrap();
        assert_eq!(k as u64, 97 - (1850719004012u64 % 97));
        assert!(Nir::parse(&format!("{base_a}{k:02}")).is_ok());
        let base_b = "185072B004012";
        let kb = nir_key(base_b).unwrap();
        assert_eq!(kb as u64, 97 - (1850718004012u64 % 97));
        assert!(Nir::parse(&format!("{}{kb:02}", base_b.to_lowercase())).is_ok());
    }

    #[test]
    fn refusals_name_the_reason() {
        assert_eq!(Nir::parse("2060475113042"), Err(NirError::Length));
        assert_eq!(Nir::parse("3060475113042 33"), Err(NirError::Sex));
        assert_eq!(Nir::parse("2061375113042 33"), Err(NirError::Month));
        assert_eq!(Nir::parse("2060475113042 34"), Err(NirError::Key));
        assert_eq!(Nir::parse("20604751130X2 33"), Err(NirError::NotDigits));
        assert_eq!(Nir::parse("2060400113042 33"), Err(NirError::Place));
    }

    #[test]
    fn debug_shows_nothing() {
        let n = Nir::parse("2060475113042 33").unwrap();
        assert_eq!(format!("{n:?}"), "Nir(<redacted>)");
    }

    fn valid_first13() -> impl Strategy<Value = String> {
        (
            1u8..=2,
            0u8..=99,
            prop_oneof![1u8..=12, 20u8..=42, Just(50u8)],
            prop_oneof![
                (1u8..=95)
                    .prop_filter("not 20", |d| *d != 20)
                    .prop_map(|d| format!("{d:02}")),
                Just("2A".to_string()),
                Just("2B".to_string())
            ],
            1u16..=999,
            1u16..=999,
        )
            .prop_map(|(s, y, m, d, c, n)| format!("{s}{y:02}{m:02}{d}{c:03}{n:03}"))
    }

    proptest! {
        #[test]
        fn every_well_formed_nir_with_its_key_parses(first in valid_first13(), spaces in any::<bool>()) {
            let key = nir_key(&first).unwrap();
            let text = if spaces { format!("{} {} {} {} {} {} {key:02}", &first[0..1], &first[1..3], &first[3..5], &first[5..7], &first[7..10], &first[10..13]) } else { format!("{first}{key:02}") };
            let nir = Nir::parse(&text).unwrap();
            prop_assert_eq!(nir.as_str(), format!("{first}{key:02}"));
        }

        #[test]
        fn any_wrong_key_is_refused(first in valid_first13(), delta in 1u8..97) {
            let key = nir_key(&first).unwrap();
            let wrong = (key - 1 + delta) % 97 + 1;
            prop_assert_eq!(Nir::parse(&format!("{first}{wrong:02}")), Err(NirError::Key));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Nir::parse(&s);
        }

        #[test]
        fn a_changed_digit_is_detected(first in valid_first13(), pos in 0usize..13, d in 0u8..10) {
            let key = nir_key(&first).unwrap();
            let mut bytes = first.clone().into_bytes();
            prop_assume!(bytes[pos].is_ascii_digit() && bytes[pos] != b'0' + d);
            bytes[pos] = b'0' + d;
            let changed = String::from_utf8(bytes).unwrap();
            // Either refused for its structure or for its key: never accepted with the old key.
            let candidate = format!("{changed}{key:02}");
            prop_assert!(Nir::parse(&candidate).is_err());
        }
    }
}
