//! The cost of authorisation: the per-category decisions of a read (`Policies::grant`, ten
//! Cedar requests), timed one by one on one thread, with the default policies plus a thousand
//! per-agency policies, over agencies of 10,000 files each assigned to a counsellor.

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rempart_domain::{Purpose, Role};
use rempart_policy::{FileFacts, Policies, Situation, Subject, DEFAULT_POLICIES};
use std::time::{Duration, Instant};

/// Agencies in the benchmark.
const AGENCIES: usize = 20;
/// Files (caseload entries) per agency.
const FILES_PER_AGENCY: usize = 10_000;
/// Counsellors per agency.
const COUNSELLORS: usize = 40;
/// Extra policies beyond the default ones.
const EXTRA_POLICIES: usize = 1_000;

/// A thousand policies of the kind a network would add: for each of 500 agencies, no reads
/// outside the caseload at night, and a partner's extra category; each scoped to its agency
/// (`principal in …`, `resource in …`), as docs/policies.md advises.
fn site_policies() -> String {
    let mut src = DEFAULT_POLICIES.to_string();
    for i in 0..EXTRA_POLICIES / 2 {
        src.push_str(&format!(
            "\n@id(\"ml-{i:03}-no-night-reads\")\nforbid (principal in Rempart::Agency::\"ML-{i:03}\", action == Rempart::Action::\"read\", resource)\nwhen {{ (context.hour < 7 || context.hour > 20) && resource.counsellor != principal.name && !context.break_glass }};\n\
             \n@id(\"ml-{i:03}-partner-professional\")\npermit (principal, action == Rempart::Action::\"read\", resource in Rempart::Agency::\"ML-{i:03}\")\nwhen {{ principal.role == \"partner\" && resource.partners.contains(principal.agency) && context.purpose == \"partner_service\" && context.category == \"professional\" }};\n"
        ));
    }
    src
}

struct File {
    id: String,
    agency: String,
    counsellor: String,
    partners: Vec<String>,
    minor: bool,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Runs the benchmark and returns its Markdown section.
pub fn run(requests: usize) -> Result<String> {
    let t = Instant::now();
    let policies = Policies::parse(&site_policies(), "bench.cedar")?;
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let agency = |a: usize| format!("ML-{a:03}");
    let counsellor = |a: usize, c: usize| format!("c.{c}.{a}");
    let files: Vec<File> = (0..AGENCIES * FILES_PER_AGENCY)
        .map(|i| {
            let a = i / FILES_PER_AGENCY;
            let partners = if rng.gen_bool(0.3) {
                vec![format!("PARTNER-{}", rng.gen_range(0..5))]
            } else {
                vec![]
            };
            File {
                id: format!("f{i}"),
                agency: agency(a),
                counsellor: counsellor(a, rng.gen_range(0..COUNSELLORS)),
                partners,
                minor: rng.gen_bool(0.2),
            }
        })
        .collect();
    // Requests: counsellors (half in their own caseload), partners, DPOs, at any hour.
    let mut times = Vec::with_capacity(requests);
    let mut granted = 0usize;
    let mut first_of_slice = Vec::new();
    for n in 0..requests {
        let f = &files[rng.gen_range(0..files.len())];
        let a = rng.gen_range(0..AGENCIES);
        let name;
        let org;
        let (role, who_agency, purpose) = match rng.gen_range(0..10) {
            0..=6 => {
                // A counsellor of the file's agency, often its own.
                let fa = f.agency.clone();
                name = if rng.gen_bool(0.5) {
                    f.counsellor.clone()
                } else {
                    counsellor(a, rng.gen_range(0..COUNSELLORS))
                };
                org = fa;
                (Role::Counsellor, org.as_str(), Purpose::Accompaniment)
            }
            7 | 8 => {
                name = "partner".to_string();
                org = format!("PARTNER-{}", rng.gen_range(0..5));
                (Role::Partner, org.as_str(), Purpose::PartnerService)
            }
            _ => {
                name = "dpo".to_string();
                org = agency(a);
                (Role::Dpo, org.as_str(), Purpose::DataSubjectRequest)
            }
        };
        let who = Subject {
            name: &name,
            role,
            agency: who_agency,
        };
        let facts = FileFacts {
            id: &f.id,
            agency: &f.agency,
            counsellor: Some(&f.counsellor),
            partners: &f.partners,
            minor: f.minor,
        };
        let how = Situation::at(purpose, false, 1_767_693_600 + (n as i64 % 86_400));
        let t = Instant::now();
        let g = policies.grant(&who, &facts, &how);
        let d = t.elapsed();
        if n < 200 {
            first_of_slice.push(d);
        }
        times.push(d);
        granted += usize::from(g.any());
    }
    let steady = &mut times[200.min(requests)..];
    steady.sort();
    first_of_slice.sort();
    let mean = steady.iter().sum::<Duration>() / steady.len().max(1) as u32;
    let mut out = String::new();
    out.push_str(&format!(
        "Authorisation: `Policies::grant`, what a read asks (a decision for each of the 9 categories and for the masked NIR; categories kept by the same policies are decided once, and those that plain tests settle without Cedar), timed per read on one thread, {} policies ({} default + {EXTRA_POLICIES} per-agency, loaded and validated in {load_ms:.0} ms), {AGENCIES} agencies × {FILES_PER_AGENCY} files assigned to {COUNSELLORS} counsellors each, 5 partners; {requests} random requests (70 % counsellors, half in their caseload, 20 % partners, 10 % DPOs), {} allowed something.\n\n",
        policies.len(),
        policies.len() - EXTRA_POLICIES,
        granted
    ));
    out.push_str("| measure | value | target |\n| --- | --- | --- |\n");
    out.push_str(&format!(
        "| authorisation per read, p50 | {} | |\n| authorisation per read, p99 | {} | < 50 µs (issue 4) |\n| authorisation per read, p99.9 / max | {} / {} | |\n| mean | {} | |\n| first requests (policy slices being built), p50 / max | {} / {} | |\n",
        us(percentile(steady, 0.5)),
        us(percentile(steady, 0.99)),
        us(percentile(steady, 0.999)),
        us(percentile(steady, 1.0)),
        us(mean),
        us(percentile(&first_of_slice, 0.5)),
        us(percentile(&first_of_slice, 1.0)),
    ));
    Ok(out)
}
