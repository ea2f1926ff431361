//! Tests of the SQLite backend's own behaviour: layouts of earlier versions, the outbox after
//! a crash, files restored from older copies, locks between processes.

use crate::conn::{init_conn, ReadTx};
use crate::index::{index_pending, unindexed, Known, BUCKET_BITS};
use crate::log::append_canonical;
use crate::pool::Pool;
use crate::schema::{migrate, AUDIT_MIGRATIONS, VAULT_MIGRATIONS};
use crate::{SqliteKeyStore, SqliteStore, AUDIT_FILE, AUDIT_INDEX_FILE, VAULT_FILE};
use rempart_audit::{AuditEntry, Checkpoint};
use rempart_domain::Category;
use rempart_store::{
    AuditIndex, AuditLog, FileStore, KeyStore, NewPerson, Snapshots, StoreError, StoredKey,
    TokenRecord, TokenStore,
};
use rusqlite::{params, Connection};
use std::path::Path;

fn person(id: &str, agency: &str) -> NewPerson {
    NewPerson {
        id: id.into(),
        agency: agency.into(),
        counsellor: Some("c.a".into()),
        dk_version: 1,
        fields: vec![
            (Category::Identity, vec![1, 2, 3]),
            (Category::Contact, vec![4, 5]),
        ],
        index: vec![(1, [9; 32])],
        now: 100,
        facts_tag: vec![id.as_bytes()[0]; 32],
        decoy: false,
    }
}

fn entry() -> AuditEntry {
    AuditEntry {
        time: 1,
        principal: "c".into(),
        token_id: "t".into(),
        agency: "ML-1".into(),
        role: "counsellor".into(),
        action: rempart_audit::Action::Update,
        persons: vec!["a".into()],
        categories: vec![],
        purpose: None,
        client: None,
        request_id: None,
        outcome: rempart_audit::Outcome::Allowed,
        detail: None,
    }
}

/// The times of `person`'s history, newest first.
fn history_times(s: &SqliteStore, person: &str, limit: usize) -> Vec<i64> {
    s.audit_for_person(person, limit)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.time)
        .collect()
}

/// Indexes up to `limit` pending entries at once.
fn index_now(s: &SqliteStore, limit: usize) -> usize {
    let reader = s.log.read().unwrap();
    let log = ReadTx::begin(&reader).unwrap();
    let mut w = s.index.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let n = index_pending(&tx, &log, limit, None, &mut Known::default()).unwrap();
    tx.commit().unwrap();
    n
}

/// Entries of `s`'s log not yet in its index.
fn unindexed_in(s: &SqliteStore) -> i64 {
    unindexed(&s.index.read().unwrap(), &s.log.read().unwrap()).unwrap()
}

/// Waits until the indexer has caught up with the log (it does when idle).
fn wait_indexed(s: &SqliteStore) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while unindexed_in(s) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the log was not indexed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_history_of_a_person_joins_the_indexed_part_and_the_unindexed_tail() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let mut e = entry();
    for i in 0..10 {
        e.persons = vec![if i % 2 == 0 { "a".into() } else { "b".into() }];
        e.time = i;
        s.append_audit(std::slice::from_ref(&e)).unwrap();
        if i == 5 {
            assert_eq!(index_now(&s, 1000), 6);
        }
    }
    let times = |limit| history_times(&s, "a", limit);
    assert_eq!(
        times(10),
        [8, 6, 4, 2, 0],
        "newest first, across the boundary"
    );
    assert_eq!(times(3), [8, 6, 4]);
    assert_eq!(times(1), [8]);
    // The indexer may have indexed the tail meanwhile (it does so when idle).
    assert!(unindexed_in(&s) <= 4);
}

#[test]
fn known_persons_are_used_only_for_a_run_they_cover_whole() {
    let ps = |n: &str| vec![n.to_string()];
    let mut k = Known::default();
    k.extend(5, [ps("a"), ps("b"), ps("c")]);
    k.extend(8, [ps("d")]);
    assert_eq!(k.last(), Some(8));
    assert_eq!(
        k.take(6, 7),
        Some(vec![(6, ps("b")), (7, ps("c"))]),
        "entry 5 was indexed by someone else"
    );
    assert_eq!(k.last(), Some(8));
    // Someone else appended 9: the run breaks and only what follows is known.
    k.extend(10, [ps("e")]);
    assert_eq!(k.take(9, 10), None);
    assert_eq!(k.last(), None);
    k.extend(11, [ps("f"), ps("g")]);
    assert_eq!(k.take(11, 13), None, "13 is not known");
    assert_eq!(k.last(), None);
}

