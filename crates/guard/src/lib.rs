//! Containment: how many people a principal's responses have exposed, and whether the next
//! response may leave.
//!
//! The guard counts **people, not requests**: every person whose personal data appears in a
//! response counts once per window, whatever the endpoint (a read, search hits, a page of a
//! listing, a `PATCH` answer). Reading one file ten times is one person; a listing of 50 names is
//! 50. Each principal has budgets of distinct people over sliding windows (a minute, an hour, a
//! day), set per role; a new principal, or one whose role or agency just changed, is on a
//! smaller probation budget. People outside the principal's caseload have budgets of their own,
//! far smaller. A response that would overrun a budget is refused (the caller may retry once the window
//! has moved); a principal refused again and again, or who touches a decoy file, is suspended.
//!
//! Budgets shrink with **signals** beyond volume ([`Signal`], weights in [`SignalConfig`]):
//! hours the principal never works, paging through agency listings, searches that mostly miss,
//! several client addresses at once, many principals of one agency refused together. Once a
//! principal has a few working days behind it, its **baseline** (its usual day) caps its day
//! budget. Each **agency** has budgets of its own for people outside the caseloads, shared by
//! all its principals.
//!
//! No I/O and no clock of its own: the caller passes the time and carries out the decision
//! (answering `429`, suspending, alerting). A refused response counts nobody.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod baseline;
mod decide;
mod parts;
mod signals;
mod window;

pub use baseline::BaselineConfig;
pub use decide::{Report, Verdict};
pub use parts::{pardon_part, PartsDecision, PartsError};
pub use signals::{Signal, SignalConfig};

use baseline::Baseline;
use decide::decide_on;
use signals::{AgencyWatch, Habits};
use std::collections::HashMap;
use window::Window;

/// Distinct people a principal may be shown per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Per sliding minute.
    pub minute: u32,
    /// Per sliding hour.
    pub hour: u32,
    /// Per sliding day.
    pub day: u32,
}

impl Budget {
    fn per_window(&self) -> [u32; 3] {
        [self.minute, self.hour, self.day]
    }
}

/// The windows' lengths, seconds: a minute, an hour, a day.
const WINDOWS: [u64; 3] = [60, 3_600, 86_400];

/// Seconds until `ids` fit in every window under `budget` (0: they fit now; a window in which
/// they are all counted already never refuses them), and whether they never will (more new
/// people than a window's whole budget).
fn room(windows: &mut [Window; 3], budget: Budget, now: u64, ids: &[&str]) -> (u64, bool) {
    let mut wait = 0;
    let mut never = false;
    for ((w, len), limit) in windows.iter_mut().zip(WINDOWS).zip(budget.per_window()) {
        w.expire(now, len);
        let mut fresh: Vec<&str> = ids.iter().copied().filter(|id| !w.holds(id)).collect();
        fresh.sort_unstable();
        fresh.dedup();
        let added = fresh.len() as u64;
        let limit = u64::from(limit);
        if added > 0 && w.total() + added > limit {
            never |= added > limit;
            wait = wait.max(w.room_after(now, len, added, limit));
        }
    }
    (wait, never)
}

/// A role's budgets: every person shown, and those outside the principal's caseload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Every person.
    pub all: Budget,
    /// People outside the caseload (not assigned to the counsellor, not enrolled with the
    /// partner): what a stolen account reads, and what ordinary work rarely touches.
    pub outside: Budget,
}

impl Budget {
    /// Each window's budget divided by `by` (at least 1 person).
    fn divided(self, by: f64) -> Budget {
        let d = |b: u32| ((f64::from(b) / by.max(1.0)).floor() as u32).max(1);
        Budget {
            minute: d(self.minute),
            hour: d(self.hour),
            day: d(self.day),
        }
    }

    /// The day budget at most `day` (and the shorter windows no larger than it).
    fn capped(self, day: u32) -> Budget {
        let day = self.day.min(day);
        Budget {
            minute: self.minute.min(day),
            hour: self.hour.min(day),
            day,
        }
    }
}

impl Limits {
    fn min(self, other: Limits) -> Limits {
        let m = |a: Budget, b: Budget| Budget {
            minute: a.minute.min(b.minute),
            hour: a.hour.min(b.hour),
            day: a.day.min(b.day),
        };
        Limits {
            all: m(self.all, other.all),
            outside: m(self.outside, other.outside),
        }
    }
}

const fn budget(minute: u32, hour: u32, day: u32) -> Budget {
    Budget { minute, hour, day }
}

