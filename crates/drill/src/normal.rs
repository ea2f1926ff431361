//! A normal month of work, replayed over HTTP: counsellors list their caseload each working
//! morning and open 10 to 40 of its files over office hours, look up a few others by email,
//! and use break-glass rarely; each agency's partner syncs its enrolled people every night.
//! Containment must refuse nothing and suspend nobody.

use crate::world::{ids_of, World, DAY};
use crate::Normal;
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rempart_domain::Role;

/// What someone does, and when (simulated Unix seconds).
enum Act {
    /// A counsellor lists their caseload.
    List { who: usize },
    /// A counsellor opens a file of their caseload.
    Open { who: usize, id: String },
    /// A counsellor looks a person up by email.
    LookUp { who: usize, email: String },
    /// A counsellor opens a file outside their caseload, with a justification.
    BreakGlass { who: usize, id: String },
    /// A partner's nightly sync: its listing, then every file in it.
    Sync { partner: usize },
}

/// The actors: each counsellor's token, agency and caseload; each partner's token.
struct Actors {
    counsellors: Vec<(String, usize, Vec<String>)>,
    partners: Vec<String>,
}

/// Replays `days` days from `start` (a midnight, UTC); tokens are made eight days before, so
/// nobody is on probation.
pub(crate) fn run(world: &World, start: i64, days: u32, seed: u64) -> Result<Normal> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x40a1);
    world.at(start - 8 * DAY);
    let mut actors = Actors {
        counsellors: Vec::new(),
        partners: Vec::new(),
    };
    for (i, a) in world.agencies.iter().enumerate() {
        for c in &a.counsellors {
            let caseload = a.caseloads.get(c).cloned().unwrap_or_default();
            actors
                .counsellors
                .push((world.token(c, Role::Counsellor, &a.code)?, i, caseload));
        }
        actors.partners.push(world.token(
            &format!("sync-{}", a.partner.to_ascii_lowercase()),
            Role::Partner,
            &a.partner,
        )?);
    }
    let mut n = Normal {
        days,
        counsellors: actors.counsellors.len(),
        partners: actors.partners.len(),
        ..Normal::default()
    };
    for d in 0..days {
        let midnight = start + i64::from(d) * DAY;
        // 2026-03-02 is a Monday: days 5 and 6 of each week are the weekend.
        let working = d % 7 < 5;
        let mut acts: Vec<(i64, Act)> = Vec::new();
        for p in 0..actors.partners.len() {
            acts.push((
                midnight + 2 * 3_600 + p as i64 * 600,
                Act::Sync { partner: p },
            ));
        }
        if working {
            for (who, (_, agency, caseload)) in actors.counsellors.iter().enumerate() {
                let office = |rng: &mut rand_chacha::ChaCha8Rng| {
                    midnight + 8 * 3_600 + rng.gen_range(600..9 * 3_600)
                };
                acts.push((midnight + 8 * 3_600 + who as i64 * 7, Act::List { who }));
                let k = rng.gen_range(10..=40).min(caseload.len());
                for id in caseload.choose_multiple(&mut rng, k) {
                    acts.push((
                        office(&mut rng),
                        Act::Open {
                            who,
                            id: id.clone(),
                        },
                    ));
                }
                let emails = &world.agencies[*agency].emails;
                for _ in 0..rng.gen_range(0..=2) {
                    if let Some(e) = emails.choose(&mut rng) {
                        acts.push((
                            office(&mut rng),
                            Act::LookUp {
                                who,
                                email: e.clone(),
                            },
                        ));
                    }
                }
                if rng.gen_range(0..40) == 0 {
                    let listing = &world.agencies[*agency].listing;
                    let decoys = &world.agencies[*agency].decoys;
                    let others: Vec<&String> = listing
                        .iter()
                        .filter(|id| !caseload.contains(id) && !decoys.contains(*id))
                        .collect();
                    if let Some(id) = others.choose(&mut rng) {
                        acts.push((
                            office(&mut rng),
                            Act::BreakGlass {
                                who,
                                id: (*id).clone(),
                            },
                        ));
                    }
                }
            }
        }
        acts.sort_by_key(|(t, _)| *t);
        for (t, act) in acts {
            world.at(t);
            play(world, &actors, act, &mut n)?;
        }
    }
    Ok(n)
}

fn count(n: &mut Normal, status: u16, problem: &str) {
    n.requests += 1;
    match (status, problem) {
        (429, _) => n.refusals += 1,
        (403, "suspended") => n.suspensions += 1,
        (200, _) => {}
        _ => n.other_errors += 1,
    }
}

fn play(world: &World, actors: &Actors, act: Act, n: &mut Normal) -> Result<()> {
    match act {
        Act::List { who } => {
            let token = &actors.counsellors[who].0;
            let a = world.get(token, "/v1/persons?purpose=accompaniment&limit=200", None)?;
            count(n, a.status, &a.problem);
        }
        Act::Open { who, id } => {
            let token = &actors.counsellors[who].0;
            let a = world.get(
                token,
                &format!("/v1/persons/{id}?purpose=accompaniment"),
                None,
            )?;
            count(n, a.status, &a.problem);
            n.files_opened += 1;
        }
        Act::LookUp { who, email } => {
            let token = &actors.counsellors[who].0;
            let a = world.post(
                token,
                "/v1/persons/search",
                &serde_json::json!({"purpose": "accompaniment", "email": email}),
            )?;
            count(n, a.status, &a.problem);
            n.lookups += 1;
        }
        Act::BreakGlass { who, id } => {
            let token = &actors.counsellors[who].0;
            let a = world.get(
                token,
                &format!("/v1/persons/{id}?purpose=accompaniment"),
                Some("the young person is at the desk and their counsellor is away"),
            )?;
            count(n, a.status, &a.problem);
            n.break_glass += 1;
        }
        Act::Sync { partner } => {
            let token = &actors.partners[partner];
            let mut cursor = String::new();
            loop {
                let a = world.get(
                    token,
                    &format!("/v1/persons?purpose=partner_service&limit=200{cursor}"),
                    None,
                )?;
                count(n, a.status, &a.problem);
                if a.status != 200 {
                    break;
                }
                for id in ids_of(&a.body) {
                    world.clock.advance(1);
                    let r = world.get(
                        token,
                        &format!("/v1/persons/{id}?purpose=partner_service"),
                        None,
                    )?;
                    count(n, r.status, &r.problem);
                    n.synced += 1;
                }
                match a.body["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
        }
    }
    Ok(())
}
