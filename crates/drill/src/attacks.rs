//! The attacks of the threat model, replayed over HTTP with stolen or illegitimately created
//! tokens. Every attacker is given the worst case of knowledge: the ids of every file of its
//! agency, in the order an agency listing shows them (decoys among them).

use crate::world::{ids_of, Answer, World, DAY};
use crate::Scenario;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rempart_domain::Role;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// Where an attacker stands.
enum Step {
    /// Data left (or nothing was found).
    Went,
    /// Refused (`429`) or not found: nothing left, go on.
    Held,
    /// The principal is suspended: stop.
    Stopped,
}

/// One stolen token and what it got.
struct Attacker<'w> {
    world: &'w World,
    token: String,
    exposed: HashSet<String>,
    listed: HashSet<String>,
    requests: usize,
    suspended_at: Option<i64>,
    trip: Option<Duration>,
}

impl<'w> Attacker<'w> {
    fn new(world: &'w World, token: String) -> Attacker<'w> {
        Attacker {
            world,
            token,
            exposed: HashSet::new(),
            listed: HashSet::new(),
            requests: 0,
            suspended_at: None,
            trip: None,
        }
    }

    fn judge(&mut self, a: &Answer, people: impl FnOnce() -> Vec<String>) -> Step {
        self.requests += 1;
        match a.status {
            200 => {
                self.exposed.extend(people());
                Step::Went
            }
            403 if a.problem == "suspended" => {
                if self.suspended_at.is_none() {
                    self.suspended_at = Some(self.world.now());
                    self.trip = Some(a.took);
                }
                Step::Stopped
            }
            _ => Step::Held,
        }
    }

    fn read(&mut self, id: &str, purpose: &str) -> Result<Step> {
        let a = self.world.get(
            &self.token,
            &format!("/v1/persons/{id}?purpose={purpose}"),
            None,
        )?;
        Ok(self.judge(&a, || vec![id.to_string()]))
    }

    fn search(&mut self, key: &str, value: &str) -> Result<Step> {
        let a = self.world.post(
            &self.token,
            "/v1/persons/search",
            &serde_json::json!({"purpose": "accompaniment", key: value}),
        )?;
        let body = a.body.clone();
        Ok(self.judge(&a, || ids_of(&body)))
    }

    /// Pages through the caller's own listing; the names it shows are recorded apart.
    fn list_own(&mut self, purpose: &str) -> Result<Vec<String>> {
        let mut cursor = String::new();
        let mut ids = Vec::new();
        loop {
            let a = self.world.get(
                &self.token,
                &format!("/v1/persons?purpose={purpose}&limit=50{cursor}"),
                None,
            )?;
            self.requests += 1;
            if a.status != 200 {
                return Ok(ids);
            }
            let page = ids_of(&a.body);
            self.listed.extend(page.iter().cloned());
            ids.extend(page);
            match a.body["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return Ok(ids),
            }
        }
    }
}

/// The result of a scenario's attackers.
fn result(
    name: &str,
    role: &str,
    start: i64,
    attackers: Vec<Attacker<'_>>,
    beyond: Option<&HashSet<String>>,
) -> Scenario {
    let mut all = HashSet::new();
    let mut per_account = 0;
    let mut listed = HashSet::new();
    for a in &attackers {
        let mine: HashSet<&String> = match beyond {
            Some(sync) => a.exposed.iter().filter(|p| !sync.contains(*p)).collect(),
            None => a.exposed.iter().collect(),
        };
        per_account = per_account.max(mine.len());
        all.extend(mine.into_iter().cloned());
        listed.extend(a.listed.iter().cloned());
    }
    let suspended = attackers.iter().all(|a| a.suspended_at.is_some());
    Scenario {
        name: name.to_string(),
        role: role.to_string(),
        accounts: attackers.len(),
        exposed: all.len(),
        exposed_per_account: per_account,
        listed_names: listed.len(),
        suspended,
        containment_secs: attackers
            .iter()
            .filter_map(|a| a.suspended_at)
            .max()
            .filter(|_| suspended)
            .map(|t| t - start),
        trip: attackers.iter().filter_map(|a| a.trip).max(),
        requests: attackers.iter().map(|a| a.requests).sum(),
        total_bound: None,
    }
}

/// An attacker with a stolen token of `name`, made at `t` and used eight days later plus
/// `offset` seconds (past probation: the account is an old one); the time it starts.
fn seasoned<'w>(
    world: &'w World,
    (name, role, agency): (&str, Role, &str),
    t: i64,
    offset: i64,
) -> Result<(Attacker<'w>, i64)> {
    world.at(t);
    let token = world.token(name, role, agency)?;
    world.at(t + 8 * DAY + offset);
    Ok((Attacker::new(world, token), world.now()))
}

/// Reads every id of `ids` in turn, one second of simulated time every `per_second` requests
/// (0: the clock stands still), until suspended.
fn bulk(a: &mut Attacker<'_>, ids: &[String], per_second: usize) -> Result<()> {
    for (k, id) in ids.iter().enumerate() {
        if per_second > 0 && k % per_second == 0 {
            a.world.clock.advance(1);
        }
        if let Step::Stopped = a.read(id, "accompaniment")? {
            break;
        }
    }
    Ok(())
}