/// The budgets of probation: a principal's first week, or a role without limits of its own
/// (an operator, whose work is not reading files).
const SMALL: Limits = Limits {
    all: budget(10, 25, 25),
    outside: budget(5, 10, 20),
};

/// What the guard decides with.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// Limits by role name; a role without any gets [`GuardConfig::default_limits`].
    pub limits: HashMap<String, Limits>,
    /// The limits of a role not in `limits`.
    pub default_limits: Limits,
    /// The limits of a principal on probation (each budget the lower of this and the role's).
    pub probation: Limits,
    /// How long a new principal, or one whose role or agency changed, stays on probation (s).
    pub probation_secs: u64,
    /// Refusals within an hour after which the principal is suspended.
    pub suspend_after_refusals: u32,
    /// Distinct people outside the caseloads that all the principals of one agency together
    /// may be shown.
    pub agency_outside: Budget,
    /// Signals' weights and thresholds.
    pub signals: SignalConfig,
    /// Roles whose principals work office hours ([`Signal::OffHours`] before their own hours
    /// are learned).
    pub office_roles: Vec<String>,
    /// The learned baseline.
    pub baseline: BaselineConfig,
}

impl Default for GuardConfig {
    /// Limits for the network's roles: a counsellor opens 10 to 40 files of a caseload of 40
    /// to 120 a day and looks up a few others; a partner syncs its enrolled people nightly; a
    /// service works for the agency's applications.
    fn default() -> Self {
        let limits = [
            (
                "counsellor",
                Limits {
                    all: budget(10, 25, 60),
                    outside: budget(5, 10, 15),
                },
            ),
            (
                "partner",
                Limits {
                    all: budget(500, 2_000, 5_000),
                    outside: budget(5, 20, 50),
                },
            ),
            (
                "service",
                Limits {
                    all: budget(500, 5_000, 20_000),
                    outside: budget(500, 5_000, 20_000),
                },
            ),
            (
                "dpo",
                Limits {
                    all: budget(60, 100, 200),
                    outside: budget(60, 100, 200),
                },
            ),
            ("operator", SMALL),
        ]
        .into_iter()
        .map(|(r, l)| (r.to_string(), l))
        .collect();
        let small = SMALL;
        GuardConfig {
            limits,
            default_limits: small,
            probation: small,
            probation_secs: 7 * 86_400,
            suspend_after_refusals: 3,
            agency_outside: budget(30, 100, 300),
            signals: SignalConfig::default(),
            office_roles: ["counsellor", "dpo", "operator"].map(String::from).to_vec(),
            baseline: BaselineConfig::default(),
        }
    }
}

/// The principal a response is for.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Principal name.
    pub principal: &'a str,
    /// Role name.
    pub role: &'a str,
    /// Agency code.
    pub agency: &'a str,
    /// When the principal was created, or its role or agency last changed (Unix seconds).
    pub since: i64,
    /// The client address of the request, when known.
    pub client: Option<&'a str>,
}

/// What kind of response it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file read.
    Read,
    /// Search hits (possibly none: a miss).
    Search,
    /// A page of a listing of the agency; `paged` after the first page.
    Listing {
        /// Not the first page.
        paged: bool,
    },
    /// The categories an update gives back.
    Update,
}

/// A person in a response.
#[derive(Debug, Clone, Copy)]
pub struct Exposed<'a> {
    /// Pseudonymous id.
    pub id: &'a str,
    /// In the principal's caseload (assigned, or enrolled with the partner).
    pub in_caseload: bool,
    /// A decoy file: no work ever reaches one.
    pub decoy: bool,
}

/// Why a principal is suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    /// A decoy file appeared in a response.
    Decoy,
    /// Refused [`GuardConfig::suspend_after_refusals`] times within an hour.
    Refusals,
}

/// What becomes of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It leaves; its people are counted.
    Pass,
    /// It does not leave; nobody is counted. Retry after this many seconds.
    Refuse {
        /// Seconds until the window that is full has room again.
        retry_after: u64,
    },
    /// It does not leave, and the principal is suspended.
    Suspend(Trip),
}

/// One principal's exposure.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Account {
    all: [Window; 3],
    outside: [Window; 3],
    refusals: Window,
    habits: Habits,
    baseline: Baseline,
    /// The signals active at its last decision.
    signals: Vec<Signal>,
}

/// The guard: every principal's exposure, and the decisions.
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    accounts: HashMap<String, Account>,
    /// People outside the caseloads shown to each agency's principals.
    agencies: HashMap<String, [Window; 3]>,
    watch: AgencyWatch,
    /// Something was counted or learned since the last [`Guard::export`].
    changed: bool,
}

