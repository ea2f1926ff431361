//! Verification codes: a short code printed on every message Rempart sends (a GDPR art. 34
//! notice, a reminder), which the recipient can check to tell the message from phishing in the
//! organisation's name.
//!
//! A code is the first 60 bits of HMAC-SHA-256, under a key derived from the key file, over a
//! random serial, a keyed hash of the recipient (a normalised email address or E.164 phone), the
//! date it was sent and the sending agency; it is written as 12 characters of Crockford's base32,
//! `XXXX-XXXX-XXXX`. The row kept for a code holds no clear contact, and a row written by
//! someone without the key never verifies: the verifier recomputes the code from the row and
//! compares it in constant time with the code presented.
//!
//! ```
//! use rempart_crypto::{CodeSerial, Keyring, VerificationCode};
//! let ring = Keyring::generate();
//! let k = ring.verify();
//! let to = k.recipient_hash("email", "lea.martin@example.fr");
//! let serial = CodeSerial::random();
//! let code = k.code(&serial, &to, "2026-03-02", "ML-075-13");
//! let typed = VerificationCode::parse(&code.to_string().to_lowercase()).unwrap();
//! assert!(k.verify(&typed, serial.as_bytes(), &to, "2026-03-02", "ML-075-13"));
//! assert!(!k.verify(&typed, serial.as_bytes(), &to, "2026-03-02", "ML-093-01"));
//! ```

use crate::facts::{derive_key, framed_mac};
use hmac::Mac;
use rand::RngCore;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Crockford's base32 alphabet: digits and letters but I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters of a code, without separators.
pub const CODE_CHARS: usize = 12;

/// Longest text [`VerificationCode::parse`] reads, in characters (separators included).
pub const CODE_INPUT_MAX: usize = 64;

/// Bits of a code.
const CODE_BITS: u32 = 60;

/// Characters a person may put between the characters of a code, anywhere: the hyphen, the
/// space, and the no-break spaces a copy from a French text may bring.
const SEPARATORS: [char; 4] = ['-', ' ', '\u{a0}', '\u{202f}'];

/// Bytes of a serial.
pub const SERIAL_BYTES: usize = 16;

/// Why a text is not a verification code. Never repeats the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Longer than [`CODE_INPUT_MAX`] characters.
    #[error("a verification code is 12 characters (XXXX-XXXX-XXXX); this text is far longer")]
    TooLong,
    /// A character that is neither one of the code's alphabet nor a separator.
    #[error("a verification code holds only digits and letters other than U, with hyphens or spaces between them")]
    Character,
    /// Not 12 characters once separators are removed.
    #[error("a verification code is 12 characters (XXXX-XXXX-XXXX); this one has {0}")]
    Length(usize),
}

/// A verification code: 60 bits, written `XXXX-XXXX-XXXX` (Crockford's base32) by `Display`.
/// `Debug` does not show it: it is a message's proof of origin, not for logs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerificationCode(u64);

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(<redacted>)")
    }
}

impl fmt::Display for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars = self.chars();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                f.write_str("-")?;
            }
            fmt::Write::write_char(f, char::from(*c))?;
        }
        Ok(())
    }
}

/// The value of a character of a code as a person may type it: case ignored, O read as 0, I
/// and L as 1; `None` for U and anything outside the alphabet.
fn value_of(c: char) -> Option<u64> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|a| char::from(*a) == c)
        .map(|v| v as u64)
}

impl VerificationCode {
    /// Reads a code as a person typed it: lower or upper case, hyphens and spaces anywhere (or
    /// none), O for 0 and I or L for 1. Anything else is refused.
    pub fn parse(text: &str) -> Result<VerificationCode, CodeError> {
        // Bounded before anything is counted: the text may be a megabyte.
        if text.len() > CODE_INPUT_MAX * 4 || text.chars().count() > CODE_INPUT_MAX {
            return Err(CodeError::TooLong);
        }
        let mut value = 0u64;
        let mut n = 0usize;
        for c in text.chars().filter(|c| !SEPARATORS.contains(c)) {
            let v = value_of(c).ok_or(CodeError::Character)?;
            n += 1;
            if n <= CODE_CHARS {
                value = (value << 5) | v;
            }
        }
        if n != CODE_CHARS {
            return Err(CodeError::Length(n));
        }
        Ok(VerificationCode(value))
    }