#[test]
fn the_index_matches_the_log_when_another_store_appends_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open(dir.path()).unwrap();
    let b = SqliteStore::open(dir.path()).unwrap();
    let batch = |who: &str, round: usize| -> Vec<AuditEntry> {
        (0..100)
            .map(|i| {
                let mut e = entry();
                e.persons = vec![format!("{who}{}", (round * 100 + i) % 7)];
                e
            })
            .collect()
    };
    // a's writer indexes under load after 4,096 entries, from the persons it knows; b's
    // entries then break its run, and its next indexing reads the log back.
    for round in 0..90 {
        a.append_audit(&batch("a", round)).unwrap();
        if round == 45 {
            b.append_audit(&batch("b", round)).unwrap();
        }
    }
    // Wait for both indexers to index the tail (they do when idle).
    wait_indexed(&a);
    let mut total = 0;
    for who in ["a", "b"] {
        for i in 0..7 {
            let person = format!("{who}{i}");
            let history = a.audit_for_person(&person, 100_000).unwrap();
            for (seq, e) in &history {
                assert_eq!(e.persons, std::slice::from_ref(&person), "entry {seq}");
            }
            total += history.len();
        }
    }
    assert_eq!(total, 9100);
    assert_eq!(a.audit_len().unwrap(), 9100);
}

#[test]
fn the_history_of_a_person_spans_the_stretches_of_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let stretch = 1i64 << BUCKET_BITS;
    // Person "a" at the start, the end and across the boundaries of three stretches.
    let a_at = [1, 2, stretch - 1, stretch, stretch + 1, 2 * stretch + 7];
    let n = 2 * stretch + 10;
    let entries: Vec<AuditEntry> = (1..=n)
        .map(|seq| {
            let mut e = entry();
            e.time = seq;
            e.persons = vec![if a_at.contains(&seq) { "a" } else { "b" }.into()];
            e
        })
        .collect();
    s.append_audit(&entries).unwrap();
    // All but the last few: the tail is found by scanning.
    index_now(&s, (n - 5) as usize);
    let times = |limit| history_times(&s, "a", limit);
    let mut newest_first = a_at.to_vec();
    newest_first.reverse();
    assert_eq!(times(100), newest_first);
    assert_eq!(times(4), newest_first[..4]);
    assert_eq!(times(2), newest_first[..2]);
    assert!(s.audit_for_person("nobody", 10).unwrap().is_empty());
}

/// The canonical bytes of `entry()` at `time`.
#[test]
fn the_latest_checkpoint_is_read_alone_among_many() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.latest_checkpoint().unwrap(), None);
    let cp = |size: u64| Checkpoint::new(size, &[size as u8; 32], size as i64, &[7; 64]);
    // Recorded out of order: the latest is the largest, not the last inserted.
    for i in 0..2_000u64 {
        s.insert_checkpoint(&cp((i * 7_919) % 2_000 + 1)).unwrap();
    }
    assert_eq!(s.latest_checkpoint().unwrap(), Some(cp(2_000)));
    assert_eq!(s.checkpoints().unwrap().len(), 2_000);
    // An older row that does not parse is not read.
    let c = Connection::open(dir.path().join(AUDIT_FILE)).unwrap();
    c.execute(
        "UPDATE audit_checkpoints SET checkpoint = x'00' WHERE size = 1000",
        [],
    )
    .unwrap();
    assert_eq!(s.latest_checkpoint().unwrap(), Some(cp(2_000)));
    assert!(matches!(
        s.checkpoints(),
        Err(StoreError::Corrupt("checkpoint"))
    ));
}

fn canonical_at(time: i64) -> Vec<u8> {
    let mut e = entry();
    e.time = time;
    e.persons = vec!["a".into()];
    e.canonical()
}

#[test]
fn entries_a_crash_left_in_the_outbox_are_in_the_log_at_the_next_opening() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.append_audit(&[entry()]).unwrap();
    drop(s);
    // As if a write act had committed and the process had died before its entries moved.
    let c = Connection::open(dir.path().join(VAULT_FILE)).unwrap();
    for t in [10, 11] {
        c.execute(
            "INSERT INTO audit_outbox (entry) VALUES (?1)",
            params![canonical_at(t)],
        )
        .unwrap();
    }
    drop(c);
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.audit_len().unwrap(), 3);
    assert_eq!(
        history_times(&s, "a", 10),
        [11, 10, 1],
        "moved after the log, in the order of the outbox"
    );
    let left: i64 = s
        .pool
        .read()
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "moved rows leave the outbox");
    drop(s);
    // Opening again moves nothing twice.
    assert_eq!(
        SqliteStore::open(dir.path()).unwrap().audit_len().unwrap(),
        3
    );
}

