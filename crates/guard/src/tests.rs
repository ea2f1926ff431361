#![allow(clippy::unwrap_used)]

use super::*;

const DAY: i64 = 86_400;
/// Long after the principal was created: off probation.
const T0: i64 = 100 * DAY;

fn counsellor(since: i64) -> Subject<'static> {
    Subject {
        principal: "c.durand",
        role: "counsellor",
        since,
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
            g.decide(&counsellor(0), T0 + s, &[mine("p1")]),
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
        since: 0,
    };
    let page = ids("p", 50);
    let people: Vec<Exposed> = page.iter().map(|id| mine(id)).collect();
    assert_eq!(g.decide(&service, T0, &people), Decision::Pass);
    assert_eq!(g.exposure("case-app", T0, 60), (50, 0));
    assert_eq!(g.exposure("case-app", T0, 86_400), (50, 0));
    // A counsellor's budget is 10 people a minute: a page of 50 of them is refused whole.
    assert!(matches!(
        g.decide(&counsellor(0), T0, &people),
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
        match g.decide(&counsellor(0), T0 + i as i64, &[other(id)]) {
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
    assert_eq!(g.decide(&counsellor(0), T0, &people), Decision::Pass);
    // A sixth person outside the caseload within the minute: refused until the first leaves.
    assert_eq!(
        g.decide(&counsellor(0), T0 + 20, &[other("y")]),
        Decision::Refuse { retry_after: 40 }
    );
    assert_eq!(g.exposure("c.durand", T0 + 20, 60), (5, 5));
    // Someone already counted still passes: nothing new leaves.
    assert_eq!(
        g.decide(&counsellor(0), T0 + 21, &[other("x0")]),
        Decision::Pass
    );
    // A minute later the window has room again.
    assert_eq!(
        g.decide(&counsellor(0), T0 + 60, &[other("y")]),
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
        g.decide(&counsellor(0), T0, &[mine("p"), decoy]),
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
        since: 0,
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
        let start = T0 + day * DAY + 9 * 3_600;
        for i in 0..40 {
            let id = &caseload[((day * 7 + i) % 120) as usize];
            assert_eq!(
                g.decide(&counsellor(0), start + i * 600, &[mine(id)]),
                Decision::Pass
            );
        }
        for i in 0..3 {
            let id = format!("o{day}-{i}");
            assert_eq!(
                g.decide(&counsellor(0), start + 3_600 + i * 1_800, &[other(&id)]),
                Decision::Pass
            );
        }
    }
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
                if let Decision::Suspend(_) = g.decide(&counsellor(0), now, &[e]) {
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