    /// The code's 12 characters, without separators.
    fn chars(&self) -> [u8; CODE_CHARS] {
        let mut out = [0u8; CODE_CHARS];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = 5 * (CODE_CHARS - 1 - i);
            *c = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        out
    }

    /// The code's 12 characters, upper case, without separators.
    pub fn compact(&self) -> String {
        self.chars().iter().map(|c| char::from(*c)).collect()
    }
}

/// The random serial of a code, stored with it: two codes for the same recipient, day and
/// agency differ.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeSerial([u8; SERIAL_BYTES]);

impl fmt::Debug for CodeSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeSerial(<redacted>)")
    }
}

impl CodeSerial {
    /// A new serial from the operating system's generator.
    pub fn random() -> CodeSerial {
        let mut b = [0u8; SERIAL_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut b);
        CodeSerial(b)
    }

    /// The serial's bytes, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What an HMAC under the key is computed for: each use has its own label, so that a value
/// computed for one never stands for another.
#[derive(Clone, Copy)]
enum Use {
    Code,
    Recipient,
    Lookup,
}

impl Use {
    fn label(self) -> &'static [u8] {
        match self {
            Use::Code => b"code",
            Use::Recipient => b"recipient",
            Use::Lookup => b"lookup",
        }
    }
}

/// The key of verification codes, derived from the key file (HKDF-SHA-256 over the blind-index
/// key, with its own label), so that no key file needs a new entry and no row of the database
/// can stand in for it. `Debug` shows nothing.
pub struct VerifyKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyKey(<redacted>)")
    }
}

impl VerifyKey {
    /// Derives the key from a uniformly random 32-byte key of the key file.
    pub(crate) fn derive(from: &[u8; 32]) -> VerifyKey {
        VerifyKey(derive_key(from, b"rempart/verification-codes/v1"))
    }

    /// HMAC-SHA-256 of `parts` for `purpose`: domain-separated, each part length-prefixed (no
    /// two lists of parts give the same input).
    fn mac(&self, purpose: Use, parts: &[&[u8]]) -> [u8; 32] {
        framed_mac(&self.0, b"rempart/verify/v1\0", purpose.label(), parts)
            .finalize()
            .into_bytes()
            .into()
    }

    /// The keyed hash of a recipient, as stored with its codes: `kind` says what `normalised`
    /// is (`email`, lower-cased; `phone`, E.164), so that no email address and phone number
    /// hash alike.
    pub fn recipient_hash(&self, kind: &str, normalised: &str) -> [u8; 32] {
        self.mac(Use::Recipient, &[kind.as_bytes(), normalised.as_bytes()])
    }

    /// The code of `serial` sent to `recipient` (its [`VerifyKey::recipient_hash`]) on `date`
    /// (`YYYY-MM-DD`) by `agency`.
    pub fn code(
        &self,
        serial: &CodeSerial,
        recipient: &[u8],
        date: &str,
        agency: &str,
    ) -> VerificationCode {
        self.code_of(serial.as_bytes(), recipient, date, agency)
    }

