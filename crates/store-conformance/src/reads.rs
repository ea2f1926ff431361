//! Point reads and snapshots.

use crate::{entry, person, token, Fixture};

/// A snapshot sees the state of its first read until it is dropped, for files, tokens and
/// principals alike, from whichever thread reads through it; the store's own reads see
/// every commit.
pub fn a_snapshot_sees_one_state_until_dropped(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    s.insert_persons(&[person("a", "ML-1")], &[entry()])
        .unwrap();
    let snap = s.snapshot().unwrap();
    assert!(snap.get_person("a").unwrap().is_some());
    s.insert_persons(&[person("b", "ML-1")], &[entry()])
        .unwrap();
    s.insert_token(&token("t1", 1, "c.a"), &entry()).unwrap();
    assert!(snap.get_person("b").unwrap().is_none());
    assert!(snap.token_by_hash(&[1; 32]).unwrap().is_none());
    assert!(s.get_person("b").unwrap().is_some());
    assert!(s.token_by_hash(&[1; 32]).unwrap().is_some());
    // The handle, not the thread, holds the snapshot.
    let moved = std::thread::scope(|t| {
        t.spawn(move || snap.get_person("b").unwrap().is_none())
            .join()
            .unwrap()
    });
    assert!(moved, "a snapshot moved to another thread keeps its state");
    let again = s.snapshot().unwrap();
    assert!(again.get_person("b").unwrap().is_some());
    assert!(again.token_by_hash(&[1; 32]).unwrap().is_some());
    assert!(again.principal("c.a").unwrap().is_none());
}