/// What the guard keeps across restarts: every count, learned hour and baseline.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    /// The format of this state.
    version: u32,
    accounts: HashMap<String, Account>,
    agencies: HashMap<String, [Window; 3]>,
    watch: AgencyWatch,
}

/// The version of [`Kept`].
const KEPT_VERSION: u32 = 1;

/// Why a kept state could not be taken back.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It is not a state this version writes.
    #[error("the kept containment state is not one this version reads")]
    Unreadable,
}

impl Guard {
    /// A guard with nothing counted yet.
    pub fn new(config: GuardConfig) -> Guard {
        Guard {
            config,
            accounts: HashMap::new(),
            agencies: HashMap::new(),
            watch: AgencyWatch::default(),
            changed: false,
        }
    }

    /// The limits in force for `who` at `now`.
    pub fn limits(&self, who: &Subject, now: i64) -> Limits {
        self.config.limits_for(who, now)
    }

    /// Decides whether a response of `kind` showing `people` may leave for `who` at `now`,
    /// and counts its people when it may. A search that found nobody is passed too (an empty
    /// `people`): it counts as a miss.
    pub fn decide(&mut self, who: &Subject, now: i64, kind: Kind, people: &[Exposed]) -> Decision {
        self.decide_reported(who, now, kind, people).decision
    }

    /// [`Guard::decide`], with what a suspension's alert reports.
    pub fn decide_reported(
        &mut self,
        who: &Subject,
        now: i64,
        kind: Kind,
        people: &[Exposed],
    ) -> Verdict {
        let account = self.accounts.entry(who.principal.to_string()).or_default();
        let agency = self.agencies.entry(who.agency.to_string()).or_default();
        let marks = self.watch.of(who.agency);
        self.changed = true;
        decide_on(&self.config, account, agency, marks, who, now, kind, people)
    }

    /// Every count, learned hour and baseline, to keep across a restart; `None` when nothing
    /// changed since the last export.
    pub fn export(&mut self) -> Option<Vec<u8>> {
        if !self.changed {
            return None;
        }
        let kept = Kept {
            version: KEPT_VERSION,
            accounts: std::mem::take(&mut self.accounts),
            agencies: std::mem::take(&mut self.agencies),
            watch: std::mem::take(&mut self.watch),
        };
        let bytes = serde_json::to_vec(&kept).ok();
        self.accounts = kept.accounts;
        self.agencies = kept.agencies;
        self.watch = kept.watch;
        if bytes.is_some() {
            self.changed = false;
        }
        bytes
    }

    /// Takes back a state [`Guard::export`] made (replacing what this guard counted).
    pub fn import(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let kept: Kept = serde_json::from_slice(bytes).map_err(|_| StateError::Unreadable)?;
        if kept.version != KEPT_VERSION {
            return Err(StateError::Unreadable);
        }
        self.accounts = kept.accounts;
        self.agencies = kept.agencies;
        self.watch = kept.watch;
        self.changed = false;
        Ok(())
    }

    /// The signals that were active at `principal`'s last decision.
    pub fn signals(&self, principal: &str) -> Vec<Signal> {
        self.accounts
            .get(principal)
            .map(|a| a.signals.clone())
            .unwrap_or_default()
    }

    /// Distinct people counted for `principal` over the last `window` seconds (60, 3,600 or
    /// 86,400; 0 for another length), and among them those outside the caseload.
    pub fn exposure(&mut self, principal: &str, now: i64, window: u64) -> (u64, u64) {
        self.accounts
            .get_mut(principal)
            .map(|a| a.exposure(now, window))
            .unwrap_or((0, 0))
    }

    /// The people counted for `principal` over the last day, in the order they were counted:
    /// what a stolen account has taken so far, for the alert.
    pub fn exposed(&mut self, principal: &str, now: i64) -> Vec<String> {
        self.accounts
            .get_mut(principal)
            .map(|a| a.exposed(now))
            .unwrap_or_default()
    }

    /// Forgets a principal's exposure (tests; a principal's removal).
    pub fn forget(&mut self, principal: &str) {
        self.accounts.remove(principal);
        self.changed = true;
    }

    /// Clears a restored principal's refusals: its windows keep the people it was shown, so
    /// that a restore never gives it a fresh budget.
    pub fn pardon(&mut self, principal: &str) {
        if let Some(a) = self.accounts.get_mut(principal) {
            a.pardon();
            self.changed = true;
        }
    }
}

#[cfg(test)]
mod tests;
