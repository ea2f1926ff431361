//! Export markers: written with the export's run, all or nothing, once.

use crate::{entry, person, Fixture};
use rempart_store::{ExportRecord, ListScope, MarkerRecord, NewPerson};

/// A ready export of `a` (ML-1) to AFPA.
fn ready_export() -> ExportRecord {
    ExportRecord {
        id: "exp_1".into(),
        agency: "ML-1".into(),
        recipient: "AFPA".into(),
        purpose: "partner_service".into(),
        requester: "op".into(),
        people: 1,
        ids: vec!["a".into()],
        state: "ready".into(),
        approver: None,
        created_at: 10,
    }
}

/// A marker file: a decoy of ML-1 in no caseload, with a search key of its own.
fn marker_file(id: &str) -> NewPerson {
    NewPerson {
        counsellor: None,
        decoy: true,
        index: vec![(1, [id.as_bytes()[0]; 32])],
        ..person(id, "ML-1")
    }
}

fn record(id: &str) -> MarkerRecord {
    MarkerRecord {
        person: id.into(),
        export: "exp_1".into(),
        agency: "ML-1".into(),
        recipient: "AFPA".into(),
        at: 20,
    }
}

/// An export runs once with its markers and its entry, in one transaction: a run that fails
/// leaves the export ready and writes no marker, file or entry; the markers are decoys (never
/// counted), found by their search keys and read back by file and by export.
pub fn an_export_runs_once_with_its_markers(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    s.insert_persons(&[person("a", "ML-1")], &[]).unwrap();
    s.insert_export(&ready_export(), &entry()).unwrap();
    let len = s.audit_len().unwrap();
    // A marker whose id is taken: the whole run is refused, nothing written.
    assert!(s
        .run_export_with_markers(
            "exp_1",
            "ready",
            "done",
            &[marker_file("m"), marker_file("a")],
            &[record("m"), record("a")],
            &entry(),
        )
        .is_err());
    assert_eq!(s.export("exp_1").unwrap().unwrap().state, "ready");
    assert!(s.get_person("m").unwrap().is_none());
    assert!(s.marker("m").unwrap().is_none());
    assert_eq!(
        s.audit_len().unwrap(),
        len,
        "the entry went with the failed run"
    );

    assert!(s
        .run_export_with_markers(
            "exp_1",
            "ready",
            "done",
            &[marker_file("n"), marker_file("m")],
            &[record("n"), record("m")],
            &entry(),
        )
        .unwrap());
    assert_eq!(s.audit_len().unwrap(), len + 1);
    assert_eq!(s.export("exp_1").unwrap().unwrap().state, "done");
    assert!(s.get_person("m").unwrap().unwrap().decoy);
    assert_eq!(s.count_persons().unwrap(), 1, "markers are not counted");
    assert_eq!(s.agencies().unwrap(), vec![("ML-1".to_string(), 2)]);
    assert_eq!(s.marker("m").unwrap(), Some(record("m")));
    assert_eq!(s.marker("a").unwrap(), None, "a real file is no marker");
    assert_eq!(
        s.export_markers("exp_1").unwrap(),
        vec![record("m"), record("n")],
        "in file id order"
    );
    assert!(s.export_markers("exp_2").unwrap().is_empty());
    assert_eq!(
        s.find_by_index(1, &[b'm'; 32], &ListScope::Agency("ML-1"), 10)
            .unwrap(),
        vec!["m".to_string()]
    );
    assert!(
        s.list_persons(&ListScope::Enrolled("AFPA"), None, 10)
            .unwrap()
            .is_empty(),
        "a marker is enrolled with nobody"
    );

    // Once: a second run writes nothing.
    assert!(!s
        .run_export_with_markers(
            "exp_1",
            "ready",
            "done",
            &[marker_file("o")],
            &[record("o")],
            &entry(),
        )
        .unwrap());
    assert!(s.get_person("o").unwrap().is_none());
    assert!(s.marker("o").unwrap().is_none());
    assert_eq!(s.audit_len().unwrap(), len + 1);
}
