//! The drill's installation: a temporary SQLite store, synthetic agencies with their caseloads,
//! partners' enrolments and decoy files, a vault on a simulated clock with containment on,
//! served over HTTP on a free local port; and a client that speaks HTTP to it.

use crate::DrillOptions;
use anyhow::{anyhow, Context, Result};
use rempart_crypto::Keyring;
use rempart_domain::{Agency, FranceTravailPattern, Role, DEFAULT_FRANCE_TRAVAIL_PATTERN};
use rempart_policy::Policies;
use rempart_store::{FileStore, ListScope, StoredPerson};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{FixedClock, Principal, Vault};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// One agency as the drill knows it (what an attacker may know is chosen per scenario).
pub(crate) struct AgencyWorld {
    /// Its code.
    pub code: String,
    /// Its counsellors' logins.
    pub counsellors: Vec<String>,
    /// Each counsellor's caseload (file ids).
    pub caseloads: HashMap<String, Vec<String>>,
    /// Every file id of the agency, decoys among them, in id order: what a listing of the
    /// agency shows.
    pub listing: Vec<String>,
    /// The decoys among them.
    pub decoys: HashSet<String>,
    /// The emails of its real files (the synthetic source's).
    pub emails: Vec<String>,
    /// Its training partner's code.
    pub partner: String,
    /// The files enrolled with the partner.
    pub enrolled: Vec<String>,
}

/// An HTTP answer: status, the problem type's last segment when it is an error, the body.
pub(crate) struct Answer {
    pub status: u16,
    pub problem: String,
    pub body: serde_json::Value,
    /// Wall time of the request.
    pub took: Duration,
}

/// The installation, its server and its simulated clock.
pub(crate) struct World {
    pub clock: Arc<FixedClock>,
    pub vault: Arc<Vault>,
    pub base: String,
    pub agencies: Vec<AgencyWorld>,
    agent: ureq::Agent,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// Every file of `scope` (sealed: the drill looks at ids, caseloads, enrolments, decoys).
fn all_of(store: &SqliteStore, scope: &ListScope<'_>) -> Result<Vec<StoredPerson>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = store.list_persons(scope, after.as_deref(), 500)?;
        let done = rows.len() < 500;
        for p in rows {
            after = Some(p.id.clone());
            out.push(p);
        }
        if done {
            return Ok(out);
        }
    }
}

