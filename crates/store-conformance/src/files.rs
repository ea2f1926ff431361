//! Files: writes with their entries, reads, searches and listings by scope.

use crate::{entry, person, Fixture};
use rempart_domain::Category;
use rempart_store::{FactsChange, ListScope, PersonUpdate, StoreError};

/// Every operation on files, each search and listing confined to its scope, enrolments
/// changed only over the tag they were computed from.
pub fn files_are_written_read_searched_listed_and_erased(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    s.insert_persons(&[person("a", "ML-1"), person("b", "ML-2")], &[])
        .unwrap();
    let a = s.get_person("a").unwrap().unwrap();
    assert_eq!(a.fields.len(), 2);
    assert_eq!(
        s.find_by_index(1, &[9; 32], &ListScope::Agency("ML-1"), 10)
            .unwrap(),
        vec!["a".to_string()],
        "a search sees the files of its scope only"
    );
    assert_eq!(
        s.find_by_index(1, &[9; 32], &ListScope::Agency("ML-2"), 10)
            .unwrap(),
        vec!["b".to_string()]
    );
    assert_eq!(
        s.list_persons(&ListScope::Agency("ML-2"), None, 10)
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .list_persons(&ListScope::Agency("ML-2"), Some("b"), 10)
        .unwrap()
        .is_empty());
    let caseload = |c| {
        s.list_persons(
            &ListScope::Caseload {
                agency: "ML-1",
                counsellor: c,
            },
            None,
            10,
        )
        .unwrap()
        .len()
    };
    assert_eq!((caseload("c.a"), caseload("c.b")), (1, 0));
    // Enrolments: written with their entry, read back with the file, listed by partner.
    let tagged = |old: u8, new: u8| FactsChange {
        expected: Some(vec![old; 32]),
        tag: vec![new; 32],
    };
    assert!(
        matches!(
            s.set_enrolment("a", "AFPA", true, &tagged(7, 8), 5, &entry()),
            Err(StoreError::Conflict(_))
        ),
        "a change computed from another tag is refused"
    );
    assert!(
        s.get_person("a").unwrap().unwrap().partners.is_empty(),
        "and nothing written"
    );
    assert!(s
        .set_enrolment("a", "AFPA", true, &tagged(b'a', 1), 5, &entry())
        .unwrap());
    assert_eq!(
        s.get_person("a").unwrap().unwrap().facts_tag,
        Some(vec![1; 32])
    );
    assert!(
        !s.set_enrolment("a", "AFPA", true, &tagged(1, 2), 6, &entry())
            .unwrap(),
        "already"
    );
    assert!(
        !s.set_enrolment("zz", "AFPA", true, &tagged(1, 2), 6, &entry())
            .unwrap(),
        "no file"
    );
    assert_eq!(
        s.find_by_index(1, &[9; 32], &ListScope::Enrolled("AFPA"), 10)
            .unwrap(),
        vec!["a".to_string()]
    );
    assert_eq!(
        s.get_person("a").unwrap().unwrap().partners,
        vec!["AFPA".to_string()]
    );
    let enrolled = s
        .list_persons(&ListScope::Enrolled("AFPA"), None, 10)
        .unwrap();
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].partners, vec!["AFPA".to_string()]);
    let len = s.audit_len().unwrap();
    let u = PersonUpdate {
        fields: vec![(Category::Contact, None)],
        index: vec![(2, [8; 32])],
        counsellor: Some(Some("c.b".into())),
        facts: Some(FactsChange {
            expected: Some(vec![1; 32]),
            tag: vec![3; 32],
        }),
        now: 200,
    };
    assert!(
        !s.update_person("a", "ML-2", &u, &entry()).unwrap(),
        "update is scoped to the agency"
    );
    assert!(s.update_person("a", "ML-1", &u, &entry()).unwrap());
    assert_eq!(s.audit_len().unwrap(), len + 1);
    let a = s.get_person("a").unwrap().unwrap();
    assert_eq!(a.fields.len(), 1);
    assert_eq!(a.counsellor.as_deref(), Some("c.b"));
    assert_eq!((caseload("c.a"), caseload("c.b")), (0, 1));
    assert!(s
        .find_by_index(1, &[9; 32], &ListScope::Agency("ML-1"), 10)
        .unwrap()
        .is_empty());
    assert!(s.delete_person("a", &entry()).unwrap());
    assert!(s.get_person("a").unwrap().is_none());
    assert!(s
        .list_persons(&ListScope::Enrolled("AFPA"), None, 10)
        .unwrap()
        .is_empty());
    assert_eq!(s.count_persons().unwrap(), 1);
}

/// A failed insert writes no file and no entry.
pub fn an_insert_is_all_or_nothing_with_its_entries(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    assert!(s
        .insert_persons(&[person("a", "X"), person("a", "X")], &[entry()])
        .is_err());
    assert_eq!(s.count_persons().unwrap(), 0);
    assert_eq!(
        s.audit_len().unwrap(),
        0,
        "the audit entry went with the failed insert"
    );
}

/// A write act returns once its entries are in the log, indexed by person.
pub fn a_write_returns_once_its_entry_is_in_the_log(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let mut e = entry();
    e.persons = vec!["a".into()];
    s.insert_persons(&[person("a", "ML-1")], std::slice::from_ref(&e))
        .unwrap();
    assert_eq!(s.audit_len().unwrap(), 1);
    assert_eq!(s.audit_for_person("a", 10).unwrap().len(), 1);
}

/// A decoy is stored and read back as one, listed with the agency's files, and left out of
/// the counts of files and of the agencies.
pub fn decoys_are_kept_apart_from_counts(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let decoy = |id: &str, agency: &str| rempart_store::NewPerson {
        counsellor: None,
        decoy: true,
        ..person(id, agency)
    };
    s.insert_persons(
        &[person("a", "ML-1"), decoy("d", "ML-1"), decoy("e", "ML-2")],
        &[],
    )
    .unwrap();
    assert!(s.get_person("d").unwrap().unwrap().decoy);
    assert!(!s.get_person("a").unwrap().unwrap().decoy);
    let listed: Vec<String> = s
        .list_persons(&ListScope::Agency("ML-1"), None, 10)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, ["a", "d"], "a decoy sits in its agency's listing");
    assert_eq!(s.count_persons().unwrap(), 1, "decoys are not counted");
    assert_eq!(
        s.agencies().unwrap(),
        vec![("ML-1".to_string(), 1)],
        "an agency of decoys only is none"
    );
}
