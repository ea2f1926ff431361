//! The compact binary form of an audit entry (format 1), the bytes stored and hashed.
//!
//! Entries are hashed whenever the log is verified, so their length is the verifier's cost: two
//! SHA-256 blocks for a leaf of up to 110 bytes of entry instead of five or six for the same
//! entry in JSON. The layout, after the format byte `0x01`:
//!
//! | field | encoding |
//! | --- | --- |
//! | time | 8 bytes, big-endian two's complement |
//! | principal, token id, agency, role | text |
//! | action | 1 byte, index in [`ACTIONS`] |
//! | persons | count (LEB128), then each as text |
//! | categories | count (LEB128), then each as text |
//! | purpose, client, request id | optional text |
//! | outcome | 1 byte: 0 allowed, 1 denied |
//! | detail | optional text |
//!
//! A text is one tag byte and what it announces: `0x00..=0x7F` a UTF-8 literal of that many
//! bytes; `0x80` a literal whose length (LEB128, at least 128) follows; `0x81..` a word of the
//! frozen dictionary [`WORDS`]; `0xC0` a lower-case hyphenated UUID as its 16 bytes; `0xC1` a
//! token id `tok_` + 16 lower-case hex digits as 8 bytes; `0xC2`/`0xC3` an IPv4/IPv6 address
//! in its standard text form as 4/16 bytes; `0xFF` an absent optional text.
//!
//! Exactly one byte string encodes an entry: the encoder always takes the most specific form,
//! and the decoder refuses bytes that do not re-encode to themselves (an over-long length, a
//! literal that should have been a word, trailing bytes). The dictionary and the tables are
//! part of format 1: changing what a code means needs a new format byte; a new action only
//! appends a code to [`ACTIONS`].

use crate::entry::{Action, AuditEntry, Outcome};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The format byte of this encoding. JSON entries of older logs begin with `{`.
pub const FORMAT_1: u8 = 0x01;

/// Actions by code, format 1. A new action takes the next code: codes are never reused or
/// reordered, so every entry ever written decodes the same way (a binary older than an action
/// refuses to decode entries that carry it, and still verifies them: verification hashes bytes).
pub const ACTIONS: [Action; 45] = [
    Action::Read,
    Action::Search,
    Action::List,
    Action::Create,
    Action::Update,
    Action::Erase,
    Action::Import,
    Action::ReadAccesses,
    Action::TokenCreate,
    Action::KeyRotate,
    Action::AuditExport,
    Action::AuditProof,
    Action::Assign,
    Action::Enrol,
    Action::Unenrol,
    Action::AuditReindex,
    Action::IntegrityAlert,
    Action::TokenRevoke,
    Action::PrincipalSuspend,
    Action::PrincipalRestore,
    Action::FactsBind,
    Action::ContainmentAlert,
    Action::Explain,
    Action::DecoyPlant,
    Action::ExportRequest,
    Action::ExportApprove,
    Action::Export,
    Action::IncidentOpen,
    Action::IncidentImpact,
    Action::IncidentDraft,
    Action::IncidentFile,
    Action::IncidentClose,
    Action::NoticePrepare,
    Action::NoticeApprove,
    Action::NoticeSend,
    Action::AffectedAsk,
    Action::LeakMatch,
    Action::PrincipalRequest,
    Action::PrincipalApprove,
    Action::PrincipalRefuse,
    Action::PrincipalDisable,
    Action::AuthFailure,
    Action::AuthLockout,
    Action::SignIn,
    Action::TokenRotate,
];

/// Words written as one byte (`0x81 + index`), format 1: roles, purposes, categories and the
/// local principal.
pub const WORDS: [&str; 24] = [
    "counsellor",
    "partner",
    "operator",
    "dpo",
    "service",
    "accompaniment",
    "partner_service",
    "payment",
    "statistics",
    "data_subject_request",
    "breach_response",
    "legal_obligation",
    "identity",
    "social_security",
    "agency_ids",
    "contact",
    "situation",
    "education",
    "professional",
    "followup",
    "legal_representatives",
    "cli",
    "-",
    "nir_last_digits",
];

const LONG: u8 = 0x80;
const WORD: u8 = 0x81;
const UUID: u8 = 0xC0;
const TOKEN: u8 = 0xC1;
const IPV4: u8 = 0xC2;
const IPV6: u8 = 0xC3;
const ABSENT: u8 = 0xFF;

