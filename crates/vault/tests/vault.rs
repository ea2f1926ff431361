//! Security properties of the vault service, against real SQLite stores in temporary
//! directories.
#![allow(clippy::unwrap_used)]

use rempart_crypto::Keyring;
use rempart_domain::*;
use rempart_store::{AuditIndex, AuditLog, FileStore, Reads};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore, AUDIT_FILE, KEYS_FILE, VAULT_FILE};
use rempart_vault::*;
use rempart_vault::{Checkpoint, Tamper, Verified, Witness};
use std::path::Path;
use std::sync::Arc;

const NOW: i64 = 1_795_000_000; // 2026-11-18

struct Fixture {
    dir: tempfile::TempDir,
    vault: Vault,
    clock: Arc<FixedClock>,
    store: Arc<SqliteStore>,
}

fn vault_in(dir: &Path, ring: Keyring, clock: Arc<FixedClock>) -> (Vault, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open(dir).unwrap());
    let keys = Arc::new(SqliteKeyStore::open(dir).unwrap());
    (
        Vault::new(
            store.clone(),
            keys,
            Arc::new(ring),
            clock,
            FranceTravailPattern::default(),
            Arc::new(rempart_policy::Policies::default_policies().unwrap()),
        ),
        store,
    )
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::at(NOW));
    let (vault, store) = vault_in(dir.path(), Keyring::generate(), clock.clone());
    Fixture {
        dir,
        vault,
        clock,
        store,
    }
}

fn principal(name: &str, agency: &str) -> Principal {
    as_role(name, agency, Role::Counsellor)
}

fn as_role(name: &str, agency: &str, role: Role) -> Principal {
    Principal::described(name, role, Agency::parse(agency).unwrap())
}

/// The file, in the caseload of `p`.
fn followed_by(p: &Principal, mut input: PersonInput) -> PersonInput {
    input.followup = Some(Followup {
        counsellor: Some(p.name().to_string()),
        ..Default::default()
    });
    input
}

fn file(agency: &str, last: &str, email: &str) -> PersonInput {
    PersonInput {
        agency: Some(agency.into()),
        identity: Some(Identity {
            last_name: Some(last.into()),
            first_names: Some("Léa".into()),
            birth_date: Some("2006-04-17".into()),
            sex: Some("F".into()),
            nationality: Some("FR".into()),
        }),
        nir: Some("2060475113042 33".into()),
        contact: Some(Contact {
            email: Some(email.into()),
            phones: vec!["0612345678".into()],
            address: None,
        }),
        ..Default::default()
    }
}

#[test]
fn create_read_update_and_categories_filter() {
    let f = fixture();
    let p = principal("c.durand", "ML-075-13");
    let id = f
        .vault
        .create(
            &p,
            followed_by(&p, file("ML-075-13", "Martin", "lea@example.fr")),
        )
        .unwrap();
    let v = f.vault.read(&p, &id, Purpose::Accompaniment, None).unwrap();
    assert_eq!(
        v.record.identity.as_ref().unwrap().last_name.as_deref(),
        Some("Martin")
    );
    assert_eq!(
        v.record.nir.as_deref(),
        Some("**********04233"),
        "the NIR is masked to its last digits for accompaniment"
    );
    let pay = f.vault.read(&p, &id, Purpose::Payment, None).unwrap();
    assert_eq!(pay.record.nir.as_deref(), Some("206047511304233"));
    assert!(pay.record.contact.is_none(), "payment needs no contact");
    let only = f
        .vault
        .read(&p, &id, Purpose::Accompaniment, Some(&[Category::Contact]))
        .unwrap();
    assert!(
        only.record.identity.is_none()
            && only.record.nir.is_none()
            && only.record.contact.is_some()
    );

    let patch = PersonInput {
        contact: Some(Contact {
            email: Some("new@example.fr".into()),
            phones: vec![],
            address: None,
        }),
        ..Default::default()
    };
    f.vault
        .update(&p, &id, Purpose::Accompaniment, patch)
        .unwrap();
    let old = SearchTerm::email("lea@example.fr").unwrap();
    assert!(
        f.vault
            .search(&p, Purpose::Accompaniment, &old)
            .unwrap()
            .is_empty(),
        "old index entry removed"
    );
    let new = SearchTerm::email("NEW@example.fr").unwrap();
    assert_eq!(
        f.vault.search(&p, Purpose::Accompaniment, &new).unwrap()[0].id,
        id
    );

    let bad = PersonInput {
        nir: Some("2060475113042 34".into()),
        ..Default::default()
    };
    assert!(matches!(
        f.vault.update(&p, &id, Purpose::Accompaniment, bad),
        Err(VaultError::Invalid(_))
    ));
}

#[test]
fn a_ciphertext_moved_to_another_person_or_category_does_not_decrypt() {
    let f = fixture();
    let p = principal("c", "ML-1");
    let a = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Alpha", "a@example.fr")))
        .unwrap();
    let b = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "b@example.fr")))
        .unwrap();
    let db = rusqlite::Connection::open(f.dir.path().join(VAULT_FILE)).unwrap();
    // A's identity copied onto B: B's read must fail, not show Alpha.
    db.execute(
        "UPDATE persons SET identity = (SELECT identity FROM persons WHERE id = ?1) WHERE id = ?2",
        [&a, &b],
    )
    .unwrap();
    assert!(matches!(
        f.vault.read(&p, &b, Purpose::Accompaniment, None),
        Err(VaultError::Integrity)
    ));
    // A's contact copied into A's identity column: wrong category.
    db.execute("UPDATE persons SET identity = contact WHERE id = ?1", [&a])
        .unwrap();
    assert!(matches!(
        f.vault
            .read(&p, &a, Purpose::Accompaniment, Some(&[Category::Identity])),
        Err(VaultError::Integrity)
    ));
    // Wrapped keys swapped between people: neither opens.
    let keys = rusqlite::Connection::open(f.dir.path().join(KEYS_FILE)).unwrap();
    keys.execute("UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE person_id = ?1) WHERE person_id = ?2", [&b, &a]).unwrap();
    assert!(matches!(
        f.vault
            .read(&p, &a, Purpose::Accompaniment, Some(&[Category::Contact])),
        Err(VaultError::Integrity)
    ));
}

