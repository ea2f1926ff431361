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
/// nothing; a principal's part is replaced alone; and changes from both handles at once, on
/// the same principal and agency, lose no update.
pub fn shared_counts_are_changed_together_and_lose_no_update(
    one: &dyn SharedGuard,
    two: &dyn SharedGuard,
) {
    one.reachable().unwrap();
    assert_eq!(one.principal_part("alice").unwrap(), None);
    let mut seen = Vec::new();
    one.update("alice", "ML-1", &mut |p, a| {
        seen.push((p.map(<[u8]>::to_vec), a.map(<[u8]>::to_vec)));
        Some((b"p1".to_vec(), b"a1".to_vec()))
    })
    .unwrap();
    assert_eq!(seen, vec![(None, None)], "nothing there at first");
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
        Some((b"p2, longer".to_vec(), Vec::new()))
    })
    .unwrap();
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
                    for _ in 0..EACH {
                        node.update(principal, "ML-2", &mut |p, a| {
                            Some((
                                (counter(p) + 1).to_le_bytes().to_vec(),
                                (counter(a) + 1).to_le_bytes().to_vec(),
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
    assert_eq!(agency, 4 * EACH, "every update of the agency's part kept");
}
