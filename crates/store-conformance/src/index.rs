//! The per-person index of the log.

use crate::{entry, Fixture};

/// A person's history is newest first, limited, complete up to the last entry whether
/// indexed yet or not; the index checks against the log, and is rebuilt from it.
pub fn a_persons_history_is_complete_newest_first(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let before = s.audit_len().unwrap();
    let batch: Vec<_> = (0..50)
        .map(|i| {
            let mut e = entry();
            e.time = i;
            e.persons = if i % 2 == 0 {
                vec!["a".into()]
            } else {
                vec!["a".into(), "b".into()]
            };
            e
        })
        .collect();
    s.append_audit(&batch).unwrap();
    let times = |p: &str, limit: usize| -> Vec<i64> {
        s.audit_for_person(p, limit)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.time)
            .collect()
    };
    assert_eq!(times("a", 3), [49, 48, 47]);
    assert_eq!(times("b", 100).len(), 25);
    assert!(times("b", 100).iter().all(|t| t % 2 == 1));
    assert!(times("nobody", 10).is_empty());
    let seqs: Vec<u64> = s
        .audit_for_person("a", 2)
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(seqs, [before + 50, before + 49]);
    let indexed = s.rebuild_audit_index(&mut |_, _| {}).unwrap();
    assert_eq!(indexed, s.audit_len().unwrap());
    let check = s.check_audit_index(&mut |_, _| {}).unwrap();
    assert_eq!(check.first_difference, None);
    assert_eq!(times("a", 3), [49, 48, 47], "the same once indexed");
}