/// Runs `accounts` attackers at once, each reading `ids` from its own offset, on threads.
fn together<'w>(
    world: &'w World,
    tokens: Vec<String>,
    ids: &[String],
) -> Result<Vec<Attacker<'w>>> {
    let n = tokens.len().max(1);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::new();
        for (k, token) in tokens.into_iter().enumerate() {
            let out = &out;
            handles.push(s.spawn(move || -> Result<()> {
                let mut a = Attacker::new(world, token);
                let mine: Vec<String> = ids.iter().skip(k).step_by(n).cloned().collect();
                bulk(&mut a, &mine, 0)?;
                if let Ok(mut o) = out.lock() {
                    o.push(a);
                }
                Ok(())
            }));
        }
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("an attacker thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(out.into_inner().unwrap_or_default())
}

/// Every attack, each two simulated days after the previous (its windows empty), from
/// `start`.
pub(crate) fn run(world: &World, start: i64, parallel: usize, seed: u64) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    world.at(start);
    // Two days on, at 10:00 UTC (office hours): the previous scenario's windows are empty.
    let next_day = |world: &World| {
        let t = world.now() + 2 * DAY;
        world.at(t - t.rem_euclid(DAY) + 10 * 3_600);
        world.now()
    };
    let a = |i: usize| &world.agencies[i % world.agencies.len()];
    let counsellor = |i: usize, k: usize| a(i).counsellors[k % a(i).counsellors.len()].clone();

    // A sequential bulk read of an agency.
    let (mut x, t0) = seasoned(
        world,
        (&counsellor(0, 0), Role::Counsellor, &a(0).code),
        next_day(world),
        0,
    )?;
    bulk(&mut x, &a(0).listing, 5)?;
    out.push(result(
        "sequential bulk read of an agency",
        "counsellor",
        t0,
        vec![x],
        None,
    ));

    // The same with parallel clients on one token.
    let t0 = next_day(world);
    let token = world.token(&counsellor(1, 0), Role::Counsellor, &a(1).code)?;
    world.at(t0 + 8 * DAY);
    let t0 = world.now();
    let attackers = together(world, vec![token; parallel], &a(1).listing)?;
    // One principal: its clients' exposures are one account's.
    let mut one = Attacker::new(world, String::new());
    for x in attackers {
        one.exposed.extend(x.exposed);
        one.requests += x.requests;
        one.suspended_at = one.suspended_at.max(x.suspended_at);
        one.trip = one.trip.max(x.trip);
    }
    out.push(result(
        &format!("bulk read with {parallel} parallel clients"),
        "counsellor",
        t0,
        vec![one],
        None,
    ));

    // Paging through the listing, then reading every file it names.
    let (mut x, t0) = seasoned(
        world,
        (&counsellor(2, 0), Role::Counsellor, &a(2).code),
        next_day(world),
        0,
    )?;
    let listed = x.list_own("accompaniment")?;
    bulk(&mut x, &listed, 5)?;
    bulk(&mut x, &a(2).listing, 5)?;
    out.push(result(
        "paging through the listing, then reading",
        "counsellor",
        t0,
        vec![x],
        None,
    ));

    // Search enumeration: guessed emails and NIRs, one in three a real email of the agency.
    let (mut x, t0) = seasoned(
        world,
        (&counsellor(0, 1), Role::Counsellor, &a(0).code),
        next_day(world),
        0,
    )?;
    let guesses = rempart_synth::generate(300, 1, seed ^ 0x6e55);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5ea);
    for (k, g) in guesses.iter().enumerate() {
        if k % 5 == 0 {
            world.clock.advance(1);
        }
        let step = if k % 3 == 0 && !a(0).emails.is_empty() {
            let real = &a(0).emails[rng.gen_range(0..a(0).emails.len())];
            x.search("email", real)?
        } else if k % 4 == 1 {
            x.search("nir", &g.nir)?
        } else {
            x.search("email", &g.email)?
        };
        if let Step::Stopped = step {
            break;
        }
    }
    out.push(result(
        "search enumeration with guessed emails and NIRs",
        "counsellor",
        t0,
        vec![x],
        None,
    ));

    // Three stolen counsellor tokens of one agency at once.
    let t0 = next_day(world);
    let tokens = (1..4)
        .map(|k| world.token(&counsellor(1, k), Role::Counsellor, &a(1).code))
        .collect::<Result<Vec<_>>>()?;
    world.at(t0 + 8 * DAY);
    let t0 = world.now();
    let attackers = together(world, tokens, &a(1).listing)?;
    out.push(result(
        "three stolen counsellor tokens of one agency at once",
        "counsellor",
        t0,
        attackers,
        None,
    ));

    // A slow attacker: one read every six minutes over a simulated day.
    let (mut x, t0) = seasoned(
        world,
        (&counsellor(2, 1), Role::Counsellor, &a(2).code),
        next_day(world),
        -10 * 3_600,
    )?;
    for id in &a(2).listing {
        world.clock.advance(360);
        if world.now() > t0 + DAY {
            break;
        }
        if let Step::Stopped = x.read(id, "accompaniment")? {
            break;
        }
    }
    out.push(result(
        "a slow attacker over a day",
        "counsellor",
        t0,
        vec![x],
        None,
    ));

    // One working at night: a read every 30 s from 01:00.
    let (mut x, t0) = seasoned(
        world,
        (&counsellor(0, 2), Role::Counsellor, &a(0).code),
        next_day(world),
        -9 * 3_600,
    )?;
    for id in &a(0).listing {
        world.clock.advance(30);
        if world.now() > t0 + 5 * 3_600 {
            break;
        }
        if let Step::Stopped = x.read(id, "accompaniment")? {
            break;
        }
    }
    out.push(result(
        "an attacker working at night",
        "counsellor",
        t0,
        vec![x],
        None,
    ));

    // Accounts created by a compromised administrator, used at once.
    let t0 = next_day(world);
    let mut attackers = Vec::new();
    for k in 0..2 {
        let token = world.token(&format!("c.created{k}"), Role::Counsellor, &a(1).code)?;
        let mut x = Attacker::new(world, token);
        bulk(&mut x, &a(1).listing, 5)?;
        attackers.push(x);
    }
    out.push(result(
        "accounts created by a compromised administrator",
        "counsellor",
        t0,
        attackers,
        None,
    ));

    // A partner token reading beyond its enrolments and its usual fields.
    let (mut x, t0) = seasoned(
        world,
        ("afpa-sync", Role::Partner, &a(2).partner),
        next_day(world),
        0,
    )?;
    let sync: HashSet<String> = x.list_own("partner_service")?.into_iter().collect();
    for id in &a(2).enrolled {
        world.clock.advance(1);
        x.read(id, "partner_service")?;
    }
    for id in &a(2).listing {
        world.clock.advance(1);
        let beyond = if sync.contains(id) {
            x.read(id, "accompaniment")?
        } else {
            x.read(id, "partner_service")?
        };
        if let Step::Stopped = beyond {
            break;
        }
    }
    // A partner reads its enrolled people every night: only what lies beyond counts.
    let enrolled: HashSet<String> = a(2).enrolled.iter().cloned().collect();
    out.push(result(
        "a partner token reading beyond its enrolments and usual fields",
        "partner",
        t0,
        vec![x],
        Some(&enrolled),
    ));

    out.push(december_2025(
        world,
        next_day(world),
        &a(0).code,
        &a(0).listing,
    )?);
    Ok(out)
}

