//! The containment drill (`rempart drill`): an installation of its own (SQLite in a temporary
//! directory, synthetic agencies with caseloads, partners' enrolments and decoy files), served
//! over HTTP on a free local port by the real server, on a **simulated clock** that the drill
//! moves, so that a month of work and a slow attacker's day take seconds.
//!
//! It first plays a normal month (counsellors, partners' nightly syncs), in which containment
//! must refuse nothing; then the attacks of the threat model, each with tokens of its own:
//! what left before containment stopped each account, and when. [`Report::markdown`] is the
//! section of BENCHMARKS.md; [`Report::violations`] lists the bounds it breaks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attacks;
mod normal;
mod world;

use anyhow::Result;
use rempart_guard::GuardConfig;
use std::time::{Duration, Instant};

/// What the drill plays.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// Agencies.
    pub agencies: usize,
    /// Files per agency (five counsellors each: caseloads of about a fifth).
    pub files_per_agency: usize,
    /// Decoy files planted per agency.
    pub decoys_per_agency: usize,
    /// People enrolled with each agency's partner.
    pub enrolled_per_partner: usize,
    /// Days of normal work.
    pub days: u32,
    /// Parallel clients of the parallel bulk read.
    pub parallel: usize,
    /// Seed of the synthetic files and of the simulated work.
    pub seed: u64,
    /// Containment's configuration.
    pub guard: GuardConfig,
}

impl DrillOptions {
    /// The drill of BENCHMARKS.md: three agencies of 400 files (caseloads of about 80), a
    /// month of work.
    pub fn full() -> DrillOptions {
        DrillOptions {
            agencies: 3,
            files_per_agency: 400,
            decoys_per_agency: 10,
            enrolled_per_partner: 150,
            days: 30,
            parallel: 8,
            seed: 2026,
            guard: GuardConfig::default(),
        }
    }

    /// A smaller drill for the tests: the same scenarios, a week of work.
    pub fn small() -> DrillOptions {
        DrillOptions {
            files_per_agency: 250,
            enrolled_per_partner: 60,
            days: 7,
            ..DrillOptions::full()
        }
    }
}

/// What one attack let out.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What was played.
    pub name: String,
    /// The stolen accounts' role.
    pub role: String,
    /// Stolen or created accounts.
    pub accounts: usize,
    /// Distinct people whose data left (reads, search hits, agency listings), all accounts;
    /// for a partner, beyond the people enrolled with it.
    pub exposed: usize,
    /// The most of them through one account.
    pub exposed_per_account: usize,
    /// Names shown by the accounts' own caseload listings (minimised, not counted).
    pub listed_names: usize,
    /// Every account was suspended.
    pub suspended: bool,
    /// Simulated seconds from the first request to the last suspension.
    pub containment_secs: Option<i64>,
    /// The longest wall time of a request that tripped a suspension (the suspension is made
    /// before it answers).
    pub trip: Option<Duration>,
    /// Requests made.
    pub requests: usize,
    /// A bound on the people of all its accounts together, when the scenario has one of its
    /// own.
    pub total_bound: Option<usize>,
}

/// What the normal month met.
#[derive(Debug, Clone, Default)]
pub struct Normal {
    /// Days played.
    pub days: u32,
    /// Counsellors at work.
    pub counsellors: usize,
    /// Partners syncing.
    pub partners: usize,
    /// Requests made.
    pub requests: usize,
    /// Files opened by counsellors.
    pub files_opened: usize,
    /// Look-ups by email.
    pub lookups: usize,
    /// Break-glass reads.
    pub break_glass: usize,
    /// Files read by partners' syncs.
    pub synced: usize,
    /// Responses refused (`429`).
    pub refusals: usize,
    /// Responses refused because the principal was suspended.
    pub suspensions: usize,
    /// Other errors.
    pub other_errors: usize,
}

/// The drill's results.
#[derive(Debug, Clone)]
pub struct Report {
    /// The options played.
    pub options: DrillOptions,
    /// The normal month.
    pub normal: Normal,
    /// The attacks.
    pub scenarios: Vec<Scenario>,
    /// Wall time of the whole drill.
    pub took: Duration,
}

/// The bounds the drill holds containment to.
pub mod bounds {
    /// People exposed through one stolen counsellor account, in any scenario.
    pub const PER_COUNSELLOR: usize = 25;
    /// People exposed through one stolen partner account beyond its ordinary sync.
    pub const PER_PARTNER_BEYOND_SYNC: usize = 100;
    /// People exposed through three stolen accounts of one agency together.
    pub const THREE_OF_ONE_AGENCY: usize = 75;
    /// Wall time from the trip to the suspension.
    pub const SUSPENSION: std::time::Duration = std::time::Duration::from_secs(2);
    /// People exposed through the accounts a hijacked administrator created (December 2025),
    /// together.
    pub const CREATED_ACCOUNTS: usize = 10;
}

