#![allow(clippy::unwrap_used)]

use super::*;

const DAY: i64 = 86_400;
/// Long after the principal was created (off probation), a Saturday at 10:00 UTC (office
/// hours in Paris).
const T0: i64 = 100 * DAY + 10 * 3_600;

fn counsellor(since: i64) -> Subject<'static> {
    Subject {
        principal: "c.durand",
        role: "counsellor",
        agency: "ML-1",
        since,
        client: None,
    }
}

fn mine(id: &str) -> Exposed<'_> {
    Exposed {
        id,
        in_caseload: true,
        decoy: false,
    }
}

fn other(id: &str) -> Exposed<'_> {
    Exposed {
        id,
        in_caseload: false,
        decoy: false,
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn the_same_person_ten_times_is_one_person() {
    let mut g = Guard::new(GuardConfig::default());
    for s in 0..10 {
        assert_eq!(
            g.decide(&counsellor(0), T0 + s, Kind::Read, &[mine("p1")]),
            Decision::Pass
        );
    }
    assert_eq!(g.exposure("c.durand", T0 + 10, 60), (1, 0));
}

#[test]
fn a_listing_counts_every_person_in_it() {
    let mut g = Guard::new(GuardConfig::default());
    let service = Subject {
        principal: "case-app",
        role: "service",
        agency: "ML-1",
        since: 0,
        client: None,
    };
    let page = ids("p", 50);
    let people: Vec<Exposed> = page.iter().map(|id| mine(id)).collect();
    assert_eq!(g.decide(&service, T0, Kind::Read, &people), Decision::Pass);
    assert_eq!(g.exposure("case-app", T0, 60), (50, 0));
    assert_eq!(g.exposure("case-app", T0, 86_400), (50, 0));
    // A counsellor's budget is 10 people a minute: a page of 50 of them is refused whole.
    assert!(matches!(
        g.decide(&counsellor(0), T0, Kind::Read, &people),
        Decision::Refuse { .. }
    ));
    assert_eq!(
        g.exposure("c.durand", T0, 60),
        (0, 0),
        "a refusal counts nobody"
    );
}

#[test]
fn reads_outside_the_caseload_are_refused_then_the_principal_suspended() {
    let mut g = Guard::new(GuardConfig::default());
    let agency = ids("x", 1_000);
    let mut exposed = 0;
    let mut refused = 0;
    let mut suspended = None;
    for (i, id) in agency.iter().enumerate() {
        match g.decide(&counsellor(0), T0 + i as i64, Kind::Read, &[other(id)]) {
            Decision::Pass => exposed += 1,
            Decision::Refuse { retry_after } => {
                assert!(retry_after >= 1);
                refused += 1;
            }
            Decision::Suspend(t) => {
                suspended = Some(t);
                break;
            }
        }
    }
    assert_eq!(suspended, Some(Trip::Refusals));
    assert_eq!(refused, 2);
    assert!(exposed <= 25, "{exposed} people exposed");
}

#[test]
fn a_refused_response_counts_nobody_and_says_when_to_retry() {
    let mut g = Guard::new(GuardConfig::default());
    let five = ids("x", 5);
    let people: Vec<Exposed> = five.iter().map(|id| other(id)).collect();
    assert_eq!(
        g.decide(&counsellor(0), T0, Kind::Read, &people),
        Decision::Pass
    );
    // A sixth person outside the caseload within the minute: refused until the first leaves.
    assert_eq!(
        g.decide(&counsellor(0), T0 + 20, Kind::Read, &[other("y")]),
        Decision::Refuse { retry_after: 40 }
    );
    assert_eq!(g.exposure("c.durand", T0 + 20, 60), (5, 5));
    // Someone already counted still passes: nothing new leaves.
    assert_eq!(
        g.decide(&counsellor(0), T0 + 21, Kind::Read, &[other("x0")]),
        Decision::Pass
    );
    // A minute later the window has room again.
    assert_eq!(
        g.decide(&counsellor(0), T0 + 60, Kind::Read, &[other("y")]),
        Decision::Pass
    );
}

#[test]
fn a_decoy_suspends_at_once() {
    let mut g = Guard::new(GuardConfig::default());
    let decoy = Exposed {
        id: "d",
        in_caseload: false,
        decoy: true,
    };
    assert_eq!(
        g.decide(&counsellor(0), T0, Kind::Read, &[mine("p"), decoy]),
        Decision::Suspend(Trip::Decoy)
    );
    assert_eq!(g.exposure("c.durand", T0, 60), (0, 0));
}

#[test]
fn a_new_principal_is_on_probation() {
    let g = Guard::new(GuardConfig::default());
    let new = g.limits(&counsellor(T0 - 3_600), T0);
    let old = g.limits(&counsellor(0), T0);
    assert!(new.all.day <= 25 && new.all.day < old.all.day);
    // Probation ends after its term.
    let later = g.limits(&counsellor(T0 - 8 * DAY), T0);
    assert_eq!(later, old);
    // A role the configuration does not name gets the small default.
    let unknown = Subject {
        principal: "x",
        role: "auditor",
        agency: "ML-1",
        since: 0,
        client: None,
    };
    assert_eq!(
        g.limits(&unknown, T0),
        GuardConfig::default().default_limits
    );
}

#[test]
fn an_ordinary_day_of_a_counsellor_is_never_refused() {
    // 40 files of the caseload and 3 others, in office hours, every day of a month.
    let mut g = Guard::new(GuardConfig::default());
    let caseload = ids("c", 120);
    for day in 0..30 {
        // Day 0 is a Saturday: no work on Sundays.
        if day % 7 == 1 {
            continue;
        }
        let start = T0 + day * DAY - 3_600;
        for i in 0..40 {
            let id = &caseload[((day * 7 + i) % 120) as usize];
            assert_eq!(
                g.decide(&counsellor(0), start + i * 600, Kind::Read, &[mine(id)]),
                Decision::Pass
            );
        }
        for i in 0..3 {
            let id = format!("o{day}-{i}");
            assert_eq!(
                g.decide(
                    &counsellor(0),
                    start + 3_600 + i * 1_800,
                    Kind::Read,
                    &[other(&id)]
                ),
                Decision::Pass
            );
        }
    }
}

fn as_of<'a>(principal: &'a str, agency: &'a str, client: Option<&'a str>) -> Subject<'a> {
    Subject {
        principal,
        role: "counsellor",
        agency,
        since: 0,
        client,
    }
}

