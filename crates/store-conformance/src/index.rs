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

/// A principal's entries within a window are found whether indexed yet or not, in log order,
/// without case, and none of another principal or outside the window.
pub fn a_principals_entries_are_found_by_day(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let day = 86_400;
    let batch: Vec<_> = (0..40)
        .map(|i| {
            let mut e = entry();
            e.time = 10 * day + i * (day / 4);
            e.principal = if i % 2 == 0 { "C.Durand" } else { "c.martin" }.into();
            e
        })
        .collect();
    s.append_audit(&batch).unwrap();
    let found = |p: &str, since: i64, until: i64| -> Vec<i64> {
        let mut out = Vec::new();
        s.audit_visit_principal(p, since, until, &mut |_, b| {
            out.push(rempart_audit::AuditEntry::parse(b).unwrap().time);
            true
        })
        .unwrap();
        out
    };
    let want = |since: i64, until: i64| -> Vec<i64> {
        batch
            .iter()
            .filter(|e| e.principal == "C.Durand" && e.time >= since && e.time < until)
            .map(|e| e.time)
            .collect()
    };
    for _ in 0..2 {
        assert_eq!(
            found("c.durand", 11 * day, 13 * day),
            want(11 * day, 13 * day)
        );
        assert_eq!(
            found("C.DURAND", 11 * day + 1, 11 * day + 2),
            want(11 * day + 1, 11 * day + 2)
        );
        assert_eq!(
            found("c.durand", i64::MIN, i64::MAX).len(),
            20,
            "no window: the whole log"
        );
        assert!(found("nobody", 10 * day, 30 * day).is_empty());
        // Again once indexed.
        s.rebuild_audit_index(&mut |_, _| {}).unwrap();
    }
    let mut first = None;
    s.audit_visit_principal("c.martin", 10 * day, 30 * day, &mut |seq, _| {
        first = Some(seq);
        false
    })
    .unwrap();
    assert!(first.is_some(), "a visit stops when asked");
}