impl Report {
    /// The bounds this run breaks, in words (empty: it holds them all).
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let n = &self.normal;
        if n.refusals > 0 || n.suspensions > 0 || n.other_errors > 0 {
            v.push(format!(
                "the normal month met {} refusals, {} suspended answers and {} other errors",
                n.refusals, n.suspensions, n.other_errors
            ));
        }
        for s in &self.scenarios {
            let bound = match s.role.as_str() {
                "partner" => bounds::PER_PARTNER_BEYOND_SYNC,
                _ => bounds::PER_COUNSELLOR,
            };
            if s.exposed_per_account > bound {
                v.push(format!(
                    "{}: {} people through one account (bound {bound})",
                    s.name, s.exposed_per_account
                ));
            }
            if s.accounts == 3 && s.exposed > bounds::THREE_OF_ONE_AGENCY {
                v.push(format!(
                    "{}: {} people through three accounts (bound {})",
                    s.name,
                    s.exposed,
                    bounds::THREE_OF_ONE_AGENCY
                ));
            }
            if let Some(b) = s.total_bound.filter(|b| s.exposed > *b) {
                v.push(format!(
                    "{}: {} people through its accounts together (bound {b})",
                    s.name, s.exposed
                ));
            }
            if let Some(t) = s.trip.filter(|t| *t > bounds::SUSPENSION) {
                v.push(format!("{}: suspension {t:?} after the trip", s.name));
            }
        }
        v
    }

    /// The report as the Markdown section of BENCHMARKS.md.
    pub fn markdown(&self, command: &str) -> String {
        let o = &self.options;
        let n = &self.normal;
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        let mut out = format!("### {now} — `{command}`\n\n");
        out.push_str(&format!(
            "{} agencies of {} synthetic files (five counsellors each), {} decoys per agency, {} people enrolled with each agency's partner; default budgets; the real server over HTTP on a simulated clock. Wall time {:.1} s.\n\n",
            o.agencies,
            o.files_per_agency,
            o.decoys_per_agency,
            o.enrolled_per_partner,
            self.took.as_secs_f64()
        ));
        out.push_str(&format!(
            "Normal work, {} days: {} counsellors opened {} files of their caseloads, made {} look-ups by email and {} break-glass reads; {} partners synced {} files; {} requests. **Refusals: {}. Suspensions: {}.** Other errors: {}.\n\n",
            n.days, n.counsellors, n.files_opened, n.lookups, n.break_glass, n.partners, n.synced, n.requests, n.refusals, n.suspensions, n.other_errors
        ));
        out.push_str("| attack | accounts | people whose data left (per account, most) | bound | all accounts | names from own caseload listings | suspended | time to containment (simulated) | trip to suspension (wall) | requests |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for s in &self.scenarios {
            let bound = if let Some(b) = s.total_bound {
                format!("≤ {b} together")
            } else if s.role == "partner" {
                format!("≤ {} beyond its sync", bounds::PER_PARTNER_BEYOND_SYNC)
            } else if s.accounts == 3 {
                format!(
                    "≤ {} each, ≤ {} together",
                    bounds::PER_COUNSELLOR,
                    bounds::THREE_OF_ONE_AGENCY
                )
            } else {
                format!("≤ {}", bounds::PER_COUNSELLOR)
            };
            out.push_str(&format!(
                "| {} | {} {} | {} | {bound} | {} | {} | {} | {} | {} | {} |\n",
                s.name,
                s.accounts,
                s.role,
                s.exposed_per_account,
                s.exposed,
                s.listed_names,
                if s.suspended { "yes" } else { "no" },
                s.containment_secs
                    .map(|t| format!("{t} s"))
                    .unwrap_or_else(|| "—".into()),
                s.trip
                    .map(|t| format!("{:.1} ms", t.as_secs_f64() * 1e3))
                    .unwrap_or_else(|| "—".into()),
                s.requests
            ));
        }
        let v = self.violations();
        if v.is_empty() {
            out.push_str("\nEvery bound holds.\n");
        } else {
            out.push_str("\nBounds broken:\n");
            for x in v {
                out.push_str(&format!("- {x}\n"));
            }
        }
        out
    }
}

/// 2026-03-02 00:00 UTC, a Monday: the normal month starts then.
const MONTH_START: i64 = 1_772_409_600;

/// Plays the drill. `progress` is told what is being played.
pub fn run(o: &DrillOptions, progress: &dyn Fn(&str)) -> Result<Report> {
    let started = Instant::now();
    progress("building the installation");
    let world = world::World::build(o, MONTH_START - 10 * world::DAY)?;
    progress("playing the normal month");
    let normal = normal::run(&world, MONTH_START, o.days, o.seed)?;
    progress("playing the attacks");
    let after = MONTH_START + i64::from(o.days) * world::DAY;
    let scenarios = attacks::run(&world, after, o.parallel, o.seed)?;
    Ok(Report {
        options: o.clone(),
        normal,
        scenarios,
        took: started.elapsed(),
    })
}