impl World {
    /// Builds the installation at simulated time `start` (Unix seconds): files imported,
    /// decoys planted, people enrolled with each agency's partner, and the server listening.
    pub(crate) fn build(o: &DrillOptions, start: i64) -> Result<World> {
        let dir = tempfile::tempdir().context("creating the drill's directory")?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        let store = Arc::new(SqliteStore::open(&data)?);
        let keys = Arc::new(SqliteKeyStore::open(&data)?);
        let clock = Arc::new(FixedClock::at(start));
        let vault = Vault::new(
            store.clone(),
            keys,
            Arc::new(Keyring::generate()),
            clock.clone(),
            FranceTravailPattern::new(DEFAULT_FRANCE_TRAVAIL_PATTERN)
                .map_err(|e| anyhow!("{e}"))?,
            Arc::new(Policies::default_policies()?),
        )
        .with_guard(o.guard.clone());
        let rules = vault.rules();

        let files = rempart_synth::generate(o.files_per_agency * o.agencies, o.agencies, o.seed);
        let mut csv = Vec::new();
        rempart_synth::write_csv(&files, &mut csv)?;
        let valid = rempart_ingest::parse_csv(&csv, None, &rules)
            .map_err(|e| anyhow!("synthetic files do not validate: {e}"))?;
        vault.import(&valid, &|_, _| {})?;

        let mut agencies = Vec::new();
        for (i, code) in rempart_synth::agency_codes(o.agencies)
            .into_iter()
            .enumerate()
        {
            let agency = Agency::parse(&code)?;
            let local = Principal::local(agency.clone());
            // Decoys, from another draw of the same generator.
            let mut decoys =
                rempart_synth::generate(o.decoys_per_agency, 1, o.seed ^ (0xdec0 + i as u64));
            for d in &mut decoys {
                d.counsellor.clear();
                d.agency = code.clone();
            }
            let mut csv = Vec::new();
            rempart_synth::write_csv(&decoys, &mut csv)?;
            let decoys = rempart_ingest::parse_csv(&csv, Some(&agency), &rules)
                .map_err(|e| anyhow!("synthetic decoys do not validate: {e}"))?;
            vault.plant_decoys(&local, &agency, &decoys)?;
            // The partner's people: the first of the agency's real files.
            let partner = format!("AFPA-{:02}", i + 1);
            let partner_code = Agency::parse(&partner)?;
            let service = Principal::described("case-app", Role::Service, agency.clone());
            let rows = all_of(&store, &ListScope::Agency(&code))?;
            for p in rows
                .iter()
                .filter(|p| !p.decoy)
                .take(o.enrolled_per_partner)
            {
                vault.enrol(&service, &p.id, &partner_code, true)?;
            }
            let rows = all_of(&store, &ListScope::Agency(&code))?;
            let counsellors = rempart_synth::counsellors(i);
            let mut caseloads: HashMap<String, Vec<String>> = HashMap::new();
            for p in &rows {
                if let Some(c) = &p.counsellor {
                    caseloads.entry(c.clone()).or_default().push(p.id.clone());
                }
            }
            agencies.push(AgencyWorld {
                listing: rows.iter().map(|p| p.id.clone()).collect(),
                decoys: rows
                    .iter()
                    .filter(|p| p.decoy)
                    .map(|p| p.id.clone())
                    .collect(),
                enrolled: rows
                    .iter()
                    .filter(|p| p.partners.contains(&partner))
                    .map(|p| p.id.clone())
                    .collect(),
                emails: files
                    .iter()
                    .filter(|f| f.agency == code)
                    .map(|f| f.email.clone())
                    .collect(),
                code,
                counsellors,
                caseloads,
                partner,
            });
        }

        let vault = Arc::new(vault);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(rempart_server::serve_with(
            listener,
            vault.clone(),
            rempart_server::ServeOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(World {
            clock,
            vault,
            base,
            agencies,
            agent,
            stop: Some(stop),
            runtime: Some(runtime),
            _dir: dir,
        })
    }

    /// The simulated time.
    pub(crate) fn now(&self) -> i64 {
        rempart_vault::Clock::now(&*self.clock)
    }

    /// Moves the simulated clock to `t` (never back).
    pub(crate) fn at(&self, t: i64) {
        let now = self.now();
        if t > now {
            self.clock.advance(t - now);
        }
    }

    /// A token for `name`, made now (valid 90 days).
    pub(crate) fn token(&self, name: &str, role: Role, agency: &str) -> Result<String> {
        let agency = Agency::parse(agency)?;
        let (t, _) = self.vault.create_token(
            &Principal::local(agency.clone()),
            name,
            role,
            &agency,
            90 * DAY,
        )?;
        Ok(t.reveal_once().to_string())
    }

    /// `GET path` with `token` (and `X-Break-Glass` when given).
    pub(crate) fn get(&self, token: &str, path: &str, break_glass: Option<&str>) -> Result<Answer> {
        let mut req = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {token}"));
        if let Some(why) = break_glass {
            req = req.header("x-break-glass", why);
        }
        let t = Instant::now();
        let resp = req.call().context("drill request")?;
        Self::answer(resp, t)
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post(&self, token: &str, path: &str, body: &serde_json::Value) -> Result<Answer> {
        let t = Instant::now();
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .context("drill request")?;
        Self::answer(resp, t)
    }

    fn answer(mut resp: ureq::http::Response<ureq::Body>, t: Instant) -> Result<Answer> {
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let problem = body["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or("")
            .to_string();
        Ok(Answer {
            status,
            problem,
            body,
            took: t.elapsed(),
        })
    }
}

/// The ids of the hits of a search or the items of a listing page.
pub(crate) fn ids_of(body: &serde_json::Value) -> Vec<String> {
    let items = body.get("items").unwrap_or(body);
    items
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