#[test]
fn at_night_a_counsellor_without_history_has_a_quarter_of_its_budgets() {
    let mut g = Guard::new(GuardConfig::default());
    // 01:00 UTC, 02:00 in Paris: outside office hours; 1 + 3 (off_hours) = 4.
    let night = T0 - 9 * 3_600;
    let who = counsellor(0);
    assert_eq!(
        g.decide(&who, night, Kind::Read, &[mine("a")]),
        Decision::Pass
    );
    assert_eq!(
        g.decide(&who, night, Kind::Read, &[mine("b")]),
        Decision::Pass
    );
    assert!(matches!(
        g.decide(&who, night, Kind::Read, &[mine("c")]),
        Decision::Refuse { .. }
    ));
    assert_eq!(g.signals("c.durand"), vec![Signal::OffHours]);
    // The same in office hours is nothing.
    let mut g = Guard::new(GuardConfig::default());
    for id in ["a", "b", "c"] {
        assert_eq!(g.decide(&who, T0, Kind::Read, &[mine(id)]), Decision::Pass);
    }
    assert!(g.signals("c.durand").is_empty());
}

#[test]
fn a_principal_s_own_hours_replace_the_office_hours_once_learned() {
    let mut g = Guard::new(GuardConfig::default());
    let who = counsellor(0);
    // Ten days of work at 10:00 UTC only.
    for d in 0..10 {
        assert_eq!(
            g.decide(&who, T0 + d * DAY, Kind::Read, &[mine(&format!("p{d}"))]),
            Decision::Pass
        );
    }
    assert!(g.signals("c.durand").is_empty());
    // 15:00 UTC is office hours, but not this principal's.
    g.decide(&who, T0 + 10 * DAY + 5 * 3_600, Kind::Read, &[mine("q")]);
    assert_eq!(g.signals("c.durand"), vec![Signal::OffHours]);
    // An hour next to its own is not.
    g.decide(&who, T0 + 11 * DAY + 3_600, Kind::Read, &[mine("r")]);
    assert!(g.signals("c.durand").is_empty());
}