/// December 2025: an attacker holding a Mission locale's account administrator creates two
/// accounts through the real lifecycle (`POST /v1/principals/requests`). Alone it cannot
/// approve them; in the worst case a second operator approves them anyway, and the attacker
/// signs in with both and reads the agency at once. The accounts start on probation.
fn december_2025(world: &World, t0: i64, agency: &str, listing: &[String]) -> Result<Scenario> {
    let local = rempart_domain::Agency::parse("LOCAL")?;
    let code = rempart_domain::Agency::parse(agency)?;
    world.vault.bootstrap_operators(
        &rempart_vault::Principal::local(local),
        &["adm.hijacked".into(), "adm.second".into()],
        &code,
    )?;
    let hijacked = world.token("adm.hijacked", Role::Operator, agency)?;
    let second = world.token("adm.second", Role::Operator, agency)?;
    world.at(t0 + 8 * DAY);
    let t0 = world.now();
    let mut requests = Vec::new();
    let created = ["intrus.1", "intrus.2"];
    for name in created {
        let a = world.post(
            &hijacked,
            "/v1/principals/requests",
            &serde_json::json!({"kind": "create", "name": name, "role": "counsellor", "agency": agency}),
        )?;
        anyhow::ensure!(
            a.status == 201,
            "a request to create {name} was answered {}",
            a.status
        );
        let id = a.body["id"].as_str().unwrap_or_default().to_string();
        // Alone, the hijacked administrator approves nothing.
        let own = world.post(
            &hijacked,
            &format!("/v1/principals/requests/{id}/approve"),
            &serde_json::json!({}),
        )?;
        anyhow::ensure!(
            own.status == 403,
            "the administrator approved its own request ({})",
            own.status
        );
        requests.push(id);
    }
    // The worst case: a second operator approves both.
    for id in &requests {
        let a = world.post(
            &second,
            &format!("/v1/principals/requests/{id}/approve"),
            &serde_json::json!({}),
        )?;
        anyhow::ensure!(
            a.status == 200,
            "the second operator's approval was answered {}",
            a.status
        );
    }
    let tokens = created
        .iter()
        .map(|name| world.token(name, Role::Counsellor, agency))
        .collect::<Result<Vec<_>>>()?;
    let attackers = together(world, tokens, listing)?;
    let mut s = result(
        "December 2025: a hijacked administrator creates two accounts (a second operator approves them)",
        "counsellor",
        t0,
        attackers,
        None,
    );
    s.total_bound = Some(crate::bounds::CREATED_ACCOUNTS);
    Ok(s)
}