/// Why bytes are not an entry of format 1. Says where, never what the bytes held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside a field.
    #[error("the entry ends inside a field")]
    Truncated,
    /// A tag, code or length that format 1 does not have.
    #[error("invalid {0} in the entry")]
    Invalid(&'static str),
    /// A field that is not valid UTF-8.
    #[error("a text of the entry is not UTF-8")]
    Utf8,
    /// Bytes after the last field.
    #[error("bytes after the end of the entry")]
    Trailing,
    /// Decodes, but is not the one encoding of what it holds.
    #[error("the entry is not in canonical form")]
    NotCanonical,
}

/// Encodes `e` in format 1.
pub fn encode(e: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.push(FORMAT_1);
    out.extend_from_slice(&e.time.to_be_bytes());
    for t in [&e.principal, &e.token_id, &e.agency, &e.role] {
        text(&mut out, t);
    }
    out.push(action_code(e.action));
    list(&mut out, &e.persons);
    list(&mut out, &e.categories);
    for t in [&e.purpose, &e.client, &e.request_id] {
        optional(&mut out, t.as_deref());
    }
    out.push(match e.outcome {
        Outcome::Allowed => 0,
        Outcome::Denied => 1,
    });
    optional(&mut out, e.detail.as_deref());
    out
}

/// Decodes bytes of format 1 (format byte included), refusing any other encoding.
pub fn decode(bytes: &[u8]) -> Result<AuditEntry, DecodeError> {
    let mut r = Reader { b: bytes };
    if r.byte()? != FORMAT_1 {
        return Err(DecodeError::Invalid("format"));
    }
    let time = i64::from_be_bytes(r.array::<8>()?);
    let principal = r.text()?;
    let token_id = r.text()?;
    let agency = r.text()?;
    let role = r.text()?;
    let action = *ACTIONS
        .get(usize::from(r.byte()?))
        .ok_or(DecodeError::Invalid("action"))?;
    let persons = r.list()?;
    let categories = r.list()?;
    let purpose = r.optional()?;
    let client = r.optional()?;
    let request_id = r.optional()?;
    let outcome = match r.byte()? {
        0 => Outcome::Allowed,
        1 => Outcome::Denied,
        _ => return Err(DecodeError::Invalid("outcome")),
    };
    let detail = r.optional()?;
    if !r.b.is_empty() {
        return Err(DecodeError::Trailing);
    }
    let e = AuditEntry {
        time,
        principal,
        token_id,
        agency,
        role,
        action,
        persons,
        categories,
        purpose,
        client,
        request_id,
        outcome,
        detail,
    };
    if encode(&e) != bytes {
        return Err(DecodeError::NotCanonical);
    }
    Ok(e)
}

/// The persons of an entry of format 1, skipping the fields before them without decoding them
/// and ignoring the fields after them (the canonical form is not checked: see [`decode`]).
pub fn persons_of(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut r = Reader { b: bytes };
    if r.byte()? != FORMAT_1 {
        return Err(DecodeError::Invalid("format"));
    }
    r.take(8)?;
    for _ in 0..4 {
        r.skip_text()?;
    }
    r.byte()?;
    r.list()
}

/// The index keys of an entry of format 1 (its persons, and its principal on its day: see
/// [`crate::AuditEntry::index_keys`]), decoding only the fields they need.
pub fn index_keys_of(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut r = Reader { b: bytes };
    if r.byte()? != FORMAT_1 {
        return Err(DecodeError::Invalid("format"));
    }
    let time = r
        .take(8)?
        .try_into()
        .map(i64::from_be_bytes)
        .map_err(|_| DecodeError::Invalid("time"))?;
    let principal = r.text()?;
    for _ in 0..3 {
        r.skip_text()?;
    }
    r.byte()?;
    let mut keys = r.list()?;
    keys.push(crate::entry::principal_day_key(&principal, time));
    Ok(keys)
}

/// The time of an entry of format 1, read without decoding the rest.
pub fn time_of(bytes: &[u8]) -> Option<i64> {
    match bytes {
        [FORMAT_1, rest @ ..] => rest
            .get(..8)
            .and_then(|t| t.try_into().ok())
            .map(i64::from_be_bytes),
        _ => None,
    }
}

