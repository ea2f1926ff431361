//! The tags binding the facts authorisation relies on to a key from the key file: a file's
//! agency, assigned counsellor and enrolments; a token's principal, role, agency, expiry and
//! state; a principal's suspension. A row written by someone who can write the database but
//! holds no key does not verify, and is treated as absent (an integrity alert is recorded).
//!
//! The person's minor status is not stored: it is read from the sealed birth date, which is
//! already bound to the person by its ciphertext's associated data.

use rempart_crypto::{FactsKey, FactsKind, FactsTag};
use rempart_store::{AccountRecord, AccountRequest, PrincipalRecord, StoredPerson, TokenRecord};

fn counsellor_parts(counsellor: Option<&str>) -> [&[u8]; 2] {
    match counsellor {
        Some(c) => [b"1", c.as_bytes()],
        None => [b"0", b""],
    }
}

fn file_parts<'a>(
    id: &'a str,
    agency: &'a str,
    counsellor: Option<&'a str>,
    partners: &'a [String],
) -> Vec<&'a [u8]> {
    let mut parts: Vec<&[u8]> = vec![id.as_bytes(), agency.as_bytes()];
    parts.extend(counsellor_parts(counsellor));
    // Enrolments in their stored order (sorted), each a part of its own.
    parts.extend(partners.iter().map(|p| p.as_bytes()));
    parts
}

/// The tag of a file's access facts.
pub(crate) fn file_tag(
    key: &FactsKey,
    id: &str,
    agency: &str,
    counsellor: Option<&str>,
    partners: &[String],
) -> FactsTag {
    key.tag(
        FactsKind::File,
        &file_parts(id, agency, counsellor, partners),
    )
}

/// Whether a stored file's access facts are those its tag was made for.
pub(crate) fn file_verifies(key: &FactsKey, p: &StoredPerson) -> bool {
    p.facts_tag.as_deref().is_some_and(|tag| {
        key.verify(
            FactsKind::File,
            &file_parts(&p.id, &p.agency, p.counsellor.as_deref(), &p.partners),
            tag,
        )
    })
}

fn token_parts(t: &TokenRecord) -> ([u8; 8], [u8; 8], [u8; 1], [u8; 9]) {
    let mut revoked = [0u8; 9];
    if let Some(at) = t.revoked_at {
        revoked[0] = 1;
        revoked[1..].copy_from_slice(&at.to_be_bytes());
    }
    (
        t.created_at.to_be_bytes(),
        t.expires_at.to_be_bytes(),
        [u8::from(t.suspended)],
        revoked,
    )
}

fn with_token_parts<R>(t: &TokenRecord, f: impl FnOnce(&[&[u8]]) -> R) -> R {
    let (created, expires, suspended, revoked) = token_parts(t);
    let mut parts: Vec<&[u8]> = vec![
        t.id.as_bytes(),
        &t.hash,
        t.principal.as_bytes(),
        t.role.as_bytes(),
        t.agency.as_bytes(),
        &created,
        &expires,
        &suspended,
        &revoked,
    ];
    // A token without bounds is tagged as before bounds existed.
    if !t.bounds.is_empty() {
        parts.push(t.bounds.as_bytes());
    }
    f(&parts)
}

/// The tag of a token's row (every field but the tag).
pub(crate) fn token_tag(key: &FactsKey, t: &TokenRecord) -> FactsTag {
    with_token_parts(t, |parts| key.tag(FactsKind::Token, parts))
}

/// Whether a stored token is one Rempart made, in the state Rempart last put it.
pub(crate) fn token_verifies(key: &FactsKey, t: &TokenRecord) -> bool {
    t.tag
        .as_deref()
        .is_some_and(|tag| with_token_parts(t, |parts| key.verify(FactsKind::Token, parts, tag)))
}

fn principal_parts(p: &PrincipalRecord) -> ([u8; 1], [u8; 8]) {
    ([u8::from(p.suspended)], p.since.to_be_bytes())
}

/// The tag of a principal's suspension record.
pub(crate) fn principal_tag(key: &FactsKey, p: &PrincipalRecord) -> FactsTag {
    let (s, since) = principal_parts(p);
    key.tag(FactsKind::Principal, &[p.name.as_bytes(), &s, &since])
}

/// Whether a principal's suspension record is one Rempart wrote.
pub(crate) fn principal_verifies(key: &FactsKey, p: &PrincipalRecord) -> bool {
    let (s, since) = principal_parts(p);
    p.tag
        .as_deref()
        .is_some_and(|tag| key.verify(FactsKind::Principal, &[p.name.as_bytes(), &s, &since], tag))
}

fn with_account_parts<R>(a: &AccountRecord, f: impl FnOnce(&[&[u8]]) -> R) -> R {
    let subject = match &a.subject {
        Some(s) => format!("1{s}"),
        None => "0".to_string(),
    };
    f(&[
        a.name.as_bytes(),
        a.agency.as_bytes(),
        a.role.as_bytes(),
        &[u8::from(a.disabled)],
        a.created_by.as_bytes(),
        &a.created_at.to_be_bytes(),
        a.approved_by.as_bytes(),
        &a.approved_at.to_be_bytes(),
        subject.as_bytes(),
    ])
}

/// The tag of an account.
pub(crate) fn account_tag(key: &FactsKey, a: &AccountRecord) -> FactsTag {
    with_account_parts(a, |parts| key.tag(FactsKind::Account, parts))
}

/// Whether an account is one Rempart wrote, as it last wrote it.
pub(crate) fn account_verifies(key: &FactsKey, a: &AccountRecord) -> bool {
    a.tag.as_deref().is_some_and(|tag| {
        with_account_parts(a, |parts| key.verify(FactsKind::Account, parts, tag))
    })
}

fn with_request_parts<R>(q: &AccountRequest, f: impl FnOnce(&[&[u8]]) -> R) -> R {
    let decided = match (&q.decided_by, q.decided_at, q.approved) {
        (Some(by), Some(at), Some(ok)) => format!("{by} {at} {ok}"),
        _ => String::new(),
    };
    f(&[
        q.id.as_bytes(),
        q.kind.as_bytes(),
        q.name.as_bytes(),
        q.agency.as_bytes(),
        q.role.as_bytes(),
        q.requested_by.as_bytes(),
        q.requested_from.as_bytes(),
        &q.requested_at.to_be_bytes(),
        decided.as_bytes(),
    ])
}

/// The tag of an account request.
pub(crate) fn request_tag(key: &FactsKey, q: &AccountRequest) -> FactsTag {
    with_request_parts(q, |parts| key.tag(FactsKind::AccountRequest, parts))
}

/// Whether an account request is one Rempart wrote, as it last wrote it.
pub(crate) fn request_verifies(key: &FactsKey, q: &AccountRequest) -> bool {
    q.tag.as_deref().is_some_and(|tag| {
        with_request_parts(q, |parts| key.verify(FactsKind::AccountRequest, parts, tag))
    })
}