#[test]
fn after_vault_db_alone_is_restored_from_an_older_copy_write_entries_still_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.checkpoint().unwrap();
    drop(s);
    let old = std::fs::read(dir.path().join(VAULT_FILE)).unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.insert_persons(&[person("a", "ML-1")], &[entry(), entry()])
        .unwrap();
    assert_eq!(s.audit_len().unwrap(), 2);
    s.checkpoint().unwrap();
    drop(s);
    // vault.db from before the two entries; audit.db as it is.
    std::fs::write(dir.path().join(VAULT_FILE), old).unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.insert_persons(&[person("b", "ML-1")], &[entry()])
        .unwrap();
    assert_eq!(s.audit_len().unwrap(), 3, "the new entry is in the log");
}

#[test]
fn reads_are_recorded_while_vault_db_is_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    // Outbox rows moved into the log and not yet deleted: the writer thread will try.
    s.insert_persons(&[person("a", "ML-1")], &[entry()])
        .unwrap();
    // A long write transaction of vault.db (an import), past the writer's idle round.
    let held = s.pool.write();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|sc| {
        sc.spawn(|| tx.send(s.append_audit(&[entry()])).unwrap());
        let r = rx.recv_timeout(std::time::Duration::from_secs(10));
        drop(held);
        assert!(
            matches!(r, Ok(Ok(()))),
            "a read's entry waited for vault.db's writer: {r:?}"
        );
    });
    assert_eq!(s.audit_len().unwrap(), 2);
}

/// A database at an older schema (`migrations`) holding a log of 300 entries naming "a",
/// then `sql`.
fn old_layout(path: &Path, migrations: &[&str], sql: &str) {
    let old = Pool::new(path.to_path_buf(), init_conn, init_conn).unwrap();
    migrate(&old, migrations).unwrap();
    let mut w = old.write();
    let tx = w.transaction().unwrap();
    let bytes: Vec<Vec<u8>> = (1..=300).map(canonical_at).collect();
    append_canonical(&tx, bytes.iter().map(Vec::as_slice)).unwrap();
    tx.execute_batch(sql).unwrap();
    tx.commit().unwrap();
}

#[test]
fn the_log_of_an_installation_made_before_audit_db_moves_there_whole() {
    let dir = tempfile::tempdir().unwrap();
    // The layout of migrations 1–6: the log inside vault.db.
    old_layout(
        &dir.path().join(VAULT_FILE),
        &VAULT_MIGRATIONS[..6],
        "INSERT INTO audit_persons (person_id, seq) VALUES ('a', 1), ('a', 2);
         UPDATE audit_meta SET value = 2 WHERE key = 'indexed_through';
         INSERT INTO audit_checkpoints (size, checkpoint) VALUES (300, x'7b7d');",
    );
    let leaves = |c: &Connection| -> Vec<Vec<u8>> {
        let mut st = c
            .prepare("SELECT leaf FROM audit_log ORDER BY seq")
            .unwrap();
        let rows = st.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    let before = leaves(&Connection::open(dir.path().join(VAULT_FILE)).unwrap());
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.audit_len().unwrap(), 300);
    assert_eq!(leaves(&s.log.read().unwrap()), before);
    assert_eq!(s.audit_for_person("a", 1000).unwrap().len(), 300);
    let moved: (i64, i64) = s
        .log
        .read()
        .unwrap()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM audit_checkpoints), (SELECT COUNT(*) FROM audit_nodes)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(moved, (1, 1), "checkpoints and subtrees");
    let left: i64 = s
        .pool
        .read()
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('audit_log', 'audit_persons', 'audit_nodes', 'audit_checkpoints')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the moved tables are gone from vault.db");
    drop(s);
    assert_eq!(
        SqliteStore::open(dir.path()).unwrap().audit_len().unwrap(),
        300
    );
}

