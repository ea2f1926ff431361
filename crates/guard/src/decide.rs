//! The one decision: whether a response may leave, on one principal's account, its agency's
//! windows and marks. The local guard and the shared one (parts kept in Redis or the
//! database) both decide here.

use crate::signals::Marks;
use crate::window::Window;
use crate::WINDOWS;
use crate::{room, Account, Decision, Exposed, GuardConfig, Kind, Limits, Signal, Subject, Trip};

/// A decision, and what an alert reports when it suspends.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What becomes of the response.
    pub decision: Decision,
    /// For a suspension: what the principal was shown and why.
    pub report: Option<Report>,
}

/// What a suspension's alert says of the principal.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// The people its responses showed over the last day, in the order shown.
    pub exposed: Vec<String>,
    /// Distinct people over the last minute, hour and day, and among them those outside the
    /// caseload.
    pub counts: [(u64, u64); 3],
    /// The signals active at the decision.
    pub signals: Vec<Signal>,
}

impl GuardConfig {
    /// The limits in force for `who` at `now`.
    pub fn limits_for(&self, who: &Subject, now: i64) -> Limits {
        let normal = self
            .limits
            .get(who.role)
            .copied()
            .unwrap_or(self.default_limits);
        let on_probation = now.saturating_sub(who.since) < self.probation_secs as i64;
        if on_probation {
            normal.min(self.probation)
        } else {
            normal
        }
    }
}

impl Account {
    /// Distinct people over the last `window` seconds (one of [`WINDOWS`], else none), and
    /// among them those outside the caseload.
    pub(crate) fn exposure(&mut self, now: i64, window: u64) -> (u64, u64) {
        let now = u64::try_from(now).unwrap_or(0);
        let Some(i) = WINDOWS.iter().position(|&w| w == window) else {
            return (0, 0);
        };
        self.all[i].expire(now, window);
        self.outside[i].expire(now, window);
        (self.all[i].total(), self.outside[i].total())
    }

    /// The people counted over the last day, in the order they were counted.
    pub(crate) fn exposed(&mut self, now: i64) -> Vec<String> {
        let now = u64::try_from(now).unwrap_or(0);
        self.all[2].expire(now, WINDOWS[2]);
        self.all[2].people().map(str::to_string).collect()
    }

    fn report(&mut self, now: i64) -> Report {
        Report {
            exposed: self.exposed(now),
            counts: WINDOWS.map(|w| self.exposure(now, w)),
            signals: self.signals.clone(),
        }
    }

    /// Clears the refusals (a restored principal), keeping the people shown.
    pub(crate) fn pardon(&mut self) {
        self.refusals = Window::default();
    }
}

/// Decides whether a response of `kind` showing `people` may leave for `who` at `now`, on
/// `who`'s account and its agency's windows and marks, counting its people when it may. Every
/// decision changes the account (it observes the principal's habits).
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide_on(
    config: &GuardConfig,
    account: &mut Account,
    agency: &mut [Window; 3],
    marks: &mut Marks,
    who: &Subject,
    now: i64,
    kind: Kind,
    people: &[Exposed],
) -> Verdict {
    let decision = decision(config, account, agency, marks, who, now, kind, people);
    let report = match decision {
        Decision::Suspend(_) => Some(account.report(now)),
        _ => None,
    };
    Verdict { decision, report }
}

#[allow(clippy::too_many_arguments)]
fn decision(
    config: &GuardConfig,
    account: &mut Account,
    agency: &mut [Window; 3],
    marks: &mut Marks,
    who: &Subject,
    now: i64,
    kind: Kind,
    people: &[Exposed],
) -> Decision {
    if people.iter().any(|p| p.decoy) {
        return Decision::Suspend(Trip::Decoy);
    }
    let base = config.limits_for(who, now);
    let office_role = config.office_roles.iter().any(|r| r == who.role);
    let t = u64::try_from(now).unwrap_or(0);
    account
        .habits
        .observe(&config.signals, t, kind, people.len(), who.client);
    let mut signals = account.habits.active(&config.signals, now, office_role);
    if marks.rising(t, config.signals.agency_principals) {
        signals.push(Signal::AgencyRising);
    }
    let weight = 1.0
        + signals
            .iter()
            .map(|s| config.signals.weight(*s))
            .sum::<f64>();
    let mut limits = Limits {
        all: base.all.divided(weight),
        outside: base.outside.divided(weight),
    };
    if let Some(day) = account.baseline.day_limit(&config.baseline) {
        limits.all = limits.all.capped(day);
    }
    // A principal is marked by signals of its own, never by the agency's rising alone
    // (which would keep itself alive).
    if signals.iter().any(|s| *s != Signal::AgencyRising) {
        marks.mark(who.principal, t);
    }
    account.signals = signals;
    if people.is_empty() {
        return Decision::Pass;
    }
    let suspend_after = u64::from(config.suspend_after_refusals.max(1));
    let outside: Vec<&str> = people
        .iter()
        .filter(|p| !p.in_caseload)
        .map(|p| p.id)
        .collect();
    let everyone: Vec<&str> = people.iter().map(|p| p.id).collect();
    let (all_wait, all_never) = room(&mut account.all, limits.all, t, &everyone);
    let (out_wait, out_never) = room(&mut account.outside, limits.outside, t, &outside);
    let (agency_wait, _) = room(agency, config.agency_outside, t, &outside);
    let retry_after = all_wait.max(out_wait).max(agency_wait);
    if retry_after > 0 {
        // Only the principal's own overruns count towards its suspension: not a response too
        // large to ever fit (a smaller page will), not the agency's shared budget (its
        // colleagues' reads).
        let own = (all_wait > 0 && !all_never) || (out_wait > 0 && !out_never);
        if own {
            marks.mark(who.principal, t);
            account.refusals.expire(t, 3_600);
            account.refusals.add_event(t);
            if account.refusals.total() >= suspend_after {
                return Decision::Suspend(Trip::Refusals);
            }
        }
        return Decision::Refuse { retry_after };
    }
    for w in account.all.iter_mut() {
        everyone.iter().for_each(|id| w.add(t, id));
    }
    for w in account.outside.iter_mut() {
        outside.iter().for_each(|id| w.add(t, id));
    }
    for w in agency.iter_mut() {
        outside.iter().for_each(|id| w.add(t, id));
    }
    account.baseline.count(now, everyone.iter().copied());
    account.habits.learn(&config.signals, now);
    Decision::Pass
}
