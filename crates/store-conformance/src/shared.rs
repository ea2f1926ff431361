//! Containment's counts shared by the nodes (`SharedGuard`): Redis, and PostgreSQL. Not part of
//! [`crate::conformance_tests`]: the embedded store keeps them in the process.

use rempart_store::SharedGuard;

fn counter(part: Option<&[u8]>) -> u64 {
    part.map_or(0, |b| {
        u64::from_le_bytes(b.try_into().expect("a counter written by this check"))
    })
}

/// `one` and `two`, two handles on the same empty shared counts (two nodes): a principal's part
/// and its agency's are read and replaced together; a change that returns nothing writes
/// nothing; a change may leave the agency's part as it was; a principal's part is replaced
/// alone; and changes from both handles at once, on the same principal and agency, some of
/// them leaving the agency's part, lose no update.
pub fn shared_counts_are_changed_together_and_lose_no_update(
    one: &dyn SharedGuard,
    two: &dyn SharedGuard,
) {
    one.reachable().unwrap();
    assert_eq!(one.principal_part("alice").unwrap(), None);
    let mut seen = Vec::new();
    one.update("alice", "ML-1", &mut |p, a| {
        seen.push((p.map(<[u8]>::to_vec), a.map(<[u8]>::to_vec)));
        Some((b"p1".to_vec(), Some(b"a1".to_vec())))
    })
    .unwrap();
    // Called again, on the same parts, once it turned out to write the agency's.
    assert!(!seen.is_empty() && seen.len() <= 2, "{seen:?}");
    assert!(
        seen.iter().all(|s| *s == (None, None)),
        "nothing there at first"
    );
    // The other node sees what the first wrote; another principal, the agency's part only.
    two.update("bob", "ML-1", &mut |p, a| {
        assert_eq!((p, a), (None, Some(&b"a1"[..])));
        None
    })
    .unwrap();
    assert_eq!(
        two.principal_part("alice").unwrap().as_deref(),
        Some(&b"p1"[..])
    );
    assert_eq!(
        two.principal_part("bob").unwrap(),
        None,
        "None wrote nothing"
    );
    two.update("alice", "ML-1", &mut |p, a| {
        assert_eq!((p, a), (Some(&b"p1"[..]), Some(&b"a1"[..])));
        Some((b"p2, longer".to_vec(), Some(Vec::new())))
    })
    .unwrap();
    // The principal's part alone: the agency's stays as it was.
    two.update("erin", "ML-1", &mut |p, a| {
        assert_eq!((p, a), (None, Some(&b""[..])));
        Some((b"e1".to_vec(), None))
    })
    .unwrap();
    assert_eq!(
        one.principal_part("erin").unwrap().as_deref(),
        Some(&b"e1"[..])
    );
    one.update_principal("alice", &mut |p| {
        assert_eq!(p, Some(&b"p2, longer"[..]));
        Some(b"restored".to_vec())
    })
    .unwrap();
    one.update_principal("carol", &mut |p| {
        assert_eq!(p, None);
        None
    })
    .unwrap();
    assert_eq!(one.principal_part("carol").unwrap(), None);
    one.update("alice", "ML-1", &mut |p, a| {
        assert_eq!((p, a), (Some(&b"restored"[..]), Some(&b""[..])));
        None
    })
    .unwrap();

    // Two nodes, two threads each, half on one principal, all on one agency.
    const EACH: u64 = 40;
    std::thread::scope(|sc| {
        for node in [one, two] {
            for t in 0..2 {
                sc.spawn(move || {
                    let principal = if t == 0 { "shared" } else { "own" };
                    for i in 0..EACH {
                        // Every other change leaves the agency's part as it was.
                        node.update(principal, "ML-2", &mut |p, a| {
                            Some((
                                (counter(p) + 1).to_le_bytes().to_vec(),
                                (i % 2 == 0).then(|| (counter(a) + 1).to_le_bytes().to_vec()),
                            ))
                        })
                        .unwrap();
                    }
                });
            }
        }
    });
    assert_eq!(
        counter(one.principal_part("shared").unwrap().as_deref()),
        2 * EACH
    );
    assert_eq!(
        counter(two.principal_part("own").unwrap().as_deref()),
        2 * EACH
    );
    let mut agency = 0;
    one.update("dan", "ML-2", &mut |_, a| {
        agency = counter(a);
        None
    })
    .unwrap();
    assert_eq!(agency, 2 * EACH, "every update of the agency's part kept");
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `one` and `two`, two handles on the same empty shared counts (two nodes): failed checks
/// counted under a key from both at once lose no count, are read alike from either and are
/// gone past their time; a proof is used once, whichever handles race for it, and may be used
/// again once its time has passed.
pub fn authentication_counts_are_shared_and_kept_until_their_time(
    one: &dyn SharedGuard,
    two: &dyn SharedGuard,
) {
    let now = unix_now();
    assert_eq!(one.failures("a:192.0.2.1", now).unwrap(), None);
    let mut seen = Vec::new();
    one.update_failures("a:192.0.2.1", now, now + 600, &mut |p| {
        seen.push(p.map(<[u8]>::to_vec));
        Some(b"1".to_vec())
    })
    .unwrap();
    assert_eq!(seen, vec![None]);
    assert_eq!(
        two.failures("a:192.0.2.1", now).unwrap().as_deref(),
        Some(&b"1"[..])
    );
    two.update_failures("p:c.durand", now, now + 600, &mut |_| None)
        .unwrap();
    assert_eq!(
        one.failures("p:c.durand", now).unwrap(),
        None,
        "None wrote nothing"
    );

    const EACH: u64 = 40;
    std::thread::scope(|sc| {
        for node in [one, two] {
            for _ in 0..2 {
                sc.spawn(move || {
                    for _ in 0..EACH {
                        node.update_failures("a:198.51.100.0", now, now + 600, &mut |p| {
                            Some((counter(p) + 1).to_le_bytes().to_vec())
                        })
                        .unwrap();
                    }
                });
            }
        }
    });
    assert_eq!(
        counter(one.failures("a:198.51.100.0", now).unwrap().as_deref()),
        4 * EACH,
        "no failure lost"
    );

    // Many attempts, from both nodes at once, on one proof: one wins.
    let wins = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|sc| {
        for node in [one, two] {
            for _ in 0..4 {
                let wins = &wins;
                sc.spawn(move || {
                    if node.first_use("jkt jti-1", now, now + 600).unwrap() {
                        wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        }
    });
    assert_eq!(wins.into_inner(), 1, "a proof is accepted once");
    assert!(two.first_use("jkt jti-2", now, now + 600).unwrap());
    assert!(!one.first_use("jkt jti-2", now, now + 600).unwrap());

    // Past their time: counted afresh, used afresh.
    one.update_failures("p:s.martin", now, now + 1, &mut |_| Some(b"9".to_vec()))
        .unwrap();
    assert!(one.first_use("jkt jti-3", now, now + 1).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let later = unix_now();
    assert_eq!(two.failures("p:s.martin", later).unwrap(), None);
    let mut seen = Vec::new();
    two.update_failures("p:s.martin", later, later + 600, &mut |p| {
        seen.push(p.map(<[u8]>::to_vec));
        Some(b"1".to_vec())
    })
    .unwrap();
    assert_eq!(seen, vec![None], "a count past its time is not read");
    assert!(two.first_use("jkt jti-3", later, later + 600).unwrap());
    assert_eq!(
        one.failures("a:192.0.2.1", later).unwrap().as_deref(),
        Some(&b"1"[..]),
        "within its time"
    );
}