#[test]
fn searches_that_mostly_miss_paged_listings_and_several_addresses_are_signals() {
    let mut g = Guard::new(GuardConfig::default());
    let who = counsellor(0);
    for k in 0..10 {
        assert_eq!(g.decide(&who, T0 + k, Kind::Search, &[]), Decision::Pass);
    }
    assert_eq!(g.signals("c.durand"), vec![Signal::SearchMisses]);
    // An hour later the misses have left the window.
    g.decide(&who, T0 + 3_700, Kind::Search, &[mine("x")]);
    assert!(g.signals("c.durand").is_empty());

    let mut g = Guard::new(GuardConfig::default());
    let dpo = Subject {
        role: "dpo",
        ..as_of("dpo", "ML-1", None)
    };
    for k in 0..5 {
        let id = format!("l{k}");
        g.decide(&dpo, T0 + k, Kind::Listing { paged: true }, &[mine(&id)]);
    }
    assert_eq!(g.signals("dpo"), vec![Signal::ListingPaging]);

    let mut g = Guard::new(GuardConfig::default());
    g.decide(
        &as_of("c.x", "ML-1", Some("10.0.0.1")),
        T0,
        Kind::Read,
        &[mine("a")],
    );
    g.decide(
        &as_of("c.x", "ML-1", Some("10.0.0.1")),
        T0 + 10,
        Kind::Read,
        &[mine("b")],
    );
    assert!(g.signals("c.x").is_empty());
    g.decide(
        &as_of("c.x", "ML-1", Some("192.0.2.7")),
        T0 + 20,
        Kind::Read,
        &[mine("c")],
    );
    assert_eq!(g.signals("c.x"), vec![Signal::ManyClients]);
}

#[test]
fn many_principals_of_one_agency_refused_together_shrink_everyone_s_budgets() {
    let mut g = Guard::new(GuardConfig::default());
    for c in ["c.a", "c.b", "c.c"] {
        for k in 0..6 {
            g.decide(
                &as_of(c, "ML-1", None),
                T0,
                Kind::Read,
                &[other(&format!("{c}{k}"))],
            );
        }
    }
    g.decide(
        &as_of("c.d", "ML-1", None),
        T0 + 1,
        Kind::Read,
        &[mine("z")],
    );
    assert_eq!(g.signals("c.d"), vec![Signal::AgencyRising]);
    g.decide(
        &as_of("c.e", "ML-2", None),
        T0 + 1,
        Kind::Read,
        &[mine("z")],
    );
    assert!(g.signals("c.e").is_empty(), "another agency");
}

#[test]
fn an_agency_shares_one_budget_for_people_outside_its_caseloads() {
    let mut g = Guard::new(GuardConfig::default());
    // Thirty principals, one outside person each, within a minute: the agency's 30.
    for k in 0..30 {
        let who = format!("c.{k}");
        assert_eq!(
            g.decide(
                &as_of(&who, "ML-1", None),
                T0,
                Kind::Read,
                &[other(&format!("o{k}"))]
            ),
            Decision::Pass
        );
    }
    assert!(matches!(
        g.decide(
            &as_of("c.30", "ML-1", None),
            T0,
            Kind::Read,
            &[other("o30")]
        ),
        Decision::Refuse { .. }
    ));
    assert_eq!(
        g.decide(
            &as_of("c.30", "ML-2", None),
            T0,
            Kind::Read,
            &[other("o30")]
        ),
        Decision::Pass,
        "another agency has its own"
    );
}

#[test]
fn a_learned_baseline_caps_the_day_budget() {
    let mut g = Guard::new(GuardConfig::default());
    let who = counsellor(0);
    // Five working days of 5 people each: the baseline is the floor, 20 a day.
    for d in 0..5 {
        for k in 0..5 {
            let id = format!("d{d}-{k}");
            assert_eq!(
                g.decide(&who, T0 + d * DAY + k * 600, Kind::Read, &[mine(&id)]),
                Decision::Pass
            );
        }
    }
    let day = T0 + 5 * DAY;
    let mut passed = 0;
    for k in 0..40 {
        let id = format!("n{k}");
        match g.decide(&who, day + k * 600, Kind::Read, &[mine(&id)]) {
            Decision::Pass => passed += 1,
            _ => break,
        }
    }
    assert_eq!(passed, 20, "the role allows 60 a day; its baseline 20");
}

#[test]
fn what_was_counted_survives_an_export_and_an_import() {
    let mut g = Guard::new(GuardConfig::default());
    assert!(g.export().is_none(), "nothing counted yet");
    let five = ids("x", 5);
    for id in &five {
        assert_eq!(
            g.decide(&counsellor(0), T0, Kind::Read, &[other(id)]),
            Decision::Pass
        );
    }
    let kept = g.export().expect("a state");
    assert!(g.export().is_none(), "nothing changed since");
    // A new guard (a restarted server) takes it back: the sixth outside person is refused.
    let mut h = Guard::new(GuardConfig::default());
    h.import(&kept).unwrap();
    assert_eq!(h.exposure("c.durand", T0, 60), (5, 5));
    assert!(matches!(
        h.decide(&counsellor(0), T0 + 1, Kind::Read, &[other("y")]),
        Decision::Refuse { .. }
    ));
    assert!(h.import(b"{}").is_err());
    assert!(h.import(b"not json").is_err());
    let mut other_version = String::from_utf8(kept).unwrap();
    other_version = other_version.replacen("\"version\":1", "\"version\":2", 1);
    assert!(h.import(other_version.as_bytes()).is_err());
}