/// The code of `a`: its index in [`ACTIONS`]. A `match`, so that a new action does not compile
/// until it has a code (a test checks the two agree).
fn action_code(a: Action) -> u8 {
    match a {
        Action::Read => 0,
        Action::Search => 1,
        Action::List => 2,
        Action::Create => 3,
        Action::Update => 4,
        Action::Erase => 5,
        Action::Import => 6,
        Action::ReadAccesses => 7,
        Action::TokenCreate => 8,
        Action::KeyRotate => 9,
        Action::AuditExport => 10,
        Action::AuditProof => 11,
        Action::Assign => 12,
        Action::Enrol => 13,
        Action::Unenrol => 14,
        Action::AuditReindex => 15,
        Action::IntegrityAlert => 16,
        Action::TokenRevoke => 17,
        Action::PrincipalSuspend => 18,
        Action::PrincipalRestore => 19,
        Action::FactsBind => 20,
        Action::ContainmentAlert => 21,
        Action::Explain => 22,
        Action::DecoyPlant => 23,
        Action::ExportRequest => 24,
        Action::ExportApprove => 25,
        Action::Export => 26,
        Action::IncidentOpen => 27,
        Action::IncidentImpact => 28,
        Action::IncidentDraft => 29,
        Action::IncidentFile => 30,
        Action::IncidentClose => 31,
        Action::NoticePrepare => 32,
        Action::NoticeApprove => 33,
        Action::NoticeSend => 34,
        Action::AffectedAsk => 35,
        Action::LeakMatch => 36,
        Action::PrincipalRequest => 37,
        Action::PrincipalApprove => 38,
        Action::PrincipalRefuse => 39,
        Action::PrincipalDisable => 40,
        Action::AuthFailure => 41,
        Action::AuthLockout => 42,
        Action::SignIn => 43,
        Action::TokenRotate => 44,
    }
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let low = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn list(out: &mut Vec<u8>, items: &[String]) {
    leb128(out, items.len() as u64);
    for i in items {
        text(out, i);
    }
}

fn optional(out: &mut Vec<u8>, t: Option<&str>) {
    match t {
        Some(t) => text(out, t),
        None => out.push(ABSENT),
    }
}

fn text(out: &mut Vec<u8>, t: &str) {
    if let Some(i) = WORDS.iter().position(|w| *w == t) {
        out.push(WORD + i as u8);
    } else if let Some(u) = uuid_bytes(t) {
        out.push(UUID);
        out.extend_from_slice(&u);
    } else if let Some(k) = token_bytes(t) {
        out.push(TOKEN);
        out.extend_from_slice(&k);
    } else if let Some(a) = t.parse::<Ipv4Addr>().ok().filter(|a| a.to_string() == t) {
        out.push(IPV4);
        out.extend_from_slice(&a.octets());
    } else if let Some(a) = t.parse::<Ipv6Addr>().ok().filter(|a| a.to_string() == t) {
        out.push(IPV6);
        out.extend_from_slice(&a.octets());
    } else if t.len() < usize::from(LONG) {
        out.push(t.len() as u8);
        out.extend_from_slice(t.as_bytes());
    } else {
        out.push(LONG);
        leb128(out, t.len() as u64);
        out.extend_from_slice(t.as_bytes());
    }
}

/// The 16 bytes of a UUID in its lower-case hyphenated form (8-4-4-4-12), and only that form.
fn uuid_bytes(t: &str) -> Option<[u8; 16]> {
    let b = t.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let digits: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
    lower_hex::<16>(&digits)
}

fn uuid_text(u: &[u8; 16]) -> String {
    let h = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The 8 bytes of a token id `tok_` + 16 lower-case hex digits.
fn token_bytes(t: &str) -> Option<[u8; 8]> {
    t.strip_prefix("tok_")
        .and_then(|h| lower_hex::<8>(h.as_bytes()))
}

fn lower_hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N
        || !digits
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| DecodeError::Truncated)
    }

    fn leb128(&mut self) -> Result<u64, DecodeError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7F);
            if shift == 63 && part > 1 {
                return Err(DecodeError::Invalid("length"));
            }
            n |= part << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(DecodeError::Invalid("length"))
    }

    /// A length that the remaining bytes can hold (each item takes at least one byte).
    fn length(&mut self) -> Result<usize, DecodeError> {
        let n = self.leb128()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len())
            .ok_or(DecodeError::Truncated)
    }

    fn utf8(&mut self, n: usize) -> Result<String, DecodeError> {
        std::str::from_utf8(self.take(n)?)
            .map(str::to_string)
            .map_err(|_| DecodeError::Utf8)
    }

    fn tagged(&mut self, tag: u8) -> Result<String, DecodeError> {
        Ok(match tag {
            0..LONG => self.utf8(usize::from(tag))?,
            LONG => {
                let n = self.length()?;
                self.utf8(n)?
            }
            UUID => uuid_text(&self.array::<16>()?),
            TOKEN => format!("tok_{}", hex::encode(self.array::<8>()?)),
            IPV4 => Ipv4Addr::from(self.array::<4>()?).to_string(),
            IPV6 => Ipv6Addr::from(self.array::<16>()?).to_string(),
            t => WORDS
                .get(usize::from(t.wrapping_sub(WORD)))
                .filter(|_| t >= WORD)
                .ok_or(DecodeError::Invalid("text tag"))?
                .to_string(),
        })
    }

    /// Passes over a text without building it.
    fn skip_text(&mut self) -> Result<(), DecodeError> {
        let n = match self.byte()? {
            t @ 0..LONG => usize::from(t),
            LONG => self.length()?,
            UUID | IPV6 => 16,
            TOKEN => 8,
            IPV4 => 4,
            t if t >= WORD && usize::from(t - WORD) < WORDS.len() => 0,
            _ => return Err(DecodeError::Invalid("text tag")),
        };
        self.take(n).map(|_| ())
    }

    fn text(&mut self) -> Result<String, DecodeError> {
        let tag = self.byte()?;
        self.tagged(tag)
    }

    fn optional(&mut self) -> Result<Option<String>, DecodeError> {
        match self.byte()? {
            ABSENT => Ok(None),
            tag => self.tagged(tag).map(Some),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, DecodeError> {
        let n = self.length()?;
        (0..n).map(|_| self.text()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_entry() -> AuditEntry {
        AuditEntry {
            time: 1_795_000_000,
            principal: "c.durand".into(),
            token_id: "tok_0123456789abcdef".into(),
            agency: "ML-75-01".into(),
            role: "counsellor".into(),
            action: Action::Read,
            persons: vec!["0000c350-0000-4000-8000-000000000001".into()],
            categories: vec!["identity".into(), "contact".into()],
            purpose: Some("accompaniment".into()),
            client: Some("127.0.0.1".into()),
            request_id: Some("6f1c2d9e-8a4b-4c3d-9e2f-0a1b2c3d4e5f".into()),
            outcome: Outcome::Allowed,
            detail: None,
        }
    }

    #[test]
    fn a_read_fits_in_two_hash_blocks_and_round_trips() {
        let e = read_entry();
        let b = encode(&e);
        // 0x00, the 8-byte position, the entry and SHA-256's 9 bytes of padding: two blocks.
        assert!(1 + 8 + b.len() + 9 <= 128, "{} bytes", b.len());
        assert_eq!(decode(&b).unwrap(), e);
        assert_eq!(time_of(&b), Some(e.time));
        // Every byte matters: any single change is refused or decodes to another entry.
        for i in 0..b.len() {
            let mut m = b.clone();
            m[i] ^= 0x01;
            assert_ne!(decode(&m).ok(), Some(e.clone()), "byte {i}");
        }
    }

    #[test]
    fn the_format_is_frozen() {
        // Changing a table changes what stored entries mean: it needs a new format byte. Only
        // appending an action is allowed (the length below moves; the codes before it do not).
        let b = encode(&read_entry());
        assert_eq!(
            hex::encode(&b),
            "01000000006afd86c008632e647572616e64c10123456789abcdef084d4c2d37352d30318100\
             01c00000c350000040008000000000000001028d9086c27f000001c06f1c2d9e8a4b4c3d9e2f0a1b\
             2c3d4e5f00ff"
        );
        assert_eq!(WORDS.len(), 24);
        // Every action's code, by its name in JSON: appending is the only change allowed.
        let names: Vec<String> = ACTIONS
            .iter()
            .map(|a| serde_json::to_string(a).unwrap_or_default())
            .collect();
        assert_eq!(
            names.join(","),
            "\"read\",\"search\",\"list\",\"create\",\"update\",\"erase\",\"import\",\
             \"read_accesses\",\"token_create\",\"key_rotate\",\"audit_export\",\"audit_proof\",\
             \"assign\",\"enrol\",\"unenrol\",\"audit_reindex\",\"integrity_alert\",\
             \"token_revoke\",\"principal_suspend\",\"principal_restore\",\"facts_bind\",\
             \"containment_alert\",\"explain\",\"decoy_plant\",\"export_request\",\"export_approve\",\"export\",\"incident_open\",\"incident_impact\",\
             \"incident_draft\",\"incident_file\",\"incident_close\",\"notice_prepare\",\
             \"notice_approve\",\"notice_send\",\"affected_ask\",\"leak_match\",\
             \"principal_request\",\"principal_approve\",\"principal_refuse\",\
             \"principal_disable\",\"auth_failure\",\"auth_lockout\",\"sign_in\",\
             \"token_rotate\""
        );
    }

    #[test]
    fn every_action_has_a_code() {
        for a in ACTIONS {
            assert_eq!(ACTIONS[usize::from(action_code(a))], a);
        }
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        let e = read_entry();
        let b = encode(&e);
        // Trailing byte.
        let mut t = b.clone();
        t.push(0);
        assert_eq!(decode(&t), Err(DecodeError::Trailing));
        // A dictionary word written as a literal.
        let mut lit = AuditEntry {
            role: "x".into(),
            ..e.clone()
        };
        let mut bytes = encode(&lit);
        let at = bytes.windows(2).position(|w| w == [1, b'x']).unwrap();
        bytes.splice(at..at + 2, [3, b'd', b'p', b'o']);
        assert_eq!(decode(&bytes), Err(DecodeError::NotCanonical));
        // An over-long length.
        lit.detail = Some("a".repeat(200));
        let long = encode(&lit);
        let n = long.len();
        let mut over = long[..n - 200 - 2].to_vec();
        over.extend_from_slice(&[0xC8, 0x81, 0x00]);
        over.extend_from_slice(&long[n - 200..]);
        assert_eq!(decode(&over), Err(DecodeError::NotCanonical));
        assert_eq!(decode(&long).unwrap(), lit);
        // Truncated anywhere.
        for i in 0..b.len() {
            assert!(decode(&b[..i]).is_err());
        }
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z._-]{0,12}",
            proptest::sample::select(WORDS.to_vec()).prop_map(String::from),
            any::<[u8; 16]>().prop_map(|u| uuid_text(&u)),
            any::<[u8; 16]>().prop_map(|u| uuid_text(&u).to_uppercase()),
            any::<[u8; 8]>().prop_map(|k| format!("tok_{}", hex::encode(k))),
            any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_string()),
            any::<[u8; 16]>().prop_map(|a| Ipv6Addr::from(a).to_string()),
            "[0-9a-f]{120,300}",
        ]
    }

    prop_compose! {
        fn any_entry()(
            time in any::<i64>(),
            principal in any_text(), token_id in any_text(), agency in any_text(),
            role in any_text(), action in proptest::sample::select(ACTIONS.to_vec()),
            persons in proptest::collection::vec(any_text(), 0..4),
            categories in proptest::collection::vec(any_text(), 0..4),
            purpose in proptest::option::of(any_text()),
            client in proptest::option::of(any_text()),
            request_id in proptest::option::of(any_text()),
            denied in any::<bool>(),
            detail in proptest::option::of(any_text()),
        ) -> AuditEntry {
            AuditEntry {
                time, principal, token_id, agency, role, action, persons, categories, purpose,
                client, request_id,
                outcome: if denied { Outcome::Denied } else { Outcome::Allowed },
                detail,
            }
        }
    }

    proptest! {
        #[test]
        fn every_entry_round_trips(e in any_entry()) {
            let b = encode(&e);
            prop_assert_eq!(persons_of(&b), Ok(e.persons.clone()));
            prop_assert_eq!(decode(&b), Ok(e));
        }

        #[test]
        fn the_persons_alone_agree_with_the_whole_entry(
            b in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let mut b = b;
            if let Some(first) = b.first_mut() {
                *first = FORMAT_1;
            }
            let persons = persons_of(&b);
            if let Ok(e) = decode(&b) {
                prop_assert_eq!(persons, Ok(e.persons));
            }
        }

        #[test]
        fn any_bytes_decode_or_are_refused_without_panic(
            b in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let mut b = b;
            if let Some(first) = b.first_mut() {
                *first = FORMAT_1;
            }
            if let Ok(e) = decode(&b) {
                prop_assert_eq!(encode(&e), b);
            }
        }
    }
}