#[test]
fn an_erased_file_is_unreadable_even_from_a_copy_of_the_store_taken_before() {
    let f = fixture();
    let p = principal("c", "ML-1");
    let id = f
        .vault
        .create(
            &p,
            followed_by(&p, file("ML-1", "Martin", "lea@example.fr")),
        )
        .unwrap();
    f.store.checkpoint().unwrap();
    let backup = std::fs::read(f.dir.path().join(VAULT_FILE)).unwrap();
    f.vault.erase(&p, &id).unwrap();
    assert!(matches!(
        f.vault.read(&p, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
    assert!(matches!(f.vault.erase(&p, &id), Err(VaultError::NotFound)));
    // Restore the file store from before the erasure: the sealed rows are back, the key is not.
    drop(f.vault);
    drop(f.store);
    std::fs::write(f.dir.path().join(VAULT_FILE), &backup).unwrap();
    let _ = std::fs::remove_file(f.dir.path().join(format!("{VAULT_FILE}-wal")));
    let (vault, store) = vault_in(f.dir.path(), Keyring::generate(), f.clock.clone());
    assert!(
        store.get_person(&id).unwrap().is_some(),
        "the restored copy holds the sealed file"
    );
    assert!(matches!(
        vault.read(&p, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
}

#[test]
fn another_agency_cannot_read_search_list_update_or_erase() {
    let f = fixture();
    let a = principal("c.a", "ML-1");
    let b = principal("c.b", "ML-2");
    let id = f
        .vault
        .create(
            &a,
            followed_by(&a, file("ML-1", "Martin", "lea@example.fr")),
        )
        .unwrap();
    assert!(matches!(
        f.vault.read(&b, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
    let term = SearchTerm::email("lea@example.fr").unwrap();
    assert!(f
        .vault
        .search(&b, Purpose::Accompaniment, &term)
        .unwrap()
        .is_empty());
    assert_eq!(
        f.vault
            .search(&a, Purpose::Accompaniment, &term)
            .unwrap()
            .len(),
        1
    );
    assert!(f
        .vault
        .list(&b, Purpose::Accompaniment, None, 50)
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        f.vault
            .list(&a, Purpose::Accompaniment, None, 50)
            .unwrap()
            .items
            .len(),
        1
    );
    let patch = PersonInput {
        nir: None,
        ml_file_number: Some("X1".into()),
        ..Default::default()
    };
    assert!(matches!(
        f.vault.update(&b, &id, Purpose::Accompaniment, patch),
        Err(VaultError::NotFound)
    ));
    assert!(matches!(f.vault.erase(&b, &id), Err(VaultError::NotFound)));
    assert!(matches!(
        f.vault
            .create(&b, followed_by(&b, file("ML-1", "X", "x@example.fr"))),
        Err(VaultError::Forbidden(_))
    ));
    assert!(f.vault.read(&a, &id, Purpose::Accompaniment, None).is_ok());
}

#[test]
fn unknown_expired_and_suspended_tokens_are_refused() {
    let f = fixture();
    let agency = Agency::parse("ML-1").unwrap();
    let (tok, rec) = f
        .vault
        .create_token(
            &Principal::local(agency.clone()),
            "c.durand",
            Role::Counsellor,
            &agency,
            3600,
        )
        .unwrap();
    let p = f.vault.authenticate(tok.reveal_once()).unwrap();
    assert_eq!(
        (p.name(), p.role(), p.agency().as_str()),
        ("c.durand", Role::Counsellor, "ML-1")
    );
    assert!(matches!(
        f.vault.authenticate("rmp_unknown"),
        Err(VaultError::Unauthenticated)
    ));
    assert!(matches!(
        f.vault.authenticate(""),
        Err(VaultError::Unauthenticated)
    ));
    f.clock.advance(3600);
    assert!(matches!(
        f.vault.authenticate(tok.reveal_once()),
        Err(VaultError::Unauthenticated)
    ));

    let (tok2, rec2) = f
        .vault
        .create_token(
            &Principal::local(agency.clone()),
            "c.x",
            Role::Partner,
            &agency,
            3600,
        )
        .unwrap();
    assert_eq!(
        f.vault
            .suspend_principal(&Principal::local(agency.clone()), "c.x")
            .unwrap(),
        1
    );
    assert!(matches!(
        f.vault.authenticate(tok2.reveal_once()),
        Err(VaultError::Suspended)
    ));
    assert_eq!(rec2.principal, "c.x");
    let db = rusqlite::Connection::open(f.dir.path().join(VAULT_FILE)).unwrap();
    // Only the hash is stored.
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE hash = ?1",
            [&rec.hash[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    let raw = std::fs::read(f.dir.path().join(format!("{VAULT_FILE}-wal"))).unwrap_or_default();
    let main = std::fs::read(f.dir.path().join(VAULT_FILE)).unwrap();
    for bytes in [raw, main] {
        // The secret (after the public id the token names) is nowhere.
        let secret = tok.reveal_once().split_once('.').map_or("", |(_, s)| s);
        assert_eq!(secret.len(), 43);
        assert!(!bytes.windows(20).any(|w| w == &secret.as_bytes()[..20]));
    }
}

#[test]
fn rotation_rewraps_every_key_and_resumes_after_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::at(NOW));
    let key_path = dir.path().join("k");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    Keyring::generate().create_file(&key_path, None).unwrap();
    let p = principal("c", "ML-1");
    let ids: Vec<String> = {
        let (v, _) = vault_in(
            &data,
            Keyring::load(&key_path, None).unwrap(),
            clock.clone(),
        );
        (0..25)
            .map(|i| {
                v.create(
                    &p,
                    followed_by(&p, file("ML-1", "Martin", &format!("l{i}@example.fr"))),
                )
                .unwrap()
            })
            .collect()
    };
    let mut ring = Keyring::load(&key_path, None).unwrap();
    ring.rotate();
    ring.replace_file(&key_path, None).unwrap();
    let (v, _) = vault_in(
        &data,
        Keyring::load(&key_path, None).unwrap(),
        clock.clone(),
    );
    assert_eq!(v.pending_rewrap().unwrap(), 25);
    // Interrupted after its first committed batch of 10 (the progress callback stops the run),
    // a fresh run finishes the remaining 15.
    let stop = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        v.rewrap_all(10, &|done, _| {
            if done >= 10 {
                panic!("interrupted")
            }
        })
        .unwrap();
    }));
    assert!(stop.is_err());
    assert_eq!(v.pending_rewrap().unwrap(), 15);
    assert_eq!(v.rewrap_all(10, &|_, _| {}).unwrap().rewrapped, 15);
    assert_eq!(v.pending_rewrap().unwrap(), 0);
    // Every file still reads with only the new master version.
    let mut ring = Keyring::load(&key_path, None).unwrap();
    ring.retire_before(2);
    let (v, _) = vault_in(&data, ring, clock);
    for id in &ids {
        assert!(v.read(&p, id, Purpose::Accompaniment, None).is_ok());
    }
}

/// Entry `seq` of the log, decoded.
fn entry_at(store: &SqliteStore, seq: u64) -> rempart_audit::AuditEntry {
    let mut found = None;
    store
        .audit_visit(seq - 1, &mut |s, bytes, _| {
            assert_eq!(s, seq);
            found = Some(rempart_audit::AuditEntry::parse(bytes).unwrap());
            false
        })
        .unwrap();
    found.unwrap()
}

fn history(store: &SqliteStore, id: &str) -> Vec<rempart_audit::AuditEntry> {
    let mut h: Vec<_> = store
        .audit_for_person(id, 100)
        .unwrap()
        .into_iter()
        .collect();
    h.sort_by_key(|(seq, _)| *seq);
    h.into_iter().map(|(_, e)| e).collect()
}

#[test]
fn every_act_leaves_an_entry_naming_person_categories_and_purpose() {
    use rempart_audit::{Action, Outcome};
    let f = fixture();
    let p = principal("c.durand", "ML-1");
    let id = f
        .vault
        .create(
            &p,
            followed_by(&p, file("ML-1", "Martin", "lea@example.fr")),
        )
        .unwrap();
    f.vault
        .read(
            &p,
            &id,
            Purpose::Accompaniment,
            Some(&[Category::Contact, Category::Education]),
        )
        .unwrap();
    let term = SearchTerm::email("lea@example.fr").unwrap();
    f.vault.search(&p, Purpose::Accompaniment, &term).unwrap();
    f.vault.list(&p, Purpose::Accompaniment, None, 10).unwrap();
    let patch = PersonInput {
        ml_file_number: Some("ML-42".into()),
        ..Default::default()
    };
    f.vault
        .update(&p, &id, Purpose::Accompaniment, patch)
        .unwrap();
    assert!(matches!(
        f.vault.accesses(&p, &id, 100),
        Err(VaultError::Forbidden(_))
    ));
    let dpo = as_role("dpo", "ML-1", Role::Dpo);
    assert_eq!(
        f.vault.accesses(&dpo, &id, 100).unwrap().len(),
        7,
        "five acts, the counsellor's refused look at the history and the DPO's"
    );
    f.vault.erase(&p, &id).unwrap();

    let h = history(&f.store, &id);
    let actions: Vec<Action> = h.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            Action::Create,
            Action::Read,
            Action::Search,
            Action::List,
            Action::Update,
            Action::ReadAccesses,
            Action::ReadAccesses,
            Action::Erase
        ]
    );
    assert_eq!(
        h[5].outcome,
        Outcome::Denied,
        "the counsellor's look at the history"
    );
    assert_eq!(h[6].outcome, Outcome::Allowed, "the DPO's");
    assert_eq!(
        h[0].categories,
        ["identity", "social_security", "contact", "followup"]
    );
    assert_eq!(
        h[1].categories,
        ["contact"],
        "only what was returned: the file has no education"
    );
    assert_eq!(h[1].purpose.as_deref(), Some("accompaniment"));
    assert_eq!(h[3].purpose.as_deref(), Some("accompaniment"));
    assert_eq!(h[4].categories, ["agency_ids"]);
    assert!(h.iter().all(|e| e.agency == "ML-1"));
    assert!(h
        .iter()
        .filter(|e| e.principal != "dpo")
        .all(|e| e.principal == "c.durand"
            && (e.outcome == Outcome::Allowed) != (e.action == Action::ReadAccesses)));
    let detail = h[2].detail.clone().unwrap();
    assert!(
        detail.starts_with("email:") && !detail.contains("lea"),
        "search terms are kept as blind hashes: {detail}"
    );
    // The history survives the erasure of the file.
    assert_eq!(h.len(), 8);
}

#[test]
fn a_probe_of_another_agencys_file_is_recorded_as_denied() {
    let f = fixture();
    let a = principal("c.a", "ML-1");
    let b = principal("c.b", "ML-2");
    let id = f
        .vault
        .create(
            &a,
            followed_by(&a, file("ML-1", "Martin", "lea@example.fr")),
        )
        .unwrap();
    assert!(matches!(
        f.vault.read(&b, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
    assert!(matches!(f.vault.erase(&b, &id), Err(VaultError::NotFound)));
    let h = history(&f.store, &id);
    assert_eq!(h.len(), 3);
    for e in &h[1..] {
        assert_eq!(
            (e.principal.as_str(), e.outcome),
            ("c.b", rempart_audit::Outcome::Denied)
        );
        assert!(e.categories.is_empty());
    }
}

/// A vault over `dir` whose store refuses audit entries on demand, through the traits.
fn refusing_vault(dir: &Path) -> (Vault, Arc<rempart_store_conformance::Refusing>) {
    let store = Arc::new(rempart_store_conformance::Refusing::new(Arc::new(
        SqliteStore::open(dir).unwrap(),
    )));
    let vault = Vault::new(
        store.clone(),
        Arc::new(SqliteKeyStore::open(dir).unwrap()),
        Arc::new(Keyring::generate()),
        Arc::new(FixedClock::at(NOW)),
        FranceTravailPattern::default(),
        Arc::new(rempart_policy::Policies::default_policies().unwrap()),
    );
    (vault, store)
}

#[test]
fn no_log_no_data_a_read_fails_while_the_audit_log_refuses_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = refusing_vault(dir.path());
    let p = principal("c", "ML-1");
    let id = vault
        .create(
            &p,
            followed_by(&p, file("ML-1", "Martin", "lea@example.fr")),
        )
        .unwrap();
    store.refuse(true);
    assert!(matches!(
        vault.read(&p, &id, Purpose::Accompaniment, None),
        Err(VaultError::Store(_))
    ));
    let disclosure = vault
        .disclose_read(&p, &id, Purpose::Accompaniment, None)
        .unwrap();
    assert_eq!(disclosure.people(), std::slice::from_ref(&id));
    assert!(
        disclosure.wait().is_err(),
        "nothing leaves without its entry"
    );
    let term = SearchTerm::email("lea@example.fr").unwrap();
    assert!(vault.search(&p, Purpose::Accompaniment, &term).is_err());
    assert!(vault.list(&p, Purpose::Accompaniment, None, 10).is_err());
    store.refuse(false);
    assert!(vault.read(&p, &id, Purpose::Accompaniment, None).is_ok());
}

#[test]
fn no_log_no_act_a_write_fails_while_its_entry_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, store) = refusing_vault(dir.path());
    let p = principal("c", "ML-1");
    let id = vault
        .create(
            &p,
            followed_by(&p, file("ML-1", "Martin", "lea@example.fr")),
        )
        .unwrap();
    store.refuse(true);
    assert!(vault
        .create(&p, followed_by(&p, file("ML-1", "Other", "o@example.fr")))
        .is_err());
    assert_eq!(
        store.count_persons().unwrap(),
        1,
        "a create without its entry leaves no file"
    );
    let patch = PersonInput {
        ml_file_number: Some("X9".into()),
        ..Default::default()
    };
    assert!(vault
        .update(&p, &id, Purpose::Accompaniment, patch)
        .is_err());
    store.refuse(false);
    let v = vault.read(&p, &id, Purpose::Accompaniment, None).unwrap();
    assert!(
        v.record.ml_file_number.is_none(),
        "the update without its entry did not happen"
    );
}

/// A log of a dozen entries with a checkpoint at the end, in the database and the witness.
fn audited() -> (Fixture, Witness, [u8; 32]) {
    let f = fixture();
    let p = principal("c", "ML-1");
    for i in 0..4 {
        let id = f
            .vault
            .create(
                &p,
                followed_by(&p, file("ML-1", "Martin", &format!("l{i}@example.fr"))),
            )
            .unwrap();
        f.vault.read(&p, &id, Purpose::Accompaniment, None).unwrap();
        f.vault.list(&p, Purpose::Accompaniment, None, 5).unwrap();
    }
    let w = Witness::new(f.dir.path().join("witness.jsonl"));
    let cp = f.vault.checkpoint(&w).unwrap();
    assert_eq!(cp.size, 12);
    let key = f.vault.audit_public_key().unwrap();
    (f, w, key)
}

fn verify(f: &Fixture, w: &Witness, key: &[u8; 32]) -> Result<Verified, Tamper> {
    f.vault
        .verify_audit(key, &w.read().unwrap(), &|_, _| {})
        .unwrap()
}

/// Runs `s` on the audit log's database.
fn sql(f: &Fixture, s: &str) {
    sql_in(f, AUDIT_FILE, s);
}

fn sql_in(f: &Fixture, file: &str, s: &str) {
    rusqlite::Connection::open(f.dir.path().join(file))
        .unwrap()
        .execute_batch(s)
        .unwrap();
}

#[test]
fn an_untouched_log_verifies_and_a_checkpoint_is_not_repeated() {
    let (f, w, key) = audited();
    assert_eq!(
        verify(&f, &w, &key),
        Ok(Verified {
            entries: 12,
            checkpoints: 2,
            unchecked_tail: 0
        })
    );
    assert_eq!(f.vault.checkpoint(&w).unwrap().size, 12);
    assert_eq!(w.read().unwrap().checkpoints().len(), 1);
}

/// The checkpoint route and every new checkpoint read the latest checkpoint alone, not all of
/// them: an older row that does not parse is never read.
#[test]
fn the_latest_checkpoint_is_read_without_the_older_ones() {
    let (f, w, _) = audited();
    let p = principal("c", "ML-1");
    for i in 0..20 {
        f.vault
            .create(
                &p,
                followed_by(&p, file("ML-1", "Bravo", &format!("b{i}@example.fr"))),
            )
            .unwrap();
        f.vault.checkpoint(&w).unwrap();
    }
    assert_eq!(f.store.checkpoints().unwrap().len(), 21);
    sql(
        &f,
        "UPDATE audit_checkpoints SET checkpoint = x'00' WHERE size = 12",
    );
    let operator = as_role("rssi", "ML-1", Role::Operator);
    let latest = f.vault.checkpoint_for(&operator).unwrap().unwrap();
    assert_eq!(latest.size, 32);
    assert_eq!(f.vault.latest_checkpoint().unwrap(), Some(latest.clone()));
    assert_eq!(
        f.vault.checkpoint(&w).unwrap(),
        latest,
        "nothing new to sign"
    );
    f.vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "z@example.fr")))
        .unwrap();
    assert_eq!(f.vault.checkpoint(&w).unwrap().size, 33);
}

#[test]
fn an_entry_edited_by_hand_is_named() {
    let (f, w, key) = audited();
    let db = rusqlite::Connection::open(f.dir.path().join(AUDIT_FILE)).unwrap();
    let (forged, _) = forge(&db, 5);
    db.execute(
        "UPDATE audit_log SET entry = ?1 WHERE seq = 5",
        rusqlite::params![forged],
    )
    .unwrap();
    assert_eq!(verify(&f, &w, &key), Err(Tamper::Edited { seq: 5 }));
}

/// Entry `seq` with its principal changed from `c` to `x`, re-encoded as the application
/// would, and its leaf recomputed.
fn forge(db: &rusqlite::Connection, seq: u64) -> (Vec<u8>, [u8; 32]) {
    let entry: Vec<u8> = db
        .query_row(
            "SELECT entry FROM audit_log WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap();
    let mut e = rempart_audit::AuditEntry::parse(&entry).unwrap();
    assert_eq!(e.principal, "c");
    e.principal = "x".into();
    let forged = e.canonical();
    assert_ne!(forged, entry);
    let leaf = rempart_audit::leaf_of(seq, &forged);
    (forged, leaf)
}

#[test]
fn an_edit_with_its_hash_recomputed_is_caught_by_the_signed_checkpoint() {
    let (f, w, key) = audited();
    let db = rusqlite::Connection::open(f.dir.path().join(AUDIT_FILE)).unwrap();
    let (forged, leaf) = forge(&db, 5);
    db.execute(
        "UPDATE audit_log SET entry = ?1, leaf = ?2 WHERE seq = 5",
        rusqlite::params![forged, &leaf[..]],
    )
    .unwrap();
    assert!(matches!(
        verify(&f, &w, &key),
        Err(Tamper::RootMismatch {
            from: 1,
            to: 12,
            ..
        })
    ));
}

#[test]
fn a_deleted_entry_is_named() {
    let (f, w, key) = audited();
    sql(&f, "DELETE FROM audit_log WHERE seq = 7");
    assert_eq!(
        verify(&f, &w, &key),
        Err(Tamper::Gap {
            expected: 7,
            found: 8
        })
    );
}

#[test]
fn an_inserted_entry_is_detected() {
    let (f, w, key) = audited();
    // Make room at 3 by renumbering the rest, then insert a forged entry there.
    sql(&f, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3; UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000;");
    let db = rusqlite::Connection::open(f.dir.path().join(AUDIT_FILE)).unwrap();
    let entry: Vec<u8> = db
        .query_row("SELECT entry FROM audit_log WHERE seq = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    let leaf = rempart_audit::leaf_of(3, &entry);
    db.execute(
        "INSERT INTO audit_log (seq, entry, leaf) VALUES (3, ?1, ?2)",
        rusqlite::params![entry, &leaf[..]],
    )
    .unwrap();
    // Every later entry now sits at another position than the one its hash was recorded for.
    assert_eq!(verify(&f, &w, &key), Err(Tamper::Edited { seq: 4 }));
}

#[test]
fn two_swapped_entries_are_named() {
    let (f, w, key) = audited();
    sql(&f, "UPDATE audit_log SET seq = -1 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 9; UPDATE audit_log SET seq = 9 WHERE seq = -1;");
    assert_eq!(verify(&f, &w, &key), Err(Tamper::Edited { seq: 4 }));
}

#[test]
fn a_checkpoint_resigned_with_another_key_is_refused() {
    let (f, w, key) = audited();
    let other = Keyring::generate();
    let db = rusqlite::Connection::open(f.dir.path().join(AUDIT_FILE)).unwrap();
    let mut cp: Checkpoint = serde_json::from_slice(
        &db.query_row("SELECT checkpoint FROM audit_checkpoints", [], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .unwrap(),
    )
    .unwrap();
    let root = cp.root_hash().unwrap();
    let sig = other
        .sign_audit(&Checkpoint::message(cp.size, &root, cp.time))
        .unwrap();
    cp = Checkpoint::new(cp.size, &root, cp.time, &sig);
    db.execute(
        "UPDATE audit_checkpoints SET checkpoint = ?1",
        [serde_json::to_vec(&cp).unwrap()],
    )
    .unwrap();
    assert_eq!(
        verify(&f, &w, &key),
        Err(Tamper::BadSignature {
            size: 12,
            origin: "database"
        })
    );
}

#[test]
fn a_database_rolled_back_behind_the_witness_is_detected() {
    let (f, w, key) = audited();
    f.store.checkpoint().unwrap();
    // A restore of the whole data directory from a copy taken at that point.
    let before: Vec<(&str, Vec<u8>)> = [VAULT_FILE, AUDIT_FILE]
        .into_iter()
        .map(|name| (name, std::fs::read(f.dir.path().join(name)).unwrap()))
        .collect();
    let p = principal("c", "ML-1");
    let id = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "b@example.fr")))
        .unwrap();
    f.vault.read(&p, &id, Purpose::Accompaniment, None).unwrap();
    assert_eq!(f.vault.checkpoint(&w).unwrap().size, 14);
    drop(f.vault);
    drop(f.store);
    for (name, bytes) in before {
        std::fs::write(f.dir.path().join(name), bytes).unwrap();
        let _ = std::fs::remove_file(f.dir.path().join(format!("{name}-wal")));
    }
    let (vault, _) = vault_in(f.dir.path(), Keyring::generate(), f.clock.clone());
    let r = vault
        .verify_audit(&key, &w.read().unwrap(), &|_, _| {})
        .unwrap();
    assert_eq!(
        r,
        Err(Tamper::Truncated {
            size: 14,
            len: 12,
            first_missing: 13,
            origin: "witness"
        })
    );
}

/// Deleting or emptying the witness would otherwise hide a log cut back together with its
/// checkpoints.
#[test]
fn a_missing_or_empty_witness_fails_verification_unless_deliberately_not_checked() {
    let (f, w, key) = audited();
    let check = |witnessed: &Witnessed| f.vault.verify_audit(&key, witnessed, &|_, _| {});
    std::fs::remove_file(w.path()).unwrap();
    assert_eq!(w.read().unwrap(), Witnessed::Missing);
    assert!(w.is_missing_or_empty().unwrap());
    assert!(matches!(
        check(&w.read().unwrap()),
        Err(VaultError::NoWitness {
            checkpoints: 1,
            latest: 12
        })
    ));
    std::fs::write(w.path(), "").unwrap();
    assert_eq!(w.read().unwrap(), Witnessed::Checkpoints(Vec::new()));
    assert!(w.is_missing_or_empty().unwrap());
    assert!(matches!(
        check(&w.read().unwrap()),
        Err(VaultError::NoWitness { .. })
    ));
    assert_eq!(
        check(&Witnessed::NotChecked).unwrap(),
        Ok(Verified {
            entries: 12,
            checkpoints: 1,
            unchecked_tail: 0
        })
    );
    // A log without a signed checkpoint yet has nothing to witness.
    let fresh = fixture();
    let p = principal("c", "ML-1");
    fresh
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "b@example.fr")))
        .unwrap();
    let key = fresh.vault.audit_public_key().unwrap();
    assert_eq!(
        fresh
            .vault
            .verify_audit(&key, &Witnessed::Missing, &|_, _| {})
            .unwrap()
            .map(|v| v.entries),
        Ok(1)
    );
}