#[test]
fn people_counted_already_pass_when_the_budgets_shrink() {
    let mut g = Guard::new(GuardConfig::default());
    let who = counsellor(0);
    // Seven files at 19:10 to 19:50 local time (office hours)...
    let evening = T0 + 8 * 3_600 + 600;
    let seven = ids("e", 7);
    for (k, id) in seven.iter().enumerate() {
        assert_eq!(
            g.decide(&who, evening + k as i64 * 400, Kind::Read, &[mine(id)]),
            Decision::Pass
        );
    }
    // ...then one of them again at 20:01, off hours (a quarter of the budgets): it passes.
    assert_eq!(
        g.decide(&who, T0 + 9 * 3_600 + 60, Kind::Read, &[mine("e0")]),
        Decision::Pass
    );
}

#[test]
fn only_a_principal_s_own_overruns_count_towards_its_suspension() {
    // A page larger than a whole budget is refused, never suspends.
    let mut g = Guard::new(GuardConfig::default());
    let who = counsellor(0);
    let page = ids("p", 11);
    let people: Vec<Exposed> = page.iter().map(|id| mine(id)).collect();
    for k in 0..5 {
        assert!(matches!(
            g.decide(&who, T0 + k, Kind::Read, &people),
            Decision::Refuse { .. }
        ));
    }
    // The agency's shared budget full (its colleagues' reads) is refused, never suspends.
    let mut g = Guard::new(GuardConfig::default());
    for k in 0..30 {
        let c = format!("c.{k}");
        g.decide(
            &as_of(&c, "ML-1", None),
            T0,
            Kind::Read,
            &[other(&format!("o{k}"))],
        );
    }
    for k in 0..5 {
        assert!(matches!(
            g.decide(
                &as_of("c.late", "ML-1", None),
                T0 + k,
                Kind::Read,
                &[other(&format!("n{k}"))]
            ),
            Decision::Refuse { .. }
        ));
    }
}

#[test]
fn the_agency_rising_does_not_keep_itself_alive() {
    let mut g = Guard::new(GuardConfig::default());
    for c in ["c.a", "c.b", "c.c"] {
        for k in 0..6 {
            g.decide(
                &as_of(c, "ML-1", None),
                T0,
                Kind::Read,
                &[other(&format!("{c}{k}"))],
            );
        }
    }
    // Colleagues working normally while the agency rises are not marked by it: an hour after
    // the three, the agency is calm again.
    for (k, c) in ["c.d", "c.e", "c.f", "c.g"].iter().enumerate() {
        g.decide(
            &as_of(c, "ML-1", None),
            T0 + 60 + k as i64,
            Kind::Read,
            &[mine("z")],
        );
        assert_eq!(g.signals(c), vec![Signal::AgencyRising]);
    }
    g.decide(
        &as_of("c.h", "ML-1", None),
        T0 + 3_700,
        Kind::Read,
        &[mine("y")],
    );
    assert!(g.signals("c.h").is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the order and timing of responses, no window ever holds more distinct
        /// people than its budget, and a person is never counted twice in one window.
        #[test]
        fn no_window_exceeds_its_budget(
            steps in proptest::collection::vec((0u8..40, any::<bool>(), 0i64..400), 1..300),
        ) {
            let mut g = Guard::new(GuardConfig::default());
            let limits = g.limits(&counsellor(0), T0);
            let mut now = T0;
            for (person, inside, gap) in steps {
                now += gap;
                let id = format!("p{person}");
                let e = Exposed { id: &id, in_caseload: inside, decoy: false };
                if let Decision::Suspend(_) = g.decide(&counsellor(0), now, Kind::Read, &[e]) {
                    break;
                }
                for (len, all, out) in [
                    (60, limits.all.minute, limits.outside.minute),
                    (3_600, limits.all.hour, limits.outside.hour),
                    (86_400, limits.all.day, limits.outside.day),
                ] {
                    let (a, o) = g.exposure("c.durand", now, len);
                    prop_assert!(a <= u64::from(all), "{a} > {all} in {len}");
                    prop_assert!(o <= u64::from(out), "{o} > {out} in {len}");
                }
            }
        }
    }
}
