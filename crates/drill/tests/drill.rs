//! A smaller drill, with the bounds of the containment issue asserted.

use rempart_drill::{bounds, run, DrillOptions};

#[test]
fn a_smaller_drill_holds_every_bound() {
    let report = run(&DrillOptions::small(), &|_| {}).expect("the drill runs");
    let md = report.markdown("cargo test -p rempart-drill");
    println!("{md}");
    let n = &report.normal;
    assert!(n.files_opened > 0 && n.synced > 0 && n.lookups > 0, "{md}");
    assert_eq!(
        (n.refusals, n.suspensions, n.other_errors),
        (0, 0, 0),
        "{md}"
    );
    assert_eq!(report.scenarios.len(), 10, "{md}");
    for s in &report.scenarios {
        if s.role == "partner" {
            assert!(s.exposed <= bounds::PER_PARTNER_BEYOND_SYNC, "{md}");
            continue;
        }
        assert!(
            s.exposed_per_account <= bounds::PER_COUNSELLOR,
            "{}: {md}",
            s.name
        );
        assert!(s.suspended, "{}: not suspended: {md}", s.name);
        let trip = s.trip.expect("a trip");
        assert!(trip <= bounds::SUSPENSION, "{}: {trip:?}", s.name);
        if s.accounts == 3 {
            assert!(s.exposed <= bounds::THREE_OF_ONE_AGENCY, "{md}");
        }
        if let Some(b) = s.total_bound {
            assert!(s.exposed <= b, "{}: {md}", s.name);
        }
    }
    // The attacks reach people before they are stopped (ids are random: an attacker may meet a
    // decoy first and be stopped before anyone, but not in every scenario).
    let december = report
        .scenarios
        .iter()
        .find(|s| s.name.starts_with("December 2025"))
        .expect("the December 2025 scenario");
    assert_eq!(december.total_bound, Some(bounds::CREATED_ACCOUNTS));
    assert!(december.exposed <= 10, "{md}");
    let reached: usize = report.scenarios.iter().map(|s| s.exposed).sum();
    assert!(reached > 0, "no attack reached anybody: {md}");
    assert!(report.violations().is_empty(), "{md}");
}