#[test]
fn the_index_audit_db_held_is_built_again_with_principal_keys() {
    let dir = tempfile::tempdir().unwrap();
    // The layout of audit.db's migration 1: the index beside the log, persons only. Entry 7
    // names only "a": a row for "z" could only come from a copy.
    old_layout(
        &dir.path().join(AUDIT_FILE),
        &AUDIT_MIGRATIONS[..1],
        "INSERT INTO audit_persons (bucket, person_id, seq)
             SELECT 0, 'a', seq FROM audit_log WHERE seq <= 200;
         INSERT INTO audit_persons (bucket, person_id, seq) VALUES (0, 'z', 7);
         UPDATE log_meta SET value = 200 WHERE key = 'indexed_through';",
    );
    let s = SqliteStore::open(dir.path()).unwrap();
    let left: (i64, i64) = s
        .log
        .read()
        .unwrap()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM sqlite_schema WHERE name = 'audit_persons'),
                    (SELECT COUNT(*) FROM log_meta WHERE key = 'indexed_through')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(left, (0, 0), "the old index is gone from audit.db");
    wait_indexed(&s);
    let z: i64 = s
        .index
        .read()
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM persons WHERE person_id = 'z'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(z, 0, "built from the log, not copied");
    assert_eq!(s.audit_for_person("a", 1000).unwrap().len(), 300);
    let principal_rows: i64 = s
        .index
        .read()
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM persons WHERE person_id LIKE '@%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(principal_rows > 0, "with the principal keys");
}

#[test]
fn an_index_of_another_log_is_built_again_from_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut e = entry();
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        e.persons = vec!["a".into()];
        s.append_audit(&vec![e.clone(); 10]).unwrap();
        wait_indexed(&s);
        let o = SqliteStore::open(other.path()).unwrap();
        e.persons = vec!["b".into()];
        o.append_audit(&vec![e.clone(); 6]).unwrap();
        o.checkpoint().unwrap();
    }
    // audit.db replaced by another log (a restore from an older copy looks the same to
    // the index: its position is past the log, or names another leaf).
    std::fs::copy(other.path().join(AUDIT_FILE), dir.path().join(AUDIT_FILE)).unwrap();
    let _ = std::fs::remove_file(dir.path().join(format!("{AUDIT_FILE}-wal")));
    let s = SqliteStore::open(dir.path()).unwrap();
    assert!(
        s.audit_for_person("a", 100).unwrap().is_empty(),
        "the old index names entries this log does not have"
    );
    assert_eq!(s.audit_for_person("b", 100).unwrap().len(), 6);
    wait_indexed(&s);
    assert_eq!(s.audit_for_person("b", 100).unwrap().len(), 6);
    assert!(s.audit_for_person("a", 100).unwrap().is_empty());
}

#[test]
fn the_log_takes_entries_while_the_index_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    // Another connection holds the index's write lock: the indexer waits for it, the log's
    // writer must not.
    let blocker = Connection::open(dir.path().join(AUDIT_INDEX_FILE)).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut e = entry();
    e.persons = vec!["a".into()];
    for _ in 0..3 {
        s.append_audit(&vec![e.clone(); 2000]).unwrap();
    }
    s.append_audit(std::slice::from_ref(&e)).unwrap();
    assert_eq!(s.audit_len().unwrap(), 6001);
    assert_eq!(unindexed_in(&s), 6001, "nothing indexed while locked");
    assert_eq!(s.audit_for_person("a", 10_000).unwrap().len(), 6001);
    blocker.execute_batch("COMMIT").unwrap();
    wait_indexed(&s);
    assert_eq!(s.audit_for_person("a", 10_000).unwrap().len(), 6001);
}