fn verify_from(
    f: &Fixture,
    w: &Witness,
    key: &[u8; 32],
    trusted: &Checkpoint,
) -> Result<Verified, Tamper> {
    f.vault
        .verify_audit_from(key, &w.read().unwrap(), Some(trusted), &|_, _| {})
        .unwrap()
}

/// What someone holding the signing key and write access to the database and the witness can
/// do: rewrite an entry with a matching leaf, drop every checkpoint, empty the witness and
/// sign the new history. Only a checkpoint kept elsewhere tells.
#[test]
fn a_history_rewritten_and_resigned_is_caught_by_a_checkpoint_kept_outside() {
    let (f, w, key) = audited();
    let kept = w.read().unwrap().checkpoints().last().unwrap().clone();
    assert_eq!(
        verify_from(&f, &w, &key, &kept),
        Ok(Verified {
            entries: 12,
            checkpoints: 3,
            unchecked_tail: 0
        }),
        "an intact log extends the checkpoint kept outside"
    );

    let db = rusqlite::Connection::open(f.dir.path().join(AUDIT_FILE)).unwrap();
    let stored: Vec<u8> = db
        .query_row("SELECT entry FROM audit_log WHERE seq = 5", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut e = rempart_audit::AuditEntry::parse(&stored).unwrap();
    assert_eq!(e.action, rempart_audit::Action::Read);
    e.action = rempart_audit::Action::List;
    let bytes = e.canonical();
    db.execute(
        "UPDATE audit_log SET entry = ?1, leaf = ?2 WHERE seq = 5",
        rusqlite::params![bytes, rempart_audit::leaf_of(5, &bytes).to_vec()],
    )
    .unwrap();
    db.execute("DELETE FROM audit_checkpoints", []).unwrap();
    drop(db);
    std::fs::write(w.path(), "").unwrap();
    let resigned = f.vault.checkpoint(&w).unwrap();
    assert_eq!(resigned.size, 12);
    assert_ne!(resigned.root, kept.root);
    assert_eq!(
        verify(&f, &w, &key).map(|v| v.entries),
        Ok(12),
        "the rewritten history is consistent with itself"
    );
    assert_eq!(
        verify_from(&f, &w, &key, &kept),
        Err(Tamper::RootMismatch {
            from: 1,
            to: 12,
            origin: "checkpoint file"
        })
    );
}

#[test]
fn a_log_cut_back_behind_a_checkpoint_kept_outside_is_detected() {
    let (f, w, key) = audited();
    let p = principal("c", "ML-1");
    let id = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "b@example.fr")))
        .unwrap();
    f.vault.read(&p, &id, Purpose::Accompaniment, None).unwrap();
    let kept = f.vault.checkpoint(&w).unwrap();
    assert_eq!(kept.size, 14);
    // The last two entries, their checkpoint and its witness line removed by hand.
    sql(
        &f,
        "DELETE FROM audit_log WHERE seq > 12; DELETE FROM audit_checkpoints WHERE size > 12;",
    );
    let first = std::fs::read_to_string(w.path()).unwrap();
    let first = first.lines().next().unwrap();
    std::fs::write(w.path(), format!("{first}\n")).unwrap();
    assert_eq!(verify(&f, &w, &key).map(|v| v.entries), Ok(12));
    assert_eq!(
        verify_from(&f, &w, &key, &kept),
        Err(Tamper::Truncated {
            size: 14,
            len: 12,
            first_missing: 13,
            origin: "checkpoint file"
        })
    );
    // A checkpoint file signed by another key is refused before anything else.
    let other = Keyring::generate();
    let root = kept.root_hash().unwrap();
    let forged = Checkpoint::new(
        kept.size,
        &root,
        kept.time,
        &other
            .sign_audit(&Checkpoint::message(kept.size, &root, kept.time))
            .unwrap(),
    );
    assert_eq!(
        verify_from(&f, &w, &key, &forged),
        Err(Tamper::BadSignature {
            size: 14,
            origin: "checkpoint file"
        })
    );
}

/// The per-person index answers the access history; it is derived and unsigned, so `audit
/// verify` compares it with the log, and `audit reindex` builds it again.
#[test]
fn an_index_row_deleted_or_added_by_hand_is_found_and_rebuilt() {
    let (f, _w, _key) = audited();
    let p = principal("c", "ML-1");
    let a = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Alpha", "a@example.fr")))
        .unwrap();
    let b = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "b@example.fr")))
        .unwrap();
    f.vault.read(&p, &a, Purpose::Accompaniment, None).unwrap();
    f.vault.read(&p, &b, Purpose::Accompaniment, None).unwrap();
    assert_eq!(f.vault.rebuild_audit_index(&|_, _| {}).unwrap(), 16);
    // The rebuild is an administrative act, recorded once done (entry 17), naming no one.
    let e = entry_at(&f.store, 17);
    assert_eq!(
        (e.action, e.principal.as_str(), e.detail.as_deref()),
        (
            rempart_audit::Action::AuditReindex,
            "cli",
            Some("indexed=16")
        )
    );
    assert!(e.persons.is_empty() && e.categories.is_empty());
    let intact = f.vault.check_audit_index(&|_, _| {}).unwrap();
    // Entry 17 may already be indexed by the store's indexer thread, or not yet.
    assert!(intact.through >= 16, "{}", intact.through);
    assert_eq!(intact.first_difference, None);
    assert_eq!(history(&f.store, &a).len(), 2, "creation and read of a");

    // The read of `a` (entry 15) removed from the index: its history loses it.
    let index = rempart_store_sqlite::AUDIT_INDEX_FILE;
    sql_in(
        &f,
        index,
        &format!("DELETE FROM persons WHERE person_id = '{a}' AND seq = 15"),
    );
    assert_eq!(history(&f.store, &a).len(), 1);
    assert_eq!(
        f.vault
            .check_audit_index(&|_, _| {})
            .unwrap()
            .first_difference,
        Some(15)
    );
    assert_eq!(f.vault.rebuild_audit_index(&|_, _| {}).unwrap(), 17);
    assert_eq!(
        f.vault
            .check_audit_index(&|_, _| {})
            .unwrap()
            .first_difference,
        None
    );
    assert_eq!(
        history(&f.store, &a).len(),
        2,
        "the rebuilt index has it again"
    );

    // The read of `b` (entry 16) attributed to `a` too: found, and kept out of a's history.
    sql_in(
        &f,
        index,
        &format!("INSERT INTO persons (bucket, person_id, seq) VALUES (0, '{a}', 16)"),
    );
    assert_eq!(
        f.vault
            .check_audit_index(&|_, _| {})
            .unwrap()
            .first_difference,
        Some(16)
    );
    assert_eq!(
        history(&f.store, &a).len(),
        2,
        "b's read is not shown as a's"
    );
    // A row past the index's position, or in another stretch, is extra too.
    f.vault.rebuild_audit_index(&|_, _| {}).unwrap();
    sql_in(
        &f,
        index,
        &format!("INSERT INTO persons (bucket, person_id, seq) VALUES (7, '{a}', 3)"),
    );
    assert_eq!(
        f.vault
            .check_audit_index(&|_, _| {})
            .unwrap()
            .first_difference,
        Some(3)
    );
}

#[test]
fn concurrent_reads_are_group_committed_each_with_its_own_entry() {
    let (f, w, key) = audited();
    let p = principal("c", "ML-1");
    let id = f
        .vault
        .create(&p, followed_by(&p, file("ML-1", "Martin", "x@example.fr")))
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    f.vault.read(&p, &id, Purpose::Accompaniment, None).unwrap();
                }
            });
        }
    });
    assert_eq!(f.vault.audit_len().unwrap(), 12 + 1 + 400);
    assert_eq!(
        history(&f.store, &id).len(),
        100,
        "the history is capped by its limit"
    );
    f.vault.checkpoint(&w).unwrap();
    assert_eq!(verify(&f, &w, &key).unwrap().entries, 413);
}

#[test]
fn proofs_verify_with_the_public_key_alone_and_catch_a_forged_entry() {
    let (f, w, key) = audited();
    let p = principal("c", "ML-1");
    f.vault
        .create(&p, followed_by(&p, file("ML-1", "Bravo", "b@example.fr")))
        .unwrap();
    f.vault.checkpoint(&w).unwrap();
    let op = Principal::local(Agency::parse("ML-1").unwrap());
    for seq in 1..=13 {
        let proof = f.vault.inclusion_proof(&op, seq, None).unwrap();
        assert_eq!(proof.checkpoint.size, 13);
        assert_eq!(proof.verify(&key), Ok(()), "entry {seq}");
        let old = f.vault.inclusion_proof(&op, seq.min(12), Some(12)).unwrap();
        assert_eq!(old.verify(&key), Ok(()));
    }
    let mut forged = f.vault.inclusion_proof(&op, 4, None).unwrap();
    // The readable entry changed alone, then with the bytes it claims to be.
    forged.entry.principal = "x".into();
    assert_eq!(
        forged.verify(&key),
        Err("the readable entry is not the entry hashed")
    );
    forged.canonical = Some(hex::encode(forged.entry.canonical()));
    assert_eq!(
        forged.verify(&key),
        Err("the leaf given is not the entry's")
    );
    forged.leaf = None;
    assert_eq!(
        forged.verify(&key),
        Err("the entry is not in the signed tree")
    );
    assert!(f
        .vault
        .inclusion_proof(&op, 4, None)
        .unwrap()
        .verify(&Keyring::generate().audit_public_key().unwrap())
        .is_err());
    let c = f.vault.consistency_proof(&op, 12, 13).unwrap();
    assert_eq!(c.verify(&key), Ok(()));
    let mut swapped = c.clone();
    std::mem::swap(&mut swapped.first, &mut swapped.second);
    assert!(swapped.verify(&key).is_err());
    assert!(
        matches!(
            f.vault.inclusion_proof(&p, 1, None),
            Err(VaultError::Forbidden(_))
        ),
        "counsellors cannot read the log"
    );
    assert!(matches!(
        f.vault.inclusion_proof(&op, 14, None),
        Err(VaultError::NotInLog)
    ));
    // Every proof handed out was recorded (who read the log, which entry).
    let mut out = Vec::new();
    let n = f
        .vault
        .export_audit(&op, 0, ExportFormat::Jsonl, &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(n, f.vault.audit_len().unwrap());
    assert_eq!(text.lines().count() as u64, n);
    // 26 inclusion proofs, 2 more, 1 consistency proof, and the counsellor's refused try.
    assert_eq!(text.matches("\"audit_proof\"").count(), 13 * 2 + 3 + 1);
    assert_eq!(text.matches("\"denied\"").count(), 1);
    assert!(text.contains("inclusion seq=4 size=13"));
    assert!(text.lines().last().unwrap().contains("\"audit_export\""));
}

#[test]
fn the_parquet_export_holds_every_entry_checkable_against_its_leaf_and_is_recorded() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    let (f, _w, _key) = audited();
    let op = Principal::local(Agency::parse("ML-1").unwrap());
    let c = principal("c", "ML-1");
    assert!(matches!(
        f.vault
            .export_audit(&c, 0, ExportFormat::Parquet, Vec::new()),
        Err(VaultError::Forbidden(_))
    ));
    let path = f.dir.path().join("audit.parquet");
    let n = f
        .vault
        .export_audit(
            &op,
            0,
            ExportFormat::Parquet,
            std::fs::File::create(&path).unwrap(),
        )
        .unwrap();
    assert_eq!(
        n, 14,
        "12 entries, the counsellor's refused export and the export's own"
    );
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 14);
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let col = |n: &str| names.iter().position(|x| x == n).unwrap();
    let mut seen = 0;
    for (i, row) in reader.get_row_iter(None).unwrap().enumerate() {
        let row = row.unwrap();
        let seq = row.get_long(col("seq")).unwrap();
        assert_eq!(seq, i as i64 + 1);
        let canonical = hex::decode(row.get_string(col("canonical")).unwrap()).unwrap();
        let leaf = rempart_audit::leaf_of(seq as u64, &canonical);
        assert_eq!(row.get_string(col("leaf")).unwrap(), &hex::encode(leaf));
        // The readable entry is the one hashed.
        let entry = row.get_string(col("entry")).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(entry).unwrap();
        assert_eq!(
            parsed,
            serde_json::to_value(rempart_audit::AuditEntry::parse(&canonical).unwrap()).unwrap()
        );
        assert_eq!(
            row.get_string(col("principal")).unwrap(),
            parsed["principal"].as_str().unwrap()
        );
        assert_eq!(row.get_long(col("time")).unwrap(), NOW);
        seen += 1;
    }
    assert_eq!(seen, 14);
    // An export from a later time holds only the later entries.
    f.clock.advance(3600);
    let mut out = Vec::new();
    f.vault
        .export_audit(&op, NOW + 1, ExportFormat::Jsonl, &mut out)
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
}

fn bulk_entries(n: usize) -> Vec<rempart_audit::AuditEntry> {
    (0..n)
        .map(|i| rempart_audit::AuditEntry {
            time: NOW + i as i64,
            principal: format!("c{}", i % 7),
            token_id: "t".into(),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action: rempart_audit::Action::Read,
            persons: vec![format!("p{i}")],
            categories: vec!["identity".into()],
            purpose: Some("accompaniment".into()),
            client: None,
            request_id: None,
            outcome: rempart_audit::Outcome::Allowed,
            detail: None,
        })
        .collect()
}