    fn code_of(
        &self,
        serial: &[u8],
        recipient: &[u8],
        date: &str,
        agency: &str,
    ) -> VerificationCode {
        let tag = self.mac(
            Use::Code,
            &[serial, recipient, date.as_bytes(), agency.as_bytes()],
        );
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag[..8]);
        VerificationCode(u64::from_be_bytes(first) >> (64 - CODE_BITS))
    }

    /// Whether `code` is the code of these stored fields (compared in constant time). The
    /// fields are taken as stored, whatever their length: a row written without the key
    /// does not verify.
    pub fn verify(
        &self,
        code: &VerificationCode,
        serial: &[u8],
        recipient: &[u8],
        date: &str,
        agency: &str,
    ) -> bool {
        let expected = self.code_of(serial, recipient, date, agency);
        bool::from(expected.0.ct_eq(&code.0))
    }

    /// The key a code is looked up by in the store (its keyed hash: the stored rows do not
    /// list the codes).
    pub fn lookup(&self, code: &VerificationCode) -> [u8; 32] {
        self.mac(Use::Lookup, &[&code.0.to_be_bytes()])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn key() -> VerifyKey {
        VerifyKey::derive(&[7; 32])
    }

    #[test]
    fn a_code_binds_its_serial_recipient_date_and_agency() {
        let k = key();
        let to = k.recipient_hash("email", "lea.martin@example.fr");
        let s = CodeSerial([1; SERIAL_BYTES]);
        let code = k.code(&s, &to, "2026-03-02", "ML-075-13");
        assert!(k.verify(&code, s.as_bytes(), &to, "2026-03-02", "ML-075-13"));
        let other_to = k.recipient_hash("email", "lea.martin@example.com");
        let variants = [
            k.code(
                &CodeSerial([2; SERIAL_BYTES]),
                &to,
                "2026-03-02",
                "ML-075-13",
            ),
            k.code(&s, &other_to, "2026-03-02", "ML-075-13"),
            k.code(&s, &to, "2026-03-03", "ML-075-13"),
            k.code(&s, &to, "2026-03-02", "ML-093-01"),
            // The parts are length-prefixed: moving a character across a boundary changes it.
            k.code(&s, &to, "2026-03-0", "2ML-075-13"),
            VerifyKey::derive(&[8; 32]).code(&s, &to, "2026-03-02", "ML-075-13"),
        ];
        for v in variants {
            assert_ne!(v, code);
            assert!(!k.verify(&v, s.as_bytes(), &to, "2026-03-02", "ML-075-13"));
        }
        assert!(!k.verify(&code, s.as_bytes(), &to, "2026-03-02", "ML-093-01"));
        assert!(!k.verify(&code, &s.as_bytes()[..15], &to, "2026-03-02", "ML-075-13"));
    }

    #[test]
    fn recipients_lookups_and_codes_are_apart() {
        let k = key();
        assert_ne!(
            k.recipient_hash("email", "+33612345678"),
            k.recipient_hash("phone", "+33612345678")
        );
        let code = VerificationCode::parse("0000-0000-0001").unwrap();
        let other = VerificationCode::parse("0000-0000-0002").unwrap();
        assert_ne!(k.lookup(&code), k.lookup(&other));
        assert_ne!(k.lookup(&code), VerifyKey::derive(&[8; 32]).lookup(&code));
        assert_eq!(format!("{k:?}"), "VerifyKey(<redacted>)");
        assert_eq!(format!("{code:?}"), "VerificationCode(<redacted>)");
        assert_eq!(
            format!("{:?}", CodeSerial::random()),
            "CodeSerial(<redacted>)"
        );
        assert_ne!(CodeSerial::random(), CodeSerial::random());
    }

    #[test]
    fn a_code_is_written_in_three_groups_of_crockford_base32() {
        let code = VerificationCode((1 << 60) - 1);
        assert_eq!(code.to_string(), "ZZZZ-ZZZZ-ZZZZ");
        assert_eq!(VerificationCode(0).to_string(), "0000-0000-0000");
        let code = VerificationCode::parse("7H3K-9QRM-2XWD").unwrap();
        assert_eq!(code.to_string(), "7H3K-9QRM-2XWD");
        assert_eq!(code.compact(), "7H3K9QRM2XWD");
    }

    #[test]
    fn a_typed_code_is_read_with_its_confusables_case_and_separators() {
        let code = VerificationCode::parse("01AB-CDEF-GH1J").unwrap();
        for typed in [
            "01abcdefgh1j",
            "OIAB-CDEF-GHLJ",
            "oiab cdef ghlj",
            "  01-AB-CD-EF-GH-1J  ",
            "01AB--CDEF--GH1J",
            "01AB\u{a0}CDEF\u{202f}GH1J",
            "-01ABCDEFGH1J-",
        ] {
            assert_eq!(VerificationCode::parse(typed), Ok(code), "{typed}");
        }
        for (typed, why) in [
            ("", CodeError::Length(0)),
            ("01AB-CDEF-GH1", CodeError::Length(11)),
            ("01AB-CDEF-GH1JK", CodeError::Length(13)),
            ("01AB-CDEF-GH1U", CodeError::Character),
            ("01AB_CDEF_GH1J", CodeError::Character),
            ("01AB-CDEF-GH1\u{e9}", CodeError::Character),
            ("01AB\tCDEF-GH1J", CodeError::Character),
            ("<script>alert(1)</script>", CodeError::Character),
        ] {
            assert_eq!(VerificationCode::parse(typed), Err(why), "{typed}");
        }
        let long = "-".repeat(CODE_INPUT_MAX + 1);
        assert_eq!(VerificationCode::parse(&long), Err(CodeError::TooLong));
        let long = "\u{e9}".repeat(CODE_INPUT_MAX * 3);
        assert_eq!(VerificationCode::parse(&long), Err(CodeError::TooLong));
        // An error never repeats the text.
        let e = VerificationCode::parse("SECRETTEXTXU")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("SECRET"), "{e}");
    }

    /// A code written with separators and case chosen by `layout`, one bit per character.
    fn written(code: &VerificationCode, layout: &[u8]) -> String {
        let mut out = String::new();
        for (i, c) in code.compact().chars().enumerate() {
            let l = layout.get(i).copied().unwrap_or(0);
            out.push_str(["", " ", "-", "- ", "\u{a0}"][usize::from(l % 5)]);
            let c = match (c, l / 5 % 3) {
                ('0', 1) => 'O',
                ('1', 1) => 'I',
                ('1', 2) => 'l',
                _ => c,
            };
            if l / 15 % 2 == 1 {
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused_without_panicking(text in ".{0,80}") {
            match VerificationCode::parse(&text) {
                Ok(code) => prop_assert_eq!(VerificationCode::parse(&code.to_string()), Ok(code)),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        #[test]
        fn any_code_round_trips_through_every_way_of_writing_it(
            value in 0u64..(1 << 60),
            layout in proptest::collection::vec(any::<u8>(), 12),
        ) {
            let code = VerificationCode(value);
            prop_assert_eq!(VerificationCode::parse(&code.to_string()), Ok(code));
            prop_assert_eq!(VerificationCode::parse(&code.compact()), Ok(code));
            prop_assert_eq!(VerificationCode::parse(&code.to_string().to_lowercase()), Ok(code));
            prop_assert_eq!(VerificationCode::parse(&written(&code, &layout)), Ok(code));
        }

        #[test]
        fn a_genuine_code_with_one_character_changed_does_not_verify(at in 0usize..12, by in 1u64..32) {
            let k = key();
            let s = CodeSerial([3; SERIAL_BYTES]);
            let to = k.recipient_hash("phone", "+33612345678");
            let genuine = k.code(&s, &to, "2026-03-02", "ML-075-13");
            let changed = VerificationCode(genuine.0 ^ (by << (5 * (CODE_CHARS - 1 - at))));
            prop_assert_ne!(changed.compact(), genuine.compact());
            prop_assert!(!k.verify(&changed, s.as_bytes(), &to, "2026-03-02", "ML-075-13"));
        }
    }
}