#[test]
fn closing_the_store_does_not_wait_for_the_whole_index_backlog() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    // A long log nobody indexed (written by an older binary, or restored).
    let total: i64 = 4 * 50_000;
    {
        let mut c = Connection::open(dir.path().join(AUDIT_FILE)).unwrap();
        let tx = c.transaction().unwrap();
        let one = canonical_at(1);
        append_canonical(&tx, (0..total as usize).map(|_| one.as_slice())).unwrap();
        tx.commit().unwrap();
    }
    let s = SqliteStore::open(dir.path()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while unindexed_in(&s) == total {
        assert!(std::time::Instant::now() < deadline, "indexing never began");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(s);
    let s = SqliteStore::open(dir.path()).unwrap();
    assert!(
        unindexed_in(&s) > 0,
        "the indexer stops between batches once the store closes"
    );
    assert_eq!(s.audit_for_person("a", 10).unwrap().len(), 10);
}

#[test]
fn two_writers_on_one_database_wait_for_each_other_instead_of_failing() {
    // As `rempart serve` and a CLI command (or the benchmark's second server) do.
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open(dir.path()).unwrap();
    let b = SqliteStore::open(dir.path()).unwrap();
    std::thread::scope(|s| {
        for store in [&a, &b] {
            for _ in 0..4 {
                s.spawn(move || {
                    for _ in 0..50 {
                        store.append_audit(&[entry()]).unwrap();
                        let n = unique();
                        let mut hash = [0u8; 32];
                        hash[..8].copy_from_slice(&n.to_be_bytes());
                        store
                            .insert_token(
                                &TokenRecord {
                                    id: format!("t{n}"),
                                    hash,
                                    principal: "p".into(),
                                    role: "dpo".into(),
                                    agency: "ML-1".into(),
                                    created_at: 0,
                                    expires_at: 1,
                                    suspended: false,
                                    revoked_at: None,
                                    bounds: String::new(),
                                    tag: None,
                                },
                                &entry(),
                            )
                            .unwrap();
                    }
                });
            }
        }
    });
    assert_eq!(a.audit_len().unwrap(), 800);
}

#[test]
fn a_snapshot_ends_its_transaction_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.insert_persons(&[person("a", "ML-1")], &[]).unwrap();
    let snap = s.snapshot().unwrap();
    assert!(snap.get_person("a").unwrap().is_some());
    s.insert_persons(&[person("b", "ML-1")], &[]).unwrap();
    assert!(snap.get_person("b").unwrap().is_none());
    drop(snap);
    // The connection went back to the pool outside any transaction.
    let c = s.pool.read().unwrap();
    assert!(c.is_autocommit());
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn a_corrupt_index_is_moved_aside_and_built_again_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.append_audit(&[entry(), entry()]).unwrap();
    wait_indexed(&s);
    drop(s);
    let file = dir.path().join(AUDIT_INDEX_FILE);
    std::fs::write(&file, vec![0x5Au8; 8192]).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("{AUDIT_INDEX_FILE}{suffix}")));
    }
    let s = SqliteStore::open(dir.path()).expect("a corrupt index does not keep the store closed");
    assert!(dir
        .path()
        .join(format!("{AUDIT_INDEX_FILE}.corrupt"))
        .exists());
    wait_indexed(&s);
    assert_eq!(history_times(&s, "a", 10).len(), 2);
    let checked = s.check_audit_index(&mut |_, _| {}).unwrap();
    assert_eq!((checked.through, checked.first_difference), (2, None));
}

#[test]
fn migrations_are_recorded_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    drop(SqliteStore::open(dir.path()).unwrap());
    let c = Connection::open(dir.path().join(VAULT_FILE)).unwrap();
    c.execute("INSERT INTO schema_migrations VALUES (99, 0)", [])
        .unwrap();
    drop(c);
    assert!(matches!(
        SqliteStore::open(dir.path()),
        Err(StoreError::SchemaTooNew { found: 99, .. })
    ));
}

#[test]
fn destroyed_keys_leave_no_bytes_in_the_key_store_files() {
    let dir = tempfile::tempdir().unwrap();
    let k = SqliteKeyStore::open(dir.path()).unwrap();
    let secret = vec![0xA7u8; 60];
    k.put_keys(&[StoredKey {
        person: "p".into(),
        master_version: 1,
        wrapped: secret.clone(),
    }])
    .unwrap();
    k.put_keys(&[StoredKey {
        person: "q".into(),
        master_version: 1,
        wrapped: vec![1; 60],
    }])
    .unwrap();
    assert!(k.destroy_key("p").unwrap());
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()));
    }
    assert!(k.get_key("q").unwrap().is_some());
}

#[test]
fn a_write_made_while_the_log_refuses_entries_reaches_the_log_once_it_accepts_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let log = Connection::open(dir.path().join(AUDIT_FILE)).unwrap();
    log.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    log.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END;").unwrap();
    // The act and its entry are durable together, in vault.db; the entry waits there.
    let mut e = entry();
    e.time = 7;
    s.insert_persons(&[person("a", "ML-1")], std::slice::from_ref(&e))
        .unwrap();
    assert_eq!(s.audit_len().unwrap(), 0);
    assert!(s.append_audit(&[entry()]).is_err());
    log.execute_batch("DROP TRIGGER refuse;").unwrap();
    // The next batch of the writer moves it first.
    s.append_audit(&[entry()]).unwrap();
    let times: Vec<i64> = s
        .audit_for_person("a", 10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.time)
        .collect();
    assert_eq!(times, [1, 7]);
}
