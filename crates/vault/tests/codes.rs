//! Verification codes, against a real SQLite store: a code verifies only if this installation
//! issued and stored it, and says nothing but its day and agency.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use rempart_crypto::{CodeSerial, Keyring, VerificationCode};
use rempart_domain::{Agency, FranceTravailPattern};
use rempart_store::{CodeRecord, CodeStore};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore, VAULT_FILE};
use rempart_vault::{FixedClock, Recipient, Vault, VaultError, VerifiedCode};
use std::path::Path;
use std::sync::Arc;

const NOW: i64 = 1_772_445_600; // 2026-03-02

struct Install {
    dir: tempfile::TempDir,
    vault: Vault,
    /// The installation's keyring, as the vault holds it (loaded from the same key file).
    ring: Keyring,
    store: Arc<SqliteStore>,
}

fn install() -> Install {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    Keyring::generate().create_file(&key, None).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let store = Arc::new(SqliteStore::open(&data).unwrap());
    let vault = Vault::new(
        store.clone(),
        Arc::new(SqliteKeyStore::open(&data).unwrap()),
        Arc::new(Keyring::load(&key, None).unwrap()),
        Arc::new(FixedClock::at(NOW)),
        FranceTravailPattern::default(),
        Arc::new(rempart_policy::Policies::default_policies().unwrap()),
    );
    Install {
        ring: Keyring::load(&key, None).unwrap(),
        dir,
        vault,
        store,
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn agency(s: &str) -> Agency {
    Agency::parse(s).unwrap()
}

fn lea() -> Recipient {
    Recipient::parse("lea.martin@example.fr").unwrap()
}

#[test]
fn an_issued_code_verifies_once_stored_with_its_day_and_agency_only() {
    let i = install();
    let v = &i.vault;
    let issued = v.issue_code(&lea(), &agency("ML-075-13"), day("2026-03-02"), "msg_1");
    let text = issued.code.to_string();
    assert_eq!(text.len(), 14, "{text}");
    // Issued, not stored: it does not verify yet.
    assert_eq!(v.verify_code(&text).unwrap(), None);
    i.store
        .insert_codes(std::slice::from_ref(&issued.record))
        .unwrap();
    let genuine = Some(VerifiedCode {
        sent_on: day("2026-03-02"),
        agency: "ML-075-13".into(),
    });
    for typed in [
        text.clone(),
        text.to_lowercase(),
        text.replace('-', ""),
        text.replace('-', " "),
        text.replace('0', "O").replace('1', "l"),
    ] {
        assert_eq!(v.verify_code(&typed).unwrap(), genuine, "{typed}");
    }
    // Stored directly: the same.
    let phone = Recipient::parse("06 12 34 56 78").unwrap();
    let code = v
        .issue_and_store_code(&phone, &agency("ML-093-01"), day("2026-02-27"), "")
        .unwrap();
    assert_eq!(
        v.verify_parsed_code(&code).unwrap(),
        Some(VerifiedCode {
            sent_on: day("2026-02-27"),
            agency: "ML-093-01".into(),
        })
    );
    // Two codes for the same message's recipient, day and agency differ (their serials).
    let again = v.issue_code(&lea(), &agency("ML-075-13"), day("2026-03-02"), "msg_1");
    assert_ne!(again.code, issued.code);
    assert_eq!(issued.record.created_at, NOW);
    assert_eq!(issued.record.message_id, "msg_1");
}

#[test]
fn an_altered_or_malformed_code_does_not_verify() {
    let i = install();
    let code = i
        .vault
        .issue_and_store_code(&lea(), &agency("ML-075-13"), day("2026-03-02"), "")
        .unwrap()
        .compact();
    for at in 0..code.len() {
        let mut altered: Vec<char> = code.chars().collect();
        altered[at] = if altered[at] == 'Z' { 'Y' } else { 'Z' };
        let altered: String = altered.into_iter().collect();
        assert_eq!(i.vault.verify_code(&altered).unwrap(), None, "{at}");
    }
    for bad in ["", "1234", "U".repeat(12).as_str(), &format!("{code}X")] {
        assert!(
            matches!(i.vault.verify_code(bad), Err(VaultError::MalformedCode(_))),
            "{bad}"
        );
    }
}

#[test]
fn a_row_written_without_the_key_does_not_verify() {
    let i = install();
    let key = i.ring.verify();
    // The strongest forger short of the key: the row is written through the store under the
    // very lookup of the code it wants accepted (as if copied from a genuine row whose code it
    // knows), with a serial, recipient, day and agency of its choosing.
    let wanted = VerificationCode::parse("7H3K-9QRM-2XWD").unwrap();
    let forged = CodeRecord {
        lookup: key.lookup(&wanted).to_vec(),
        serial: CodeSerial::random().as_bytes().to_vec(),
        recipient: key
            .recipient_hash("email", "lea.martin@example.fr")
            .to_vec(),
        sent_on: "2026-03-02".into(),
        agency: "ML-075-13".into(),
        message_id: String::new(),
        created_at: NOW,
    };
    i.store.insert_codes(&[forged]).unwrap();
    assert_eq!(i.store.codes(&key.lookup(&wanted)).unwrap().len(), 1);
    assert_eq!(i.vault.verify_parsed_code(&wanted).unwrap(), None);

    // A genuine row moved to another agency or day, or to another recipient's serial.
    let issued = i
        .vault
        .issue_code(&lea(), &agency("ML-075-13"), day("2026-03-02"), "");
    let altered = [
        CodeRecord {
            agency: "ML-093-01".into(),
            ..issued.record.clone()
        },
        CodeRecord {
            sent_on: "2026-03-03".into(),
            ..issued.record.clone()
        },
        CodeRecord {
            serial: CodeSerial::random().as_bytes().to_vec(),
            ..issued.record.clone()
        },
        CodeRecord {
            recipient: key.recipient_hash("phone", "+33612345678").to_vec(),
            ..issued.record.clone()
        },
    ];
    i.store.insert_codes(&altered).unwrap();
    assert_eq!(i.store.codes(&issued.record.lookup).unwrap().len(), 4);
    assert_eq!(i.vault.verify_parsed_code(&issued.code).unwrap(), None);

    // A code of another installation, with its row, does not verify here.
    let other = install();
    let theirs = other
        .vault
        .issue_code(&lea(), &agency("ML-075-13"), day("2026-03-02"), "");
    i.store
        .insert_codes(std::slice::from_ref(&theirs.record))
        .unwrap();
    assert_eq!(i.vault.verify_parsed_code(&theirs.code).unwrap(), None);

    // Beside the forgeries, the genuine row still verifies.
    i.store
        .insert_codes(std::slice::from_ref(&issued.record))
        .unwrap();
    assert_eq!(
        i.vault.verify_parsed_code(&issued.code).unwrap(),
        Some(VerifiedCode {
            sent_on: day("2026-03-02"),
            agency: "ML-075-13".into(),
        })
    );
}

#[test]
fn no_contact_or_code_is_stored_in_clear() {
    let i = install();
    let mut codes = vec![];
    for (n, contact) in ["lea.martin@example.fr", "+33612345678"].iter().enumerate() {
        let code = i
            .vault
            .issue_and_store_code(
                &Recipient::parse(contact).unwrap(),
                &agency("ML-075-13"),
                day("2026-03-02"),
                &format!("msg_{n}"),
            )
            .unwrap();
        codes.push(code.compact());
    }
    i.store.checkpoint().unwrap();
    let bytes = std::fs::read(Path::new(i.dir.path()).join("data").join(VAULT_FILE)).unwrap();
    let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(holds(b"ML-075-13"), "the scan reads the rows");
    for needle in [
        "lea.martin",
        "example.fr",
        "612345678",
        &codes[0],
        &codes[1],
    ] {
        assert!(!holds(needle.as_bytes()), "{needle} stored in clear");
    }
}
