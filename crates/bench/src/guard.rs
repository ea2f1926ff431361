//! The cost of containment: `Guard::decide` timed one by one on one thread, over a network's
//! day of work: 2,000 counsellors of 50 agencies with caseloads of 120 people, each response a read of one
//! person (one in ten outside the caseload) or, one in twenty, a page of 50 of the caseload;
//! the clock moves on 40 ms a decision, so the windows fill and expire as in a working day.

use rand::{Rng, SeedableRng};
use rempart_guard::{Decision, Exposed, Guard, GuardConfig, Kind, Subject};
use std::time::{Duration, Instant};

const COUNSELLORS: usize = 2_000;
const CASELOAD: usize = 120;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

/// Runs the benchmark and returns its Markdown section.
pub fn run(decisions: usize) -> String {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
    let mut guard = Guard::new(GuardConfig::default());
    let names: Vec<String> = (0..COUNSELLORS).map(|c| format!("c.{c}")).collect();
    let agencies: Vec<String> = (0..COUNSELLORS / 40)
        .map(|a| format!("ML-{a:03}"))
        .collect();
    let clients: Vec<String> = (0..COUNSELLORS)
        .map(|c| format!("10.{}.{}.{}", c / 65_536, (c / 256) % 256, c % 256))
        .collect();
    let person = |c: usize, k: usize| format!("{:08x}-0000-4000-8000-{:012x}", c, k);
    let start = 1_800_000_000i64;
    let mut reads = Vec::with_capacity(decisions);
    let mut pages = Vec::new();
    let (mut refused, mut suspended) = (0usize, 0usize);
    for i in 0..decisions {
        let now = start + (i as i64 * 40) / 1_000;
        let c = rng.gen_range(0..COUNSELLORS);
        let who = Subject {
            principal: &names[c],
            role: "counsellor",
            agency: &agencies[c % agencies.len()],
            since: 0,
            client: Some(&clients[c]),
        };
        let page = rng.gen_range(0..20) == 0;
        let ids: Vec<(String, bool)> = if page {
            let first = rng.gen_range(0..CASELOAD - 50);
            (first..first + 50).map(|k| (person(c, k), true)).collect()
        } else if rng.gen_range(0..10) == 0 {
            let other = rng.gen_range(0..COUNSELLORS);
            vec![(person(other, rng.gen_range(0..CASELOAD)), false)]
        } else {
            vec![(person(c, rng.gen_range(0..CASELOAD)), true)]
        };
        let exposed: Vec<Exposed> = ids
            .iter()
            .map(|(id, in_caseload)| Exposed {
                id,
                in_caseload: *in_caseload,
                decoy: false,
            })
            .collect();
        let t = Instant::now();
        let kind = if page {
            Kind::Listing { paged: false }
        } else {
            Kind::Read
        };
        let d = guard.decide(&who, now, kind, &exposed);
        let took = t.elapsed();
        match d {
            Decision::Pass => {}
            Decision::Refuse { .. } => refused += 1,
            Decision::Suspend(_) => {
                suspended += 1;
                guard.forget(&names[c]);
            }
        }
        if page {
            pages.push(took);
        } else {
            reads.push(took);
        }
    }
    reads.sort();
    pages.sort();
    let mut all: Vec<Duration> = reads.iter().chain(&pages).copied().collect();
    all.sort();
    let mut out = format!(
        "Containment: `Guard::decide` on one thread, {decisions} decisions over {COUNSELLORS} counsellors of 50 agencies with caseloads of {CASELOAD} (default budgets; a read of one person, one in ten outside the caseload; one response in twenty a page of 50), the clock moving 40 ms a decision.\n\n"
    );
    out.push_str("| decisions | p50 | p99 | max | target |\n| --- | --- | --- | --- | --- |\n");
    for (name, v, target) in [
        ("every response", &all, "p99 < 20 µs (issue 18)"),
        ("a read (one person)", &reads, ""),
        ("a page of 50", &pages, ""),
    ] {
        if v.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "| {name} ({}) | {} | {} | {} | {target} |\n",
            v.len(),
            us(percentile(v, 0.5)),
            us(percentile(v, 0.99)),
            us(*v.last().unwrap_or(&Duration::ZERO)),
        ));
    }
    out.push_str(&format!(
        "\nRefused: {refused}; suspended (and forgotten, to go on): {suspended}.\n"
    ));
    out
}