#[test]
fn proofs_and_checkpoints_of_a_large_log_come_from_whole_subtrees_and_stay_valid() {
    let (f, w, key) = audited();
    let op = Principal::local(Agency::parse("ML-1").unwrap());
    f.store.append_audit(&bulk_entries(1000)).unwrap();
    assert_eq!(f.vault.checkpoint(&w).unwrap().size, 1012);
    f.store.append_audit(&bulk_entries(777)).unwrap();
    assert_eq!(f.vault.checkpoint(&w).unwrap().size, 1789);
    assert_eq!(verify(&f, &w, &key).unwrap().checkpoints, 6);
    for seq in [
        1, 12, 255, 256, 257, 512, 513, 1012, 1013, 1024, 1025, 1500, 1789,
    ] {
        let p = f.vault.inclusion_proof(&op, seq, None).unwrap();
        assert_eq!(p.verify(&key), Ok(()), "entry {seq}");
        if seq <= 1012 {
            let p = f.vault.inclusion_proof(&op, seq, Some(1012)).unwrap();
            assert_eq!(p.verify(&key), Ok(()), "entry {seq} in 1012");
        }
    }
    for (a, b) in [(12, 1012), (1012, 1789), (12, 1789), (1789, 1789)] {
        let c = f.vault.consistency_proof(&op, a, b).unwrap();
        assert_eq!(c.verify(&key), Ok(()), "{a} → {b}");
    }

    // A log written before the subtrees were kept: opening the store builds them again.
    let before = f.vault.inclusion_proof(&op, 700, None).unwrap().path;
    sql(&f, "DELETE FROM audit_nodes");
    assert!(f.vault.inclusion_proof(&op, 700, None).is_err());
    drop(SqliteStore::open(f.dir.path()).unwrap());
    assert_eq!(
        f.vault.inclusion_proof(&op, 700, None).unwrap().path,
        before
    );

    // Subtrees altered by hand: proofs fail offline and no checkpoint is signed over them.
    sql(&f, "UPDATE audit_nodes SET hash = zeroblob(32)");
    let p = f.vault.inclusion_proof(&op, 1, None).unwrap();
    assert!(p.verify(&key).is_err());
    f.store.append_audit(&bulk_entries(1)).unwrap();
    assert!(matches!(
        f.vault.checkpoint(&w),
        Err(VaultError::AuditMismatch(1789))
    ));
    // Verification names the first altered subtree; rebuilt from the entries, all is well.
    assert_eq!(
        verify(&f, &w, &key),
        Err(Tamper::Subtree {
            level: 8,
            index: 0,
            first: 1,
            last: 256
        })
    );
    sql(&f, "DELETE FROM audit_nodes");
    drop(SqliteStore::open(f.dir.path()).unwrap());
    assert!(verify(&f, &w, &key).is_ok());
    assert!(f.vault.checkpoint(&w).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Access policy: caseloads, enrolments, purposes, break-glass.

mod policy {
    use super::*;
    use proptest::prelude::*;
    use rempart_policy::reference::{allowed, Case};
    use rempart_policy::{Act, Target};

    const AGENCIES: [&str; 2] = ["ML-1", "ML-2"];
    const PARTNERS: [&str; 2] = ["AFPA-1", "GRETA-2"];
    const COUNSELLORS: [&str; 3] = ["c.a", "c.b", "c.c"];

    /// One file of the generated world.
    #[derive(Debug, Clone)]
    struct Spec {
        agency: usize,
        counsellor: Option<usize>,
        partners: Vec<usize>,
        minor: bool,
        legal_reps: bool,
    }

    fn arb_spec() -> impl Strategy<Value = Spec> {
        (
            0..AGENCIES.len(),
            proptest::option::of(0..COUNSELLORS.len()),
            proptest::sample::subsequence(vec![0usize, 1], 0..=2),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(agency, counsellor, partners, minor, legal_reps)| Spec {
                agency,
                counsellor,
                partners,
                minor,
                legal_reps,
            })
    }

    /// Who asks, why, and about which file (`None`: one that does not exist).
    #[derive(Debug, Clone)]
    struct Ask {
        role: Role,
        name: usize,
        agency: usize,
        file: Option<usize>,
        purpose: Purpose,
        break_glass: bool,
        wanted: Option<Vec<Category>>,
    }

    fn arb_ask(files: usize) -> impl Strategy<Value = Ask> {
        (
            proptest::sample::select(Role::ALL.to_vec()),
            0..COUNSELLORS.len(),
            0..AGENCIES.len(),
            proptest::option::weighted(0.9, 0..files),
            // Mostly the purposes the default policies grant something for.
            prop_oneof![
                2 => proptest::sample::select(Purpose::ALL.to_vec()),
                3 => Just(Purpose::Accompaniment),
                2 => Just(Purpose::PartnerService),
                1 => Just(Purpose::Payment),
                1 => Just(Purpose::DataSubjectRequest),
            ],
            any::<bool>(),
            proptest::option::of(proptest::sample::subsequence(Category::ALL.to_vec(), 1..4)),
        )
            .prop_map(
                |(role, name, agency, file, purpose, break_glass, wanted)| Ask {
                    role,
                    name,
                    agency,
                    file,
                    purpose,
                    break_glass,
                    wanted,
                },
            )
    }

    fn full_file(s: &Spec, i: usize) -> PersonInput {
        let mut f = file(AGENCIES[s.agency], "Martin", &format!("p{i}@example.fr"));
        if s.minor {
            f.identity.as_mut().unwrap().birth_date = Some("2010-03-01".into());
            f.nir = Some("2100375113042 15".into());
        }
        f.situation = Some(Situation {
            housing: Some("family".into()),
            ..Default::default()
        });
        f.education = Some(Education {
            level: Some("4".into()),
            ..Default::default()
        });
        f.followup = Some(Followup {
            counsellor: s.counsellor.map(|c| COUNSELLORS[c].to_string()),
            ..Default::default()
        });
        if s.legal_reps {
            f.legal_representatives = Some(vec![LegalRepresentative {
                last_name: Some("Martin".into()),
                first_names: Some("Paul".into()),
                relationship: Some("father".into()),
                ..Default::default()
            }]);
        }
        f
    }

    fn principal_of(a: &Ask) -> Principal {
        let (name, agency) = match a.role {
            Role::Partner => ("partner".to_string(), PARTNERS[a.agency % 2].to_string()),
            _ => (
                COUNSELLORS[a.name].to_string(),
                AGENCIES[a.agency].to_string(),
            ),
        };
        let p = as_role(&name, &agency, a.role);
        if a.break_glass {
            p.with_break_glass("the counsellor is away today".to_string())
        } else {
            p
        }
    }

    fn present(r: &PersonInput) -> Vec<Category> {
        Category::ALL
            .iter()
            .copied()
            .filter(|c| r.has(*c))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// For random agencies, caseloads, enrolments and requests: a read returns exactly the
        /// categories the policy allows (the NIR masked unless allowed in full), and a file the
        /// caller may see nothing of is answered exactly as a missing one.
        #[test]
        fn no_principal_receives_what_the_policy_forbids(
            world in proptest::collection::vec(arb_spec(), 1..8),
            asks in proptest::collection::vec(arb_ask(8), 1..40),
        ) {
            let f = fixture();
            let ids: Vec<String> = world.iter().enumerate().map(|(i, s)| {
                let creator = principal(s.counsellor.map_or("c.a", |c| COUNSELLORS[c]), AGENCIES[s.agency]);
                let creator = Principal::described(creator.name(), Role::Service, creator.agency().clone());
                let id = f.vault.create(&creator, full_file(s, i)).unwrap();
                for &p in &s.partners {
                    assert!(f.vault.enrol(&creator, &id, &Agency::parse(PARTNERS[p]).unwrap(), true).unwrap());
                }
                id
            }).collect();
            let missing = "00000000-0000-4000-8000-000000000000".to_string();
            let not_found = f.vault.read(&principal("c.a", "ML-1"), &missing, Purpose::Accompaniment, None)
                .err().map(|e| e.to_string());
            for a in asks {
                let p = principal_of(&a);
                let (id, spec) = match a.file.filter(|i| *i < world.len()) {
                    Some(i) => (&ids[i], Some(&world[i])),
                    None => (&missing, None),
                };
                let got = f.vault.read(&p, id, a.purpose, a.wanted.as_deref());
                let Some(spec) = spec else {
                    prop_assert!(matches!(got, Err(VaultError::NotFound)));
                    continue;
                };
                let case = Case {
                    role: a.role,
                    same_agency: p.agency().as_str() == AGENCIES[spec.agency],
                    assigned: spec.counsellor.is_some_and(|c| COUNSELLORS[c] == p.name()),
                    enrolled: a.role == Role::Partner
                        && spec.partners.iter().any(|&x| PARTNERS[x] == p.agency().as_str()),
                    minor: spec.minor,
                    purpose: a.purpose,
                    break_glass: a.break_glass,
                };
                let full = |c| allowed(&case, Act::Read, Target::Category(c));
                let masked = allowed(&case, Act::Read, Target::NirLastDigits);
                let any = Category::ALL.iter().any(|c| full(*c)) || masked;
                match got {
                    Err(e) => {
                        prop_assert!(!any, "{:?} refused {:?} for {:?}: {}", a, spec, case, e);
                        prop_assert!(matches!(e, VaultError::NotFound));
                        prop_assert_eq!(Some(e.to_string()), not_found.clone(), "same answer as a missing file");
                    }
                    Ok(view) => {
                        prop_assert!(any, "{:?} read {:?}", a, spec);
                        let wanted = a.wanted.clone().unwrap_or_else(|| Category::ALL.to_vec());
                        let stored = present(&full_file(spec, 0));
                        let expected: Vec<Category> = stored.into_iter()
                            .filter(|c| wanted.contains(c))
                            .filter(|c| full(*c) || (*c == Category::SocialSecurity && masked))
                            .collect();
                        prop_assert_eq!(present(&view.record), expected, "{:?} {:?} {:?}", a, spec, case);
                        if let Some(nir) = &view.record.nir {
                            prop_assert_eq!(nir.starts_with('*'), !full(Category::SocialSecurity));
                        }
                    }
                }
            }
        }
    }

    fn world() -> (Fixture, String, String) {
        let f = fixture();
        let c = principal("c.a", "ML-1");
        let mine = f
            .vault
            .create(&c, followed_by(&c, file("ML-1", "Martin", "m@example.fr")))
            .unwrap();
        let colleague = principal("c.b", "ML-1");
        let theirs = f
            .vault
            .create(
                &colleague,
                followed_by(&colleague, file("ML-1", "Durand", "d@example.fr")),
            )
            .unwrap();
        (f, mine, theirs)
    }

    #[test]
    fn a_counsellor_reads_their_caseload_and_only_identity_and_contact_of_the_others() {
        let (f, mine, theirs) = world();
        let c = principal("c.a", "ML-1");
        let v = f
            .vault
            .read(&c, &mine, Purpose::Accompaniment, None)
            .unwrap();
        assert!(v.record.nir.is_some() && v.record.followup.is_some());
        let v = f
            .vault
            .read(&c, &theirs, Purpose::Accompaniment, None)
            .unwrap();
        assert_eq!(present(&v.record), [Category::Identity, Category::Contact]);
        let page = f.vault.list(&c, Purpose::Accompaniment, None, 50).unwrap();
        let listed: Vec<&str> = page.items.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(listed, [mine.as_str()], "the listing is the caseload");
        // Neither update nor erase outside the caseload; 403, since the file is visible.
        let patch = PersonInput {
            ml_file_number: Some("X-1".into()),
            ..Default::default()
        };
        assert!(matches!(
            f.vault.update(&c, &theirs, Purpose::Accompaniment, patch),
            Err(VaultError::Forbidden(_))
        ));
        assert!(matches!(
            f.vault.erase(&c, &theirs),
            Err(VaultError::Forbidden(_))
        ));
        // Nor can they take the file into their caseload.
        assert!(matches!(
            f.vault.assign(&c, &theirs, Some("c.a")),
            Err(VaultError::Forbidden(_))
        ));
        // Its counsellor hands it over; then it is in the other caseload.
        let b = principal("c.b", "ML-1");
        f.vault.assign(&b, &theirs, Some("c.a")).unwrap();
        let v = f
            .vault
            .read(&c, &theirs, Purpose::Accompaniment, None)
            .unwrap();
        assert_eq!(
            v.record.followup.unwrap().counsellor.as_deref(),
            Some("c.a"),
            "the follow-up category and the caseload change together"
        );
        assert_eq!(
            f.vault
                .list(&c, Purpose::Accompaniment, None, 50)
                .unwrap()
                .items
                .len(),
            2
        );
        let h = history(&f.store, &theirs);
        let last = h.iter().rev().find(|e| e.action == Action::Assign).unwrap();
        assert_eq!(last.detail.as_deref(), Some("counsellor=c.a"));
        assert_eq!(last.principal, "c.b");
    }

    #[test]
    fn an_update_returns_only_what_it_changed_as_the_caller_may_read_it() {
        let (f, mine, theirs) = world();
        let c = principal("c.a", "ML-1");
        let patch = PersonInput {
            nir: Some("2060475113042 33".into()),
            education: Some(Education {
                level: Some("5".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = f
            .vault
            .update(&c, &mine, Purpose::Accompaniment, patch.clone())
            .unwrap();
        assert_eq!(
            present(&v.record),
            [Category::SocialSecurity, Category::Education]
        );
        assert_eq!(
            v.record.nir.as_deref(),
            Some("**********04233"),
            "written in full, shown masked as a read for accompaniment would"
        );
        // Nothing to change is refused before the file is looked at, and a file the caller
        // cannot see answers as a missing one even to an update.
        assert!(matches!(
            f.vault
                .update(&c, &mine, Purpose::Accompaniment, PersonInput::default()),
            Err(VaultError::Invalid(_))
        ));
        let far = principal("c.z", "ML-2");
        assert!(matches!(
            f.vault.update(&far, &theirs, Purpose::Accompaniment, patch),
            Err(VaultError::NotFound)
        ));
    }

    #[test]
    fn break_glass_is_allowed_recorded_and_listed_for_the_dpo() {
        let (f, _, theirs) = world();
        let c = principal("c.a", "ML-1")
            .with_break_glass("the young person is at the desk, c.b is away".into());
        let v = f
            .vault
            .read(&c, &theirs, Purpose::Accompaniment, None)
            .unwrap();
        assert!(v.record.nir.as_deref().unwrap().starts_with('*'));
        assert!(
            v.record.followup.is_some(),
            "everything a caseload read gives"
        );
        let dpo = as_role("dpo", "ML-1", Role::Dpo);
        let uses = f.vault.break_glass_uses(&dpo, 0).unwrap();
        assert_eq!(uses.len(), 1);
        assert_eq!(uses[0].principal, "c.a");
        assert_eq!(uses[0].persons, std::slice::from_ref(&theirs));
        assert_eq!(
            uses[0].justification,
            "the young person is at the desk, c.b is away"
        );
        assert!(uses[0].categories.contains(&"nir_last_digits".to_string()));
        // Not for the counsellor, and another agency's DPO sees none of it.
        assert!(matches!(
            f.vault.break_glass_uses(&principal("c.a", "ML-1"), 0),
            Err(VaultError::Forbidden(_))
        ));
        let other_dpo = as_role("dpo", "ML-2", Role::Dpo);
        assert!(f.vault.break_glass_uses(&other_dpo, 0).unwrap().is_empty());
        // Break-glass does not cross agencies.
        let far = principal("c.z", "ML-2").with_break_glass("an emergency, I promise".into());
        assert!(matches!(
            f.vault.read(&far, &theirs, Purpose::Accompaniment, None),
            Err(VaultError::NotFound)
        ));
    }

    #[test]
    fn a_partner_sees_only_enrolled_people_and_never_the_nir_nor_the_situation() {
        let (f, mine, theirs) = world();
        let c = principal("c.a", "ML-1");
        let afpa = Agency::parse("AFPA-1").unwrap();
        assert!(f.vault.enrol(&c, &mine, &afpa, true).unwrap());
        assert!(!f.vault.enrol(&c, &mine, &afpa, true).unwrap(), "already");
        assert!(
            matches!(
                f.vault.enrol(&c, &theirs, &afpa, true),
                Err(VaultError::Forbidden(_))
            ),
            "only the file's counsellor enrols it"
        );
        let partner = as_role("afpa.paris", "AFPA-1", Role::Partner);
        let v = f
            .vault
            .read(&partner, &mine, Purpose::PartnerService, None)
            .unwrap();
        assert_eq!(present(&v.record), [Category::Identity, Category::Contact]);
        assert!(v.record.nir.is_none() && v.record.situation.is_none());
        assert!(matches!(
            f.vault
                .read(&partner, &theirs, Purpose::PartnerService, None),
            Err(VaultError::NotFound)
        ));
        assert!(matches!(
            f.vault.read(&partner, &mine, Purpose::Accompaniment, None),
            Err(VaultError::NotFound)
        ));
        let page = f
            .vault
            .list(&partner, Purpose::PartnerService, None, 50)
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let hits = f
            .vault
            .search(
                &partner,
                Purpose::PartnerService,
                &SearchTerm::email("d@example.fr").unwrap(),
            )
            .unwrap();
        assert!(hits.is_empty(), "search does not find people not enrolled");
        // The enrolment ends: the partner sees nothing any more.
        assert!(f.vault.enrol(&c, &mine, &afpa, false).unwrap());
        assert!(matches!(
            f.vault.read(&partner, &mine, Purpose::PartnerService, None),
            Err(VaultError::NotFound)
        ));
        let actions: Vec<Action> = history(&f.store, &mine).iter().map(|e| e.action).collect();
        assert!(actions.contains(&Action::Enrol) && actions.contains(&Action::Unenrol));
    }

    #[test]
    fn an_operator_reads_no_file_and_the_dpo_reads_for_requests_and_breaches() {
        let (f, mine, _) = world();
        let op = as_role("ops", "ML-1", Role::Operator);
        for &purpose in Purpose::ALL {
            assert!(matches!(
                f.vault.read(&op, &mine, purpose, None),
                Err(VaultError::NotFound)
            ));
        }
        let dpo = as_role("dpo", "ML-1", Role::Dpo);
        assert!(f
            .vault
            .read(&dpo, &mine, Purpose::Accompaniment, None)
            .is_err());
        let v = f
            .vault
            .read(&dpo, &mine, Purpose::DataSubjectRequest, None)
            .unwrap();
        assert!(v.record.nir.as_deref().unwrap().starts_with('*'));
        let v = f
            .vault
            .read(&dpo, &mine, Purpose::LegalObligation, None)
            .unwrap();
        assert_eq!(v.record.nir.as_deref(), Some("206047511304233"));
    }

    #[test]
    fn files_stored_before_caseloads_get_theirs_from_the_follow_up_category() {
        let (f, mine, _) = world();
        let c = principal("c.a", "ML-1");
        // As a store written before migration 6 looks once migrated.
        sql_in(
            &f,
            VAULT_FILE,
            "UPDATE persons SET counsellor = NULL; UPDATE audit_meta SET value = 1 WHERE key = 'caseloads_from_followup'",
        );
        let page = f.vault.list(&c, Purpose::Accompaniment, None, 50).unwrap();
        assert!(page.items.is_empty(), "no caseload until the backfill");
        assert_eq!(f.vault.backfill_caseloads().unwrap(), 2);
        let page = f.vault.list(&c, Purpose::Accompaniment, None, 50).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, mine);
        assert_eq!(f.vault.backfill_caseloads().unwrap(), 0, "done once");
        let h = history(&f.store, &mine);
        assert!(h
            .iter()
            .any(|e| e.action == Action::Assign && e.principal == "cli"));
    }

    #[test]
    fn a_policy_file_replaces_the_default_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let keys = Arc::new(SqliteKeyStore::open(dir.path()).unwrap());
        // A stricter network: counsellors see only their caseload, and only on weekdays.
        let text = rempart_policy::DEFAULT_POLICIES.replace(
            "@id(\"counsellor-agency-directory\")",
            "@id(\"no-directory\")\nforbid (principal, action, resource is Rempart::File) when { principal.role == \"counsellor\" && resource.counsellor != principal.name && !context.break_glass };\n@id(\"counsellor-agency-directory\")",
        );
        let policies = rempart_policy::Policies::parse(&text, "site.cedar").unwrap();
        let v = Vault::new(
            store,
            keys,
            Arc::new(Keyring::generate()),
            Arc::new(FixedClock::at(NOW)),
            FranceTravailPattern::default(),
            Arc::new(policies),
        );
        let a = principal("c.a", "ML-1");
        let b = principal("c.b", "ML-1");
        let id = v
            .create(&b, followed_by(&b, file("ML-1", "Martin", "m@example.fr")))
            .unwrap();
        assert!(matches!(
            v.read(&a, &id, Purpose::Accompaniment, None),
            Err(VaultError::NotFound)
        ));
        assert!(v.read(&b, &id, Purpose::Accompaniment, None).is_ok());
    }
}

// ---- Authorisation facts bound by a key outside the database (issue 16, item 2) ----

fn local(agency: &str) -> Principal {
    Principal::local(Agency::parse(agency).unwrap())
}

fn alerts(store: &SqliteStore) -> Vec<rempart_audit::AuditEntry> {
    (1..=store.audit_len().unwrap())
        .map(|s| entry_at(store, s))
        .filter(|e| e.action == rempart_audit::Action::IntegrityAlert)
        .collect()
}

#[test]
fn a_token_row_written_without_the_key_does_not_authenticate() {
    let f = fixture();
    let agency = Agency::parse("ML-075-13").unwrap();
    let (tok, rec) = f
        .vault
        .create_token(
            &local("ML-075-13"),
            "c.durand",
            Role::Counsellor,
            &agency,
            3600,
        )
        .unwrap();
    assert!(f.vault.authenticate(tok.reveal_once()).is_ok());
    let db = rusqlite::Connection::open(f.dir.path().join(VAULT_FILE)).unwrap();
    // A row of the attacker's choosing: a secret they know, the DPO role, a 31-year expiry.
    let chosen = "rmp_attacker-chosen-secret";
    db.execute(
        "INSERT INTO tokens (id, hash, principal, role, agency, created_at, expires_at, suspended) VALUES ('tok_evil', ?1, 'evil', 'dpo', 'ML-075-13', ?2, ?3, 0)",
        rusqlite::params![&rempart_crypto::hash_token(chosen)[..], NOW, NOW + 31 * 365 * 86_400],
    )
    .unwrap();
    assert!(matches!(
        f.vault.authenticate(chosen),
        Err(VaultError::Unauthenticated)
    ));
    // The same row with a tag copied from a real token.
    db.execute(
        "UPDATE tokens SET tag = (SELECT tag FROM tokens WHERE id = ?1) WHERE id = 'tok_evil'",
        [&rec.id],
    )
    .unwrap();
    assert!(matches!(
        f.vault.authenticate(chosen),
        Err(VaultError::Unauthenticated)
    ));
    // A real token's role, agency or expiry rewritten: refused too.
    for change in [
        "role = 'dpo'",
        "agency = 'ML-093-01'",
        "expires_at = expires_at + 86400000",
        "principal = 'c.other'",
    ] {
        db.execute(
            &format!("UPDATE tokens SET {change} WHERE id = ?1"),
            [&rec.id],
        )
        .unwrap();
        assert!(
            matches!(
                f.vault.authenticate(tok.reveal_once()),
                Err(VaultError::Unauthenticated)
            ),
            "{change}"
        );
    }
    let alerts = alerts(&f.store);
    assert_eq!(alerts.len(), 6, "{alerts:?}");
    assert!(alerts[0].detail.as_deref().unwrap().contains("tok_evil"));
    assert_eq!(alerts[0].outcome, rempart_audit::Outcome::Denied);
    assert_eq!(alerts[0].principal, "integrity");
}

#[test]
fn a_file_moved_into_another_caseload_by_sql_reads_as_missing_with_an_alert() {
    let f = fixture();
    let owner = principal("c.durand", "ML-075-13");
    let id = f
        .vault
        .create(
            &owner,
            followed_by(&owner, file("ML-075-13", "Martin", "lea@example.fr")),
        )
        .unwrap();
    let evil = principal("c.evil", "ML-093-01");
    assert!(matches!(
        f.vault.read(&evil, &id, Purpose::Payment, None),
        Err(VaultError::NotFound)
    ));
    sql_in(
        &f,
        VAULT_FILE,
        &format!(
            "UPDATE persons SET agency = 'ML-093-01', counsellor = 'c.evil' WHERE id = '{id}'"
        ),
    );
    assert!(matches!(
        f.vault.read(&evil, &id, Purpose::Payment, None),
        Err(VaultError::NotFound)
    ));
    let page = f
        .vault
        .list(&evil, Purpose::Accompaniment, None, 50)
        .unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    let found = f
        .vault
        .search(
            &evil,
            Purpose::Accompaniment,
            &SearchTerm::email("lea@example.fr").unwrap(),
        )
        .unwrap();
    assert!(found.is_empty());
    let a = alerts(&f.store);
    assert!(a.len() >= 3, "{a:?}");
    assert!(a.iter().all(|e| e.persons == vec![id.clone()]));
    // Put back, it reads again: the tag is over the facts, not the row's history.
    sql_in(
        &f,
        VAULT_FILE,
        &format!(
            "UPDATE persons SET agency = 'ML-075-13', counsellor = 'c.durand' WHERE id = '{id}'"
        ),
    );
    assert!(f
        .vault
        .read(&owner, &id, Purpose::Accompaniment, None)
        .is_ok());
    // An enrolment added by hand gives the partner nothing, and hides the file from everyone.
    sql_in(
        &f,
        VAULT_FILE,
        &format!(
            "INSERT INTO enrolments (person_id, partner, since) VALUES ('{id}', 'AFPA-75', 0)"
        ),
    );
    let partner = as_role("afpa", "AFPA-75", Role::Partner);
    assert!(matches!(
        f.vault.read(&partner, &id, Purpose::PartnerService, None),
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        f.vault.read(&owner, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
    sql_in(&f, VAULT_FILE, "DELETE FROM enrolments");
    // A row whose tag is removed, or inserted with none, is refused.
    sql_in(
        &f,
        VAULT_FILE,
        &format!("UPDATE persons SET facts_tag = NULL WHERE id = '{id}'"),
    );
    assert!(matches!(
        f.vault.read(&owner, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
}

#[test]
fn enrolments_and_assignments_made_through_the_vault_keep_the_file_readable() {
    let f = fixture();
    let owner = principal("c.durand", "ML-075-13");
    let id = f
        .vault
        .create(
            &owner,
            followed_by(&owner, file("ML-075-13", "Martin", "lea@example.fr")),
        )
        .unwrap();
    let partner_agency = Agency::parse("AFPA-75").unwrap();
    assert!(f.vault.enrol(&owner, &id, &partner_agency, true).unwrap());
    let partner = as_role("afpa", "AFPA-75", Role::Partner);
    assert!(f
        .vault
        .read(&partner, &id, Purpose::PartnerService, None)
        .is_ok());
    f.vault.assign(&owner, &id, Some("c.other")).unwrap();
    let other = principal("c.other", "ML-075-13");
    assert!(f.vault.read(&other, &id, Purpose::Payment, None).is_ok());
    assert!(f.vault.enrol(&other, &id, &partner_agency, false).unwrap());
    assert!(matches!(
        f.vault.read(&partner, &id, Purpose::PartnerService, None),
        Err(VaultError::NotFound)
    ));
    assert!(f
        .vault
        .read(&other, &id, Purpose::Accompaniment, None)
        .is_ok());
    assert!(alerts(&f.store).is_empty());
}

#[test]
fn rows_stored_before_tags_are_tagged_once_by_the_upgrade_and_never_again_on_the_databases_word() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.key");
    Keyring::generate().create_file(&key_path, None).unwrap();
    let clock = Arc::new(FixedClock::at(NOW));
    let open = || {
        vault_in(
            dir.path(),
            Keyring::load(&key_path, None).unwrap(),
            clock.clone(),
        )
        .0
    };
    let owner = principal("c.durand", "ML-075-13");
    let agency = Agency::parse("ML-075-13").unwrap();
    let (id, tok) = {
        let v = open();
        let id = v
            .create(
                &owner,
                followed_by(&owner, file("ML-075-13", "Martin", "lea@example.fr")),
            )
            .unwrap();
        let (tok, _) = v
            .create_token(
                &local("ML-075-13"),
                "c.durand",
                Role::Counsellor,
                &agency,
                3600,
            )
            .unwrap();
        (id, tok)
    };
    let db = || rusqlite::Connection::open(dir.path().join(VAULT_FILE)).unwrap();
    // As an installation made before tags: no tag anywhere, the schema before migration 8
    // (and the later ones: decoys, alerts).
    db().execute_batch(
        "UPDATE persons SET facts_tag = NULL; UPDATE tokens SET tag = NULL;
         DELETE FROM schema_migrations WHERE version >= 8;
         DROP TABLE alerts; DROP TABLE exports; DROP TABLE incident_events; DROP TABLE notices;
         DROP TABLE notice_batches; DROP TABLE incident_filings; DROP TABLE incident_people;
         DROP TABLE incidents; DROP TABLE export_markers;
         DROP TABLE verification_codes; DROP TABLE accounts; DROP TABLE account_requests;
         ALTER TABLE tokens DROP COLUMN bounds;
         ALTER TABLE persons DROP COLUMN decoy;
         DROP TABLE principals; DROP INDEX tokens_principal;
         ALTER TABLE persons DROP COLUMN facts_tag; ALTER TABLE tokens DROP COLUMN tag;
         ALTER TABLE tokens DROP COLUMN revoked_at;
         DELETE FROM audit_meta WHERE key = 'facts_unbound';",
    )
    .unwrap();
    // The process that upgrades tags them.
    let v = open();
    assert_eq!(v.bind_legacy_facts(false).unwrap(), 2);
    assert!(v.read(&owner, &id, Purpose::Accompaniment, None).is_ok());
    assert!(v.authenticate(tok.reveal_once()).is_ok());
    assert_eq!(v.bind_legacy_facts(false).unwrap(), 0, "once");
    drop(v);
    // Later, someone who writes the database sets the flag again and plants rows: a later
    // process does not tag them.
    let chosen = "rmp_planted-by-the-insider";
    db().execute_batch(&format!(
        "UPDATE audit_meta SET value = 1 WHERE key = 'facts_unbound';
         UPDATE persons SET facts_tag = NULL, agency = 'ML-093-01', counsellor = 'c.evil' WHERE id = '{id}';"
    ))
    .unwrap();
    db().execute(
        "INSERT INTO tokens (id, hash, principal, role, agency, created_at, expires_at, suspended) VALUES ('tok_x', ?1, 'evil', 'dpo', 'ML-093-01', 0, ?2, 0)",
        rusqlite::params![&rempart_crypto::hash_token(chosen)[..], NOW + 86_400],
    )
    .unwrap();
    let v = open();
    assert_eq!(v.bind_legacy_facts(false).unwrap(), 0);
    assert!(matches!(
        v.authenticate(chosen),
        Err(VaultError::Unauthenticated)
    ));
    let evil = principal("c.evil", "ML-093-01");
    assert!(matches!(
        v.read(&evil, &id, Purpose::Accompaniment, None),
        Err(VaultError::NotFound)
    ));
}

// ---- Tokens and principals as records (issue 16, item 5) ----

#[test]
fn tokens_are_listed_revoked_and_principals_suspended_and_restored_with_a_record() {
    use rempart_audit::Action;
    let f = fixture();
    let agency = Agency::parse("ML-075-13").unwrap();
    let admin = local("ML-075-13");
    let mk = |name: &str| {
        f.vault
            .create_token(&admin, name, Role::Counsellor, &agency, 3600)
            .unwrap()
    };
    let (a1, r1) = mk("c.a");
    let (a2, _) = mk("c.a");
    let (b, rb) = mk("c.b");
    let list = f.vault.list_tokens().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|t| t.state == TokenState::Active));
    // Revoked: refused for good.
    assert!(f.vault.revoke_token(&admin, &rb.id).unwrap());
    assert!(!f.vault.revoke_token(&admin, &rb.id).unwrap(), "already");
    assert!(matches!(
        f.vault.revoke_token(&admin, "tok_nope"),
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        f.vault.authenticate(b.reveal_once()),
        Err(VaultError::Unauthenticated)
    ));
    // Suspended: every token of the principal, at once; no new token meanwhile.
    assert_eq!(f.vault.suspend_principal(&admin, "c.a").unwrap(), 2);
    for t in [&a1, &a2] {
        assert!(matches!(
            f.vault.authenticate(t.reveal_once()),
            Err(VaultError::Suspended)
        ));
    }
    assert!(matches!(
        f.vault
            .create_token(&admin, "c.a", Role::Counsellor, &agency, 3600),
        Err(VaultError::Forbidden(_))
    ));
    // The suspension cannot be undone by writing the database.
    sql_in(
        &f,
        VAULT_FILE,
        "UPDATE tokens SET suspended = 0; DELETE FROM principals;",
    );
    assert!(matches!(
        f.vault.authenticate(a1.reveal_once()),
        Err(VaultError::Unauthenticated)
    ));
    sql_in(
        &f,
        VAULT_FILE,
        "UPDATE tokens SET suspended = 1 WHERE principal = 'c.a'",
    );
    // Restoring needs a justification and a suspended principal (the record deleted by hand
    // is not there: suspend again first).
    assert_eq!(f.vault.suspend_principal(&admin, "c.a").unwrap(), 2);
    assert!(f.vault.restore_principal(&admin, "c.a", "short").is_err());
    assert!(f
        .vault
        .restore_principal(&admin, "c.b", "the investigation is closed")
        .is_err());
    assert_eq!(
        f.vault
            .restore_principal(&admin, "c.a", "the investigation is closed")
            .unwrap(),
        2
    );
    assert!(f.vault.authenticate(a1.reveal_once()).is_ok());
    assert!(f.vault.authenticate(a2.reveal_once()).is_ok());
    // A revoked token stays revoked through a suspension and restoration.
    assert!(f.vault.revoke_token(&admin, &r1.id).unwrap());
    f.vault.suspend_principal(&admin, "c.a").unwrap();
    f.vault
        .restore_principal(&admin, "c.a", "the investigation is closed")
        .unwrap();
    assert!(f.vault.authenticate(a1.reveal_once()).is_err());
    assert!(f.vault.authenticate(a2.reveal_once()).is_ok());
    let mut states: Vec<&str> = f
        .vault
        .list_tokens()
        .unwrap()
        .iter()
        .map(|t| t.state.as_str())
        .collect();
    states.sort();
    assert_eq!(states, ["active", "revoked", "revoked"]);
    // Every act is recorded.
    let actions: Vec<Action> = (1..=f.store.audit_len().unwrap())
        .map(|s| entry_at(&f.store, s).action)
        .collect();
    for a in [
        Action::TokenRevoke,
        Action::PrincipalSuspend,
        Action::PrincipalRestore,
    ] {
        assert!(actions.contains(&a), "{a:?}");
    }
    let restore = (1..=f.store.audit_len().unwrap())
        .map(|s| entry_at(&f.store, s))
        .find(|e| e.action == Action::PrincipalRestore)
        .unwrap();
    assert!(restore
        .detail
        .unwrap()
        .contains("the investigation is closed"));
}

// ---- Proofs, listings, searches and changes (issue 16, items 3 and 9) ----

#[test]
fn an_inclusion_proof_of_another_agencys_entry_is_redacted_and_still_verifies() {
    let f = fixture();
    let w = Witness::new(f.dir.path().join("witness.jsonl"));
    let c = principal("c.secret-name", "ML-093-01").with_request(
        Some("10.9.8.7".into()),
        None,
        Some("urgent: a justification naming a case".into()),
    );
    let id = f
        .vault
        .create(
            &c,
            followed_by(&c, file("ML-093-01", "Martin", "lea@example.fr")),
        )
        .unwrap();
    f.vault.read(&c, &id, Purpose::Accompaniment, None).unwrap();
    f.vault.checkpoint(&w).unwrap();
    let key = f.vault.audit_public_key().unwrap();
    let dpo = as_role("dpo", "ML-075-13", Role::Dpo);
    let proof = f.vault.inclusion_proof(&dpo, 2, None).unwrap();
    assert!(proof.redacted);
    assert_eq!(proof.verify(&key), Ok(()));
    let text = serde_json::to_string(&proof).unwrap();
    for secret in ["c.secret-name", "10.9.8.7", "naming a case", &id, "\"t\""] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(proof.entry.action, rempart_audit::Action::Read);
    // The DPO of the agency sees it whole.
    let own = as_role("dpo2", "ML-093-01", Role::Dpo);
    let full = f.vault.inclusion_proof(&own, 2, None).unwrap();
    assert!(!full.redacted && full.entry.principal == "c.secret-name");
    assert_eq!(full.verify(&key), Ok(()));
    // A redacted proof cannot pass for a full one, nor a full one's entry be changed.
    let mut lie = proof.clone();
    lie.redacted = false;
    assert!(lie.verify(&key).is_err());
    let mut lie = full.clone();
    lie.redacted = true;
    assert!(lie.verify(&key).is_err());
}

#[test]
fn a_listing_cursor_never_names_a_file_the_caller_cannot_see_and_the_walk_is_recorded() {
    let f = fixture();
    let c = principal("c.durand", "ML-075-13");
    for i in 0..5 {
        f.vault
            .create(
                &c,
                followed_by(&c, file("ML-075-13", "Martin", &format!("l{i}@example.fr"))),
            )
            .unwrap();
    }
    let op = as_role("ops", "ML-075-13", Role::Operator);
    let page = f.vault.list(&op, Purpose::Accompaniment, None, 1).unwrap();
    assert!(page.items.is_empty());
    assert!(page.next_cursor.is_none(), "{:?}", page.next_cursor);
    let last = entry_at(&f.store, f.store.audit_len().unwrap());
    assert_eq!(last.action, rempart_audit::Action::List);
    assert_eq!(last.detail.as_deref(), Some("scanned=5"));
    // The counsellor pages through all five, each cursor a file returned.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .vault
            .list(&c, Purpose::Accompaniment, cursor.as_deref(), 2)
            .unwrap();
        seen.extend(page.items.iter().map(|h| h.id.clone()));
        if let Some(next) = &page.next_cursor {
            assert_eq!(Some(next), page.items.last().map(|h| &h.id));
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
}

#[test]
fn matches_in_other_agencies_cannot_hide_a_person_from_a_search() {
    let f = fixture();
    let rules = f.vault.rules();
    let elsewhere: Vec<ValidFile> = (0..210)
        .map(|_| ValidFile::parse(file("ML-001-01", "Martin", "same@example.fr"), &rules).unwrap())
        .collect();
    f.vault.import(&elsewhere, &|_, _| {}).unwrap();
    let c = principal("c.durand", "ML-999-01");
    let id = f
        .vault
        .create(
            &c,
            followed_by(&c, file("ML-999-01", "Martin", "same@example.fr")),
        )
        .unwrap();
    let hits = f
        .vault
        .search(
            &c,
            Purpose::Accompaniment,
            &SearchTerm::email("same@example.fr").unwrap(),
        )
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, id);
}

#[test]
fn a_refused_move_to_another_agency_is_recorded_and_a_changed_minor_fact_too() {
    use rempart_audit::{Action, Outcome};
    let f = fixture();
    let c = principal("c.durand", "ML-075-13");
    // No NIR, whose digits would have to agree with the birth date changed below.
    let mut adult = file("ML-075-13", "Martin", "lea@example.fr");
    adult.nir = None;
    let id = f.vault.create(&c, followed_by(&c, adult)).unwrap();
    let before = f.store.audit_len().unwrap();
    let patch = PersonInput {
        agency: Some("ML-093-01".into()),
        contact: Some(Contact {
            email: Some("x@example.fr".into()),
            phones: vec![],
            address: None,
        }),
        ..Default::default()
    };
    assert!(matches!(
        f.vault.update(&c, &id, Purpose::Accompaniment, patch),
        Err(VaultError::Forbidden(_))
    ));
    assert_eq!(f.store.audit_len().unwrap(), before + 1);
    let e = entry_at(&f.store, before + 1);
    assert_eq!((e.action, e.outcome), (Action::Update, Outcome::Denied));
    // A birth date that makes the person a minor is a change of what the policy sees.
    let mut identity = file("ML-075-13", "Martin", "lea@example.fr")
        .identity
        .unwrap();
    identity.birth_date = Some("2012-01-01".into());
    let patch = PersonInput {
        identity: Some(identity),
        ..Default::default()
    };
    f.vault
        .update(&c, &id, Purpose::Accompaniment, patch)
        .unwrap();
    let e = entry_at(&f.store, f.store.audit_len().unwrap());
    assert_eq!(e.action, Action::Update);
    assert!(
        e.detail
            .as_deref()
            .unwrap_or("")
            .contains("access fact changed: minor=true"),
        "{e:?}"
    );
}

#[test]
fn no_token_is_made_for_the_local_agency_and_logins_are_lower_cased() {
    let f = fixture();
    let admin = local("ML-075-13");
    assert!(matches!(
        f.vault.create_token(
            &admin,
            "x",
            Role::Operator,
            &Agency::parse("LOCAL").unwrap(),
            3600
        ),
        Err(VaultError::Forbidden(_))
    ));
    let agency = Agency::parse("ML-075-13").unwrap();
    let (t, rec) = f
        .vault
        .create_token(&admin, "C.Durand", Role::Counsellor, &agency, 3600)
        .unwrap();
    assert_eq!(rec.principal, "c.durand");
    assert_eq!(
        f.vault.authenticate(t.reveal_once()).unwrap().name(),
        "c.durand"
    );
    // A suspension names the principal in any case.
    assert_eq!(f.vault.suspend_principal(&admin, "C.DURAND").unwrap(), 1);
    assert!(matches!(
        f.vault.authenticate(t.reveal_once()),
        Err(VaultError::Suspended)
    ));
}

#[test]
fn a_suspension_outlives_its_record_deleted_by_hand() {
    let f = fixture();
    let admin = local("ML-075-13");
    let agency = Agency::parse("ML-075-13").unwrap();
    f.vault
        .create_token(&admin, "c.a", Role::Counsellor, &agency, 3600)
        .unwrap();
    f.vault.suspend_principal(&admin, "c.a").unwrap();
    sql_in(&f, VAULT_FILE, "DELETE FROM principals;");
    assert!(
        matches!(
            f.vault
                .create_token(&admin, "c.a", Role::Counsellor, &agency, 3600),
            Err(VaultError::Forbidden(_))
        ),
        "its suspended tokens still say it is suspended"
    );
}

#[test]
fn a_token_row_that_cannot_be_read_does_not_stop_the_listing() {
    let f = fixture();
    let admin = local("ML-075-13");
    let agency = Agency::parse("ML-075-13").unwrap();
    f.vault
        .create_token(&admin, "c.a", Role::Counsellor, &agency, 3600)
        .unwrap();
    sql_in(
        &f,
        VAULT_FILE,
        "INSERT INTO tokens (id, hash, principal, role, agency, created_at, expires_at) \
         VALUES ('tok_bad', x'0102', 'c.b', 'counsellor', 'ML-075-13', 'not a number', 0);",
    );
    let listed: Vec<String> = f
        .vault
        .list_tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.principal)
        .collect();
    assert_eq!(listed, ["c.a"]);
    // And a suspension still reaches the readable ones.
    assert_eq!(f.vault.suspend_principal(&admin, "c.a").unwrap(), 1);
}

/// Containment ([`Vault::with_guard`]): a stolen account gets a handful of people.
mod containment {
    use super::*;
    use rempart_audit::{Action, Outcome};

    pub(super) fn all_entries(store: &SqliteStore) -> Vec<rempart_audit::AuditEntry> {
        let mut out = Vec::new();
        store
            .audit_visit(0, &mut |_, bytes, _| {
                out.push(rempart_audit::AuditEntry::parse(bytes).unwrap());
                true
            })
            .unwrap();
        out
    }

    /// A last name of letters only, different for each `i` below 676.
    fn name_of(i: usize) -> String {
        let (a, b) = (
            (b'a' + (i % 26) as u8) as char,
            (b'a' + (i / 26) as u8) as char,
        );
        format!("Nom{b}{a}")
    }

    /// A guarded vault, `n` files of agency ML-1 outside c.durand's caseload, and two tokens
    /// of c.durand made eight days ago (past probation).
    fn guarded(n: usize) -> (Fixture, Vec<String>, String, String) {
        let f = super::guarded_fixture();
        let agency = Agency::parse("ML-1").unwrap();
        let local = Principal::local(agency.clone());
        let tokens: Vec<String> = (0..2)
            .map(|_| {
                let (t, _) = f
                    .vault
                    .create_token(&local, "c.durand", Role::Counsellor, &agency, 90 * 86_400)
                    .unwrap();
                t.reveal_once().to_string()
            })
            .collect();
        f.clock.advance(8 * 86_400);
        let service = as_role("app", "ML-1", Role::Service);
        let ids = (0..n)
            .map(|i| {
                f.vault
                    .create(
                        &service,
                        file("ML-1", &name_of(i), &format!("p{i}@example.fr")),
                    )
                    .unwrap()
            })
            .collect();
        (f, ids, tokens[0].clone(), tokens[1].clone())
    }

    #[test]
    fn a_stolen_counsellor_token_reading_the_agency_is_refused_then_suspended_with_an_alert() {
        let (f, ids, stolen, other) = guarded(40);
        let p = f.vault.authenticate(&stolen).unwrap();
        let mut read = Vec::new();
        let mut refused = 0;
        let mut suspended = false;
        for id in &ids {
            f.clock.advance(1);
            match f.vault.read(&p, id, Purpose::Accompaniment, None) {
                Ok(_) => read.push(id.clone()),
                Err(VaultError::Contained { retry_after }) => {
                    assert!(retry_after >= 1);
                    refused += 1;
                }
                Err(VaultError::Suspended) => {
                    suspended = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(suspended, "never suspended");
        assert_eq!(refused, 2);
        assert!(
            read.len() <= 25 && !read.is_empty(),
            "{} exposed",
            read.len()
        );
        // Every token of the principal is refused from now on.
        assert!(matches!(
            f.vault.authenticate(&stolen),
            Err(VaultError::Suspended)
        ));
        assert!(matches!(
            f.vault.authenticate(&other),
            Err(VaultError::Suspended)
        ));
        // The log holds the refusals, naming nobody, and an alert naming exactly who left.
        let log = all_entries(&f.store);
        let refusals: Vec<_> = log
            .iter()
            .filter(|e| e.outcome == Outcome::Denied && e.action == Action::Read)
            .collect();
        assert_eq!(refusals.len(), 2);
        assert!(refusals.iter().all(|e| e.persons.is_empty()));
        let alert = log
            .iter()
            .find(|e| e.action == Action::ContainmentAlert)
            .expect("an alert");
        assert_eq!(alert.persons, read);
        assert!(alert.detail.as_deref().unwrap().contains("trip=refusals"));
        assert!(log.iter().any(|e| e.action == Action::PrincipalSuspend));
    }

    #[test]
    fn listings_and_search_results_count_like_reads() {
        let (f, ids, token, _) = guarded(12);
        let p = f.vault.authenticate(&token).unwrap();
        // A DPO-like walk of the agency is not this counsellor's: search hits outside the
        // caseload are counted person by person.
        let mut shown = 0;
        let mut contained = false;
        for i in 0..ids.len() {
            f.clock.advance(1);
            let term = SearchTerm::email(&format!("p{i}@example.fr")).unwrap();
            match f.vault.search(&p, Purpose::Accompaniment, &term) {
                Ok(hits) => shown += hits.len(),
                Err(VaultError::Contained { .. }) => {
                    contained = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(contained, "search results were never counted");
        assert_eq!(shown, 5, "the counsellor's budget outside the caseload");
    }

    #[test]
    fn decoys_trip_when_read_or_found_never_when_listed_and_are_not_counted() {
        let (f, ids, token, other) = guarded(3);
        let agency = Agency::parse("ML-1").unwrap();
        let rules = f.vault.rules();
        // The files of `guarded` share a NIR and a phone: a decoy has neither.
        let valid = |i: usize, email: &str| {
            let mut input = file("ML-1", &name_of(500 + i), email);
            input.nir = None;
            if let Some(c) = input.contact.as_mut() {
                c.phones.clear();
            }
            ValidFile::parse(input, &rules).unwrap()
        };
        let local = Principal::local(agency.clone());
        // A decoy belongs to no caseload.
        let followed = ValidFile::parse(
            followed_by(
                &as_role("c.durand", "ML-1", Role::Counsellor),
                file("ML-1", "Nomzz", "zz@example.fr"),
            ),
            &rules,
        )
        .unwrap();
        assert!(f.vault.plant_decoys(&local, &agency, &[followed]).is_err());
        // One sharing a search key with a file of the agency (p0@…) is skipped, and so is
        // one sharing it with another decoy of the batch.
        let planted = f
            .vault
            .plant_decoys(
                &local,
                &agency,
                &[
                    valid(0, "lea.nomdecoy@gmail.com"),
                    valid(1, "p0@example.fr"),
                    valid(2, "lea.nomdecoy@gmail.com"),
                    valid(3, "other.decoy@gmail.com"),
                ],
            )
            .unwrap();
        assert_eq!(planted, 2);
        assert_eq!(
            f.store.count_persons().unwrap(),
            3,
            "decoys are not counted"
        );
        assert_eq!(f.vault.agencies().unwrap(), vec![("ML-1".to_string(), 2)]);
        let plant = all_entries(&f.store)
            .into_iter()
            .find(|e| e.action == Action::DecoyPlant)
            .expect("recorded");
        assert!(plant.persons.is_empty(), "the entry names no decoy");
        assert_eq!(plant.detail.as_deref(), Some("agency=ML-1 planted=2"));

        // The agency's listing shows the decoys among the files, and nobody trips.
        let dpo = f
            .vault
            .authenticate(
                f.vault
                    .create_token(&local, "dpo", Role::Dpo, &agency, 86_400)
                    .unwrap()
                    .0
                    .reveal_once(),
            )
            .unwrap();
        let page = f
            .vault
            .list(&dpo, Purpose::DataSubjectRequest, None, 50)
            .unwrap();
        assert_eq!(page.items.len(), 5);
        // A search that finds a decoy suspends at once; nothing leaves.
        let p = f.vault.authenticate(&token).unwrap();
        let real = SearchTerm::email("p1@example.fr").unwrap();
        assert_eq!(
            f.vault
                .search(&p, Purpose::Accompaniment, &real)
                .unwrap()
                .len(),
            1
        );
        let guess = SearchTerm::email("lea.nomdecoy@gmail.com").unwrap();
        assert!(matches!(
            f.vault.search(&p, Purpose::Accompaniment, &guess),
            Err(VaultError::Suspended)
        ));
        assert!(matches!(
            f.vault.authenticate(&other),
            Err(VaultError::Suspended)
        ));
        let alert = all_entries(&f.store)
            .into_iter()
            .find(|e| e.action == Action::ContainmentAlert)
            .expect("an alert");
        assert!(alert.detail.as_deref().unwrap().contains("trip=decoy"));
        assert_eq!(alert.persons, [ids[1].clone()], "who had left before");
        let alerts = f.vault.alerts(&local, None, 10).unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].trip, "decoy");
        assert_eq!(alerts[0].principal, "c.durand");
        // A restore needs a justification, closes the alert, and the tokens work again.
        assert!(f.vault.restore_alert(&local, &alerts[0].id, "").is_err());
        assert!(matches!(
            f.vault.authenticate(&other),
            Err(VaultError::Suspended)
        ));
        let counsellor = as_role("c.other", "ML-1", Role::Counsellor);
        assert!(
            f.vault
                .restore_alert(&counsellor, &alerts[0].id, "checked with the agency")
                .is_err(),
            "only an operator or the DPO restores"
        );
        assert_eq!(
            f.vault
                .restore_alert(&local, &alerts[0].id, "checked with the agency")
                .unwrap(),
            2
        );
        assert!(f.vault.authenticate(&other).is_ok());
        let closed = f.vault.alert(&local, &alerts[0].id).unwrap();
        assert!(closed.restored_at.is_some());
        assert_eq!(closed.restored_by.as_deref(), Some("cli"));
    }

    #[test]
    fn alerts_are_for_their_agency_and_a_restore_gives_no_fresh_budget() {
        let (f, ids, token, _) = guarded(40);
        let p = f.vault.authenticate(&token).unwrap();
        let mut read = 0;
        for id in &ids {
            f.clock.advance(1);
            match f.vault.read(&p, id, Purpose::Accompaniment, None) {
                Ok(_) => read += 1,
                Err(VaultError::Suspended) => break,
                Err(_) => {}
            }
        }
        assert!(matches!(
            f.vault.authenticate(&token),
            Err(VaultError::Suspended)
        ));
        let other = Agency::parse("ML-9").unwrap();
        let dpo_elsewhere = as_role("dpo.b", "ML-9", Role::Dpo);
        assert!(f.vault.alerts(&dpo_elsewhere, None, 10).unwrap().is_empty());
        assert_eq!(other.as_str(), "ML-9");
        let local = Principal::local(Agency::parse("LOCAL").unwrap());
        let alerts = f.vault.alerts(&local, None, 10).unwrap();
        assert_eq!(alerts.len(), 1, "the console sees every agency's");
        assert!(matches!(
            f.vault.alert(&dpo_elsewhere, &alerts[0].id),
            Err(VaultError::NotFound)
        ));
        assert!(f
            .vault
            .restore_alert(&dpo_elsewhere, &alerts[0].id, "looks fine to me, really")
            .is_err());
        let dpo = as_role("dpo", "ML-1", Role::Dpo);
        assert_eq!(f.vault.alerts(&dpo, None, 10).unwrap().len(), 1);
        f.vault
            .restore_alert(
                &dpo,
                &alerts[0].id,
                "checked with the counsellor, token reissued",
            )
            .unwrap();
        // Restored within the minute: the people it was shown still count, new ones do not
        // pass, and it is not suspended for that at once.
        let p = f.vault.authenticate(&token).unwrap();
        assert!(read >= 1);
        assert!(matches!(
            f.vault.read(&p, &ids[39], Purpose::Accompaniment, None),
            Err(VaultError::Contained { .. })
        ));
    }

    #[test]
    fn a_real_file_sharing_a_search_key_with_a_decoy_does_not_trip_its_search() {
        let (f, _, token, _) = guarded(1);
        let agency = Agency::parse("ML-1").unwrap();
        let rules = f.vault.rules();
        let mut decoy = file("ML-1", "Martin", "decoy.martin@example.org");
        decoy.nir = None;
        if let Some(c) = decoy.contact.as_mut() {
            c.phones.clear();
        }
        decoy.identity.as_mut().unwrap().birth_date = Some("2005-03-14".into());
        let planted = f
            .vault
            .plant_decoys(
                &Principal::local(agency.clone()),
                &agency,
                &[ValidFile::parse(decoy, &rules).unwrap()],
            )
            .unwrap();
        assert_eq!(planted, 1);
        // Later, a real Martin born on 14 March 2005 comes to the agency.
        let p = f.vault.authenticate(&token).unwrap();
        let mut real = followed_by(&p, file("ML-1", "MARTIN", "real.person@gmail.com"));
        real.nir = None;
        if let Some(c) = real.contact.as_mut() {
            c.phones.clear();
        }
        real.identity.as_mut().unwrap().birth_date = Some("2005-03-14".into());
        let id = f
            .vault
            .create(&as_role("app", "ML-1", Role::Service), real)
            .unwrap();
        let term = SearchTerm::name_birth("Martin", "2005-03-14").unwrap();
        let hits = f.vault.search(&p, Purpose::Accompaniment, &term).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
            [id],
            "the real file only"
        );
        // The decoy alone is still a trip.
        let term = SearchTerm::email("decoy.martin@example.org").unwrap();
        assert!(matches!(
            f.vault.search(&p, Purpose::Accompaniment, &term),
            Err(VaultError::Suspended)
        ));
    }

    #[test]
    fn a_login_kept_in_the_case_it_was_typed_is_suspended_all_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("k.key");
        Keyring::generate().create_file(&key_path, None).unwrap();
        let clock = Arc::new(FixedClock::at(NOW - 8 * 86_400));
        let open = || {
            vault_in(
                dir.path(),
                Keyring::load(&key_path, None).unwrap(),
                clock.clone(),
            )
            .0
            .with_guard(rempart_guard::GuardConfig::default())
        };
        let agency = Agency::parse("ML-1").unwrap();
        let tok = {
            let (t, _) = open()
                .create_token(
                    &Principal::local(agency.clone()),
                    "c.durand",
                    Role::Counsellor,
                    &agency,
                    90 * 86_400,
                )
                .unwrap();
            t.reveal_once().to_string()
        };
        // As a token made before logins were lower-cased, tagged by the upgrade.
        rusqlite::Connection::open(dir.path().join(VAULT_FILE))
            .unwrap()
            .execute_batch(
                "UPDATE tokens SET tag = NULL, principal = 'C.Durand';
                 DELETE FROM schema_migrations WHERE version >= 8;
                 DROP TABLE alerts; DROP TABLE exports; DROP TABLE incident_events; DROP TABLE notices;
         DROP TABLE notice_batches; DROP TABLE incident_filings; DROP TABLE incident_people;
         DROP TABLE incidents; DROP TABLE export_markers;
         DROP TABLE verification_codes; DROP TABLE accounts; DROP TABLE account_requests;
         ALTER TABLE tokens DROP COLUMN bounds;
         ALTER TABLE persons DROP COLUMN decoy;
                 DROP TABLE principals; DROP INDEX tokens_principal;
                 ALTER TABLE persons DROP COLUMN facts_tag; ALTER TABLE tokens DROP COLUMN tag;
                 ALTER TABLE tokens DROP COLUMN revoked_at;
                 DELETE FROM audit_meta WHERE key = 'facts_unbound';",
            )
            .unwrap();
        clock.advance(8 * 86_400);
        let v = open();
        assert_eq!(v.bind_legacy_facts(false).unwrap(), 1);
        let service = as_role("app", "ML-1", Role::Service);
        let ids: Vec<String> = (0..30)
            .map(|i| {
                v.create(
                    &service,
                    file("ML-1", &name_of(i), &format!("p{i}@example.fr")),
                )
                .unwrap()
            })
            .collect();
        let p = v.authenticate(&tok).unwrap();
        let mut suspended = false;
        for id in &ids {
            clock.advance(1);
            match v.read(&p, id, Purpose::Accompaniment, None) {
                Ok(_) | Err(VaultError::Contained { .. }) => {}
                Err(VaultError::Suspended) => {
                    suspended = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(suspended, "containment suspends it");
        assert!(matches!(v.authenticate(&tok), Err(VaultError::Suspended)));
        let alerts = v.alerts(&Principal::local(agency), None, 10).unwrap();
        assert_eq!(alerts.len(), 1);
    }

    #[test]
    fn a_large_export_runs_only_once_a_second_operator_approved_it() {
        let (f, ids, _, _) = guarded(8);
        let f = Fixture {
            vault: f.vault.with_four_eyes_above(5),
            ..f
        };
        let agency = Agency::parse("ML-1").unwrap();
        let partner = Agency::parse("AFPA-75").unwrap();
        let service = as_role("app", "ML-1", Role::Service);
        for id in &ids[..6] {
            f.vault.enrol(&service, id, &partner, true).unwrap();
        }
        let token = |name: &str, role: Role| {
            let (t, _) = f
                .vault
                .create_token(
                    &Principal::local(agency.clone()),
                    name,
                    role,
                    &agency,
                    86_400,
                )
                .unwrap();
            f.vault.authenticate(t.reveal_once()).unwrap()
        };
        let rssi = token("rssi", Role::Operator);
        let dpo = token("dpo", Role::Dpo);
        let counsellor = token("c.x", Role::Counsellor);
        let afpa = {
            let (t, _) = f
                .vault
                .create_token(
                    &Principal::local(partner.clone()),
                    "afpa-sync",
                    Role::Partner,
                    &partner,
                    86_400,
                )
                .unwrap();
            f.vault.authenticate(t.reveal_once()).unwrap()
        };
        assert!(f
            .vault
            .request_export(&counsellor, &partner, Purpose::PartnerService)
            .is_err());
        let x = f
            .vault
            .request_export(&rssi, &partner, Purpose::PartnerService)
            .unwrap();
        assert_eq!((x.people, x.state.as_str()), (6, "awaiting_approval"));
        assert!(matches!(
            f.vault.run_export(&afpa, &x.id),
            Err(VaultError::Forbidden(_))
        ));
        // Not by the one who asked, nor by another agency, nor by a counsellor.
        assert!(f.vault.approve_export(&rssi, &x.id).is_err());
        assert!(f
            .vault
            .approve_export(&as_role("dpo.b", "ML-9", Role::Dpo), &x.id)
            .is_err());
        assert!(f.vault.approve_export(&counsellor, &x.id).is_err());
        let approved = f.vault.approve_export(&dpo, &x.id).unwrap();
        assert_eq!(approved.state, "ready");
        assert_eq!(approved.approver.as_deref(), Some("dpo"));
        // Only its recipient runs it, once; the files hold what the partner may read, for the
        // people asked for only (one enrolled since is not in it).
        assert!(f.vault.run_export(&dpo, &x.id).is_err());
        assert!(f.vault.run_export(&rssi, &x.id).is_err());
        f.vault.enrol(&service, &ids[7], &partner, true).unwrap();
        let files = f.vault.run_export(&afpa, &x.id).unwrap().wait().unwrap();
        // The people asked for, and the export's markers.
        assert_eq!(files.len(), 6 + EXPORT_MARKERS);
        assert_eq!(files.iter().filter(|v| ids.contains(&v.id)).count(), 6);
        assert!(!files.iter().any(|v| v.id == ids[7]));
        assert!(
            files.iter().all(|v| v.record.nir.is_none()),
            "never the NIR"
        );
        assert!(files.iter().all(|v| v.record.identity.is_some()));
        assert!(f.vault.run_export(&afpa, &x.id).is_err(), "once");
        let log = all_entries(&f.store);
        let export = log
            .iter()
            .find(|e| e.action == Action::Export)
            .expect("recorded");
        assert_eq!(export.persons.len(), 6);
        assert!(log.iter().any(|e| e.action == Action::ExportApprove));
        assert!(log.iter().any(|e| e.action == Action::ExportRequest));
        // A small one is ready at once, and expires after a day.
        f.vault
            .enrol(&service, &ids[6], &Agency::parse("MLX-2").unwrap(), true)
            .unwrap();
        let small = f
            .vault
            .request_export(
                &rssi,
                &Agency::parse("MLX-2").unwrap(),
                Purpose::PartnerService,
            )
            .unwrap();
        assert_eq!((small.people, small.state.as_str()), (1, "ready"));
        f.clock.advance(86_401);
        let mlx = as_role("mlx-sync", "MLX-2", Role::Partner);
        assert!(matches!(
            f.vault.run_export(&mlx, &small.id),
            Err(VaultError::Forbidden(_))
        ));
    }

    #[test]
    fn a_token_made_today_is_on_probation() {
        // No eight days: the token of `guarded` is eight days old; this one is new.
        let (f, _, old, _) = guarded(0);
        let agency = Agency::parse("ML-1").unwrap();
        let (new, _) = f
            .vault
            .create_token(
                &Principal::local(agency.clone()),
                "c.new",
                Role::Counsellor,
                &agency,
                86_400,
            )
            .unwrap();
        let fresh = f.vault.authenticate(new.reveal_once()).unwrap();
        let seasoned = f.vault.authenticate(&old).unwrap();
        let service = as_role("app", "ML-1", Role::Service);
        let caseload = |p: &Principal, tag: usize| -> Vec<String> {
            (0..30)
                .map(|i| {
                    let input = followed_by(
                        p,
                        file("ML-1", &name_of(tag + i), &format!("q{tag}-{i}@example.fr")),
                    );
                    f.vault.create(&service, input).unwrap()
                })
                .collect()
        };
        // Thirty files of one's own caseload over three hours: past probation's 25 a day.
        let reads = |p: &Principal, ids: &[String]| {
            ids.iter()
                .map(|id| {
                    f.clock.advance(360);
                    f.vault.read(p, id, Purpose::Accompaniment, None).is_ok()
                })
                .filter(|ok| *ok)
                .count()
        };
        assert_eq!(reads(&fresh, &caseload(&fresh, 0)), 25);
        assert_eq!(reads(&seasoned, &caseload(&seasoned, 100)), 30);
    }

    #[test]
    fn the_caseload_is_read_freely_and_the_same_file_counts_once() {
        let (f, _, token, _) = guarded(0);
        let p = f.vault.authenticate(&token).unwrap();
        let service = as_role("app", "ML-1", Role::Service);
        let mine: Vec<String> = (0..20)
            .map(|i| {
                let input = followed_by(&p, file("ML-1", &name_of(i), &format!("m{i}@example.fr")));
                f.vault.create(&service, input).unwrap()
            })
            .collect();
        // Twenty files at a counsellor's pace (under ten a minute), each read three times: the
        // same person counts once.
        for id in &mine {
            f.clock.advance(7);
            for _ in 0..3 {
                f.vault.read(&p, id, Purpose::Accompaniment, None).unwrap();
            }
        }
        let page = f.vault.list(&p, Purpose::Accompaniment, None, 50).unwrap();
        assert_eq!(page.items.len(), 20);
    }
}

mod leaks {
    use super::*;
    use rempart_audit::Action;
    use rempart_store::MarkerStore;

    /// A young person of ML-1 with search keys of their own (NIR, email, phone, France Travail
    /// id), and education (which a partner reads).
    fn young(i: u32) -> PersonInput {
        let first13 = format!("2060475113{:03}", 100 + i);
        let nir = format!("{first13}{:02}", nir_key(&first13).unwrap());
        PersonInput {
            agency: Some("ML-1".into()),
            identity: Some(Identity {
                last_name: Some(format!("Nom{}", (b'a' + i as u8) as char)),
                first_names: Some("Léa".into()),
                birth_date: Some("2006-04-17".into()),
                sex: Some("F".into()),
                nationality: Some("FR".into()),
            }),
            nir: Some(nir),
            france_travail_id: Some(format!("{:07}A", 1_000_000 + i)),
            contact: Some(Contact {
                email: Some(format!("young{i}@example.fr")),
                phones: vec![format!("06123456{i:02}")],
                address: None,
            }),
            education: Some(Education {
                level: Some("4".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    struct World {
        f: Fixture,
        ids: Vec<String>,
        enrolled: Vec<String>,
        dpo: Principal,
        afpa: Principal,
    }

    /// A guarded vault with 6 files of ML-1, the first 4 enrolled with AFPA-75, and tokens of
    /// the agency's DPO and of the partner's sync.
    fn world() -> World {
        let f = super::guarded_fixture();
        let agency = Agency::parse("ML-1").unwrap();
        let partner = Agency::parse("AFPA-75").unwrap();
        let service = as_role("app", "ML-1", Role::Service);
        let ids: Vec<String> = (0..6)
            .map(|i| f.vault.create(&service, young(i)).unwrap())
            .collect();
        for id in &ids[..4] {
            f.vault.enrol(&service, id, &partner, true).unwrap();
        }
        let token = |name: &str, role: Role, a: &Agency| {
            let (t, _) = f
                .vault
                .create_token(&Principal::local(a.clone()), name, role, a, 90 * 86_400)
                .unwrap();
            t.reveal_once().to_string()
        };
        let dpo = token("dpo", Role::Dpo, &agency);
        let afpa = token("afpa-sync", Role::Partner, &partner);
        f.clock.advance(8 * 86_400);
        let dpo = f.vault.authenticate(&dpo).unwrap();
        let afpa = f.vault.authenticate(&afpa).unwrap();
        let mut enrolled = ids[..4].to_vec();
        enrolled.sort();
        World {
            f,
            ids,
            enrolled,
            dpo,
            afpa,
        }
    }

    fn run(w: &World) -> (ExportRecord, Vec<PersonView>) {
        let x =
            w.f.vault
                .request_export(
                    &w.dpo,
                    &Agency::parse("AFPA-75").unwrap(),
                    Purpose::PartnerService,
                )
                .unwrap();
        let files =
            w.f.vault
                .run_export(&w.afpa, &x.id)
                .unwrap()
                .wait()
                .unwrap();
        (x, files)
    }

    /// The exported files as a thief writes them to CSV, with `extra` rows after.
    fn csv_of(files: &[PersonView], extra: &[&str]) -> String {
        let mut out =
            String::from("last_name,first_names,birth_date,email,phone,education_level\n");
        for v in files {
            let i = v.record.identity.as_ref().unwrap();
            let c = v.record.contact.as_ref().unwrap();
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                i.last_name.as_deref().unwrap(),
                i.first_names.as_deref().unwrap(),
                i.birth_date.as_deref().unwrap(),
                c.email.as_deref().unwrap_or(""),
                c.phones.first().map(String::as_str).unwrap_or(""),
                v.record
                    .education
                    .as_ref()
                    .and_then(|e| e.level.as_deref())
                    .unwrap_or(""),
            ));
        }
        for r in extra {
            out.push_str(r);
            out.push('\n');
        }
        out
    }

    #[test]
    fn markers_ride_with_each_export_and_are_never_counted_nor_people() {
        let w = world();
        assert_eq!(w.f.vault.count().unwrap(), 6);
        let (x, files) = run(&w);
        let markers: Vec<&PersonView> = files.iter().filter(|v| !w.ids.contains(&v.id)).collect();
        assert_eq!(markers.len(), EXPORT_MARKERS);
        assert_eq!(files.len(), 4 + EXPORT_MARKERS);
        // Among the real files in id order, shaped like them: what a partner reads.
        let ids: Vec<&str> = files.iter().map(|v| v.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let shape = |v: &PersonView| -> Vec<Category> {
            Category::ALL
                .iter()
                .copied()
                .filter(|c| v.record.has(*c))
                .collect()
        };
        for v in &files {
            assert_eq!(
                shape(v),
                [Category::Identity, Category::Contact, Category::Education]
            );
            assert!(v.record.nir.is_none(), "never the NIR to a partner");
            let c = v.record.contact.as_ref().unwrap();
            assert!(c.email.is_some() && c.phones.len() == 1 && c.address.is_none());
        }
        // Kept as decoys of the agency, linked to the export; never counted.
        assert_eq!(w.f.vault.count().unwrap(), 6);
        assert_eq!(w.f.vault.agencies().unwrap(), [("ML-1".to_string(), 2)]);
        let kept: Vec<String> =
            w.f.store
                .export_markers(&x.id)
                .unwrap()
                .into_iter()
                .map(|m| {
                    assert_eq!(
                        (m.agency.as_str(), m.recipient.as_str()),
                        ("ML-1", "AFPA-75")
                    );
                    m.person
                })
                .collect();
        let mut shown: Vec<String> = markers.iter().map(|m| m.id.clone()).collect();
        shown.sort();
        assert_eq!(kept, shown);
        for m in &markers {
            let stored = w.f.store.get_person(&m.id).unwrap().unwrap();
            assert!(stored.decoy && stored.counsellor.is_none() && stored.partners.is_empty());
        }
        // The export's entry names the people exported, not the markers; so does an
        // incident's impact.
        let log = super::containment::all_entries(&w.f.store);
        let export = log.iter().find(|e| e.action == Action::Export).unwrap();
        let mut named = export.persons.clone();
        named.sort();
        assert_eq!(named, w.enrolled);
        let console = Principal::local(Agency::parse("LOCAL").unwrap());
        let incident =
            w.f.vault
                .open_incident(
                    &console,
                    &rempart_vault::IncidentSpec {
                        scope: IncidentScope {
                            principals: vec!["afpa-sync".into()],
                            since: 0,
                            ..IncidentScope::default()
                        },
                        ..Default::default()
                    },
                )
                .unwrap();
        let impact = w.f.vault.incident_impact(&console, &incident.id).unwrap();
        let people: Vec<String> = impact.people.keys().cloned().collect();
        assert_eq!(people, w.enrolled);
        // The partner's own listing holds no marker; each export has markers of its own.
        let page =
            w.f.vault
                .list(&w.afpa, Purpose::PartnerService, None, 50)
                .unwrap();
        assert_eq!(page.items.len(), 4);
        let (y, again) = run(&w);
        let second: Vec<&str> = again
            .iter()
            .filter(|v| !w.ids.contains(&v.id))
            .map(|v| v.id.as_str())
            .collect();
        assert_eq!(second.len(), EXPORT_MARKERS);
        assert!(second.iter().all(|id| !shown.iter().any(|s| s == id)));
        assert_ne!(x.id, y.id);
        assert_eq!(w.f.vault.count().unwrap(), 6);
        // Read through the API, a marker trips containment like any decoy.
        assert!(matches!(
            w.f.vault
                .read(&w.dpo, &shown[0], Purpose::BreachResponse, None),
            Err(VaultError::Suspended)
        ));
    }

    #[test]
    fn a_leaked_export_names_its_people_its_export_and_nobody_else() {
        let w = world();
        let (x, files) = run(&w);
        let csv = csv_of(
            &files,
            &[
                // Nobody of the vault: a synthesised person, and a homonym born another day.
                "Inconnu,Paul,2001-02-03,paul.inconnu@example.com,0799999999,3",
                "Noma,Léa,2001-01-01,,,",
                // Two identifiers of two different people.
                "Nomb,Léa,2006-04-17,young1@example.fr,0612345602,4",
            ],
        );
        // A row the reader cannot read (not UTF-8).
        let mut csv = csv.into_bytes();
        csv.extend_from_slice(b"\xffNom,L\xe9a,2001-01-01,,,\n");
        let m = w.f.vault.match_leaked(&w.dpo, &csv).unwrap();
        assert_eq!(m.rows_read, files.len() as u64 + 4);
        let people: Vec<String> = m.people.keys().cloned().collect();
        assert_eq!(people, w.enrolled, "exactly the people exported");
        assert_eq!(m.matched.len(), 4);
        for r in &m.matched {
            assert_eq!(r.by, "strong");
            assert_eq!(
                r.categories.iter().map(String::as_str).collect::<Vec<_>>(),
                ["contact", "education", "identity"]
            );
        }
        assert_eq!(m.markers.len(), EXPORT_MARKERS);
        assert_eq!(
            m.exports(),
            [(x.id.as_str(), "ML-1", "AFPA-75", x.created_at)]
        );
        let first_extra = files.len() as u64 + 2;
        assert_eq!(m.unmatched, [first_extra, first_extra + 1]);
        assert_eq!(m.ambiguous, [first_extra + 2]);
        assert_eq!(m.unreadable, [first_extra + 3]);
        assert!(m.decoys.is_empty());
        // Recorded with counts alone.
        let log = super::containment::all_entries(&w.f.store);
        let e = log
            .iter()
            .rev()
            .find(|e| e.action == Action::LeakMatch)
            .unwrap();
        assert!(e.persons.is_empty() && e.categories.is_empty());
        let detail = e.detail.as_deref().unwrap();
        assert!(
            detail.starts_with(&format!("rows={} matched=4 ", files.len() + 4)),
            "{detail}"
        );
        assert!(!detail.contains('@') && !detail.contains("Nom"), "{detail}");
        // A leaked file without markers names people and no export.
        let real: Vec<PersonView> = files
            .into_iter()
            .filter(|v| w.ids.contains(&v.id))
            .collect();
        let m =
            w.f.vault
                .match_leaked(&w.dpo, csv_of(&real, &[]).as_bytes())
                .unwrap();
        assert_eq!(m.people.len(), 4);
        assert!(m.markers.is_empty() && m.exports().is_empty());
        // By name and birth date alone, when nothing stronger is there.
        let m =
            w.f.vault
                .match_leaked(&w.dpo, b"nom,date_naissance\nNome,17/04/2006\n")
                .unwrap();
        assert_eq!(m.matched.len(), 1);
        assert_eq!(
            (m.matched[0].person.as_str(), m.matched[0].by),
            (w.ids[4].as_str(), "name_birth")
        );
    }

    #[test]
    fn only_the_dpo_and_operators_match_a_leaked_file_within_their_agency() {
        let w = world();
        let csv = csv_of(&[], &["Noma,Léa,2006-04-17,young0@example.fr,,"]);
        for role in [Role::Counsellor, Role::Partner, Role::Service] {
            assert!(matches!(
                w.f.vault
                    .match_leaked(&as_role("x", "ML-1", role), csv.as_bytes()),
                Err(VaultError::Forbidden(_))
            ));
        }
        let elsewhere =
            w.f.vault
                .match_leaked(&as_role("dpo.b", "ML-2", Role::Dpo), csv.as_bytes())
                .unwrap();
        assert!(
            elsewhere.people.is_empty(),
            "another agency's people are nobody"
        );
        let console = Principal::local(Agency::parse("LOCAL").unwrap());
        let all = w.f.vault.match_leaked(&console, csv.as_bytes()).unwrap();
        assert_eq!(all.people.keys().collect::<Vec<_>>(), [&w.ids[0]]);
        assert!(matches!(
            w.f.vault.match_leaked(&console, b"colour,size\nred,2\n"),
            Err(VaultError::Leak(LeakError::NoKnownColumn))
        ));
    }
}

/// A vault with containment on, default budgets.
fn guarded_fixture() -> Fixture {
    let f = fixture();
    Fixture {
        vault: f.vault.with_guard(rempart_guard::GuardConfig::default()),
        ..f
    }
}
