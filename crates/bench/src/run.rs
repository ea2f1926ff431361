//! The benchmark run: build an installation, import, serve, load, report.

use crate::load::{load, LoadResult};
use anyhow::{anyhow, bail, Context, Result};
use rempart_crypto::Keyring;
use rempart_domain::{Agency, FranceTravailPattern, Purpose, Role};
use rempart_store::FileStore;
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{Principal, SystemClock, Vault};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `rempart` executable (the servers and the import run as child processes).
    pub exe: PathBuf,
    /// Files to import (0: skip the import and HTTP benchmarks).
    pub files: usize,
    /// Agencies they are spread over.
    pub agencies: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// Seconds of load per server.
    pub seconds: f64,
    /// The command line, for the report.
    pub command_line: String,
    /// Audit entries for the audit-log benchmark (0: skip it).
    pub audit_entries: u64,
    /// Rounds of load per server (the servers take turns).
    pub rounds: usize,
    /// Notices delivered to a local SMTP server (0: skip it).
    pub notices: usize,
    /// A PostgreSQL server (a URL, never printed) to run the import and reads on instead of
    /// the embedded store, with one node and two.
    pub postgres: Option<String>,
}

pub(crate) struct ChildServer {
    child: Child,
    pub(crate) base: String,
}

impl ChildServer {
    pub(crate) fn start(cmd: &mut Command) -> Result<ChildServer> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting a server")?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines
                .next()
                .ok_or_else(|| anyhow!("server exited before listening"))??;
            if let Some(a) = line.strip_prefix("rempart: listening on ") {
                break a.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(ChildServer { child, base })
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which is in parentheses): utime is the 14th field
        // of the line, stime the 15th, in clock ticks (100 per second on Linux).
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }

    /// The `/proc` directories and `stat` fields (from the 3rd, the state) of the server's
    /// threads whose name starts with `prefix` (at most 15 bytes: the kernel keeps no more of a
    /// name).
    fn threads(&self, prefix: &str) -> Option<Vec<(PathBuf, Vec<String>)>> {
        let dir = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).ok()?;
        let mut out = Vec::new();
        for t in dir.flatten() {
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            if head
                .split_once('(')
                .is_some_and(|(_, name)| name.starts_with(prefix))
            {
                out.push((
                    t.path(),
                    rest.split_whitespace().map(String::from).collect(),
                ));
            }
        }
        Some(out)
    }

    /// CPU time (user + system) used so far by the server's threads whose name starts with
    /// `prefix`, in seconds.
    fn thread_cpu_secs(&self, prefix: &str) -> Option<f64> {
        let mut ticks = 0.0;
        for (_, f) in self.threads(prefix)? {
            ticks += f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        }
        Some(ticks / 100.0)
    }

    /// For the server's threads whose name starts with `prefix`: the time they spent runnable
    /// but waiting for a CPU so far, in seconds, and how many times they were scheduled in
    /// (`schedstat`), and the nice value of the first one.
    fn thread_sched(&self, prefix: &str) -> Option<(f64, u64, i64)> {
        let (mut wait, mut runs, mut nice) = (0.0, 0, None);
        for (dir, f) in self.threads(prefix)? {
            let Ok(sched) = std::fs::read_to_string(dir.join("schedstat")) else {
                continue;
            };
            let v: Vec<u64> = sched
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            wait += *v.get(1)? as f64 / 1e9;
            runs += *v.get(2)?;
            nice = nice.or_else(|| f.get(16).and_then(|n| n.parse().ok()));
        }
        Some((wait, runs, nice?))
    }

    /// Peak resident memory (VmHWM) in MiB.
    fn peak_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the closed installation `from` (its databases and files; SQLite rebuilds the
/// shared-memory index) to the new directory `to`.
fn copy_installation(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir(to).with_context(|| format!("creating {}", to.display()))?;
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if e.file_type()?.is_file() && !name.to_string_lossy().ends_with("-shm") {
            std::fs::copy(e.path(), to.join(&name))
                .with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// Every file of `counsellor`'s caseload in `agency`, by id.
pub(crate) fn caseload_ids(
    store: &dyn FileStore,
    agency: &str,
    counsellor: &str,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_persons(
            &rempart_store::ListScope::Caseload { agency, counsellor },
            after.as_deref(),
            1000,
        )?;
        if page.is_empty() {
            return Ok(ids);
        }
        after = page.last().map(|s| s.id.clone());
        ids.extend(page.into_iter().map(|s| s.id));
    }
}

pub(crate) fn check(status: std::process::Output, what: &str) -> Result<String> {
    if !status.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&status.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&status.stdout).trim().to_string())
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}")
}

pub(crate) fn row(name: &str, r: &LoadResult) -> String {
    format!(
        "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |",
        r.rps,
        r.p50.as_secs_f64() * 1000.0,
        r.p99.as_secs_f64() * 1000.0,
        r.errors
    )
}

/// Decisions of the containment benchmark.
const GUARD_DECISIONS: usize = 200_000;

/// Budgets of the guarded server: containment counts every person, and no round comes near.
pub(crate) const UNREACHABLE_BUDGETS: &str = "[guard]\nprobation = \"0s\"\n\
[guard.limits.counsellor]\n\
all = { minute = 1000000000, hour = 1000000000, day = 1000000000 }\n\
outside = { minute = 1000000000, hour = 1000000000, day = 1000000000 }\n";

/// Requests of the authorisation benchmark.
const AUTHZ_REQUESTS: usize = 200_000;
/// Access tokens validated for the cost of one.
const JWT_VALIDATIONS: usize = 2_000;

/// How the names of the audit log's writer thread (`rempart_store`'s group commit) and of its
/// indexer thread begin.
const AUDIT_THREADS: [&str; 2] = ["rempart-audit-w", "rempart-audit-i"];

/// One server's round: the load, its CPU per request, its audit writer's and indexer's CPU per
/// request, the share of the machine's CPU time left idle, and the writer's wait for a CPU per
/// time it was scheduled in, with its nice value.
type Round = (
    LoadResult,
    Option<f64>,
    Option<(f64, f64)>,
    Option<f64>,
    Option<(f64, i64)>,
);

/// The machine's (idle, total) CPU time so far, in clock ticks, from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal …: idle and iowait are idle time.
    Some((f.get(3)? + f.get(4)?, f.iter().take(8).sum()))
}

/// Runs the benchmarks and returns the report (Markdown).
pub fn run(o: &BenchOptions) -> Result<String> {
    let root = std::env::temp_dir().join(format!("rempart-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let result = match &o.postgres {
        Some(server) => crate::postgres::run_postgres(o, &root, server),
        None => run_in(o, &root),
    };
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn run_in(o: &BenchOptions, root: &Path) -> Result<String> {
    if o.files == 0 {
        // Only the audit-log part.
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        let mut out = format!(
            "### {now} — `{}`\n\nMachine: {}.\n\n",
            o.command_line,
            machine()
        );
        out.push_str(&crate::authz::run(AUTHZ_REQUESTS)?);
        out.push('\n');
        out.push_str(&crate::guard::run(GUARD_DECISIONS));
        if o.audit_entries > 0 {
            out.push('\n');
            out.push_str(&crate::audit::run(root, o.audit_entries)?);
        }
        out.push_str(&notices(root, o.notices)?);
        return Ok(out);
    }
    let data = root.join("data");
    let key = root.join("master.key");
    let store_args = |cmd: &mut Command, data: &Path| {
        cmd.arg("--data").arg(data).arg("--key-file").arg(&key);
    };
    let mut init = Command::new(&o.exe);
    init.arg("init");
    store_args(&mut init, &data);
    check(init.output()?, "rempart init")?;

    eprintln!("bench: generating {} synthetic files", o.files);
    let files = rempart_synth::generate(o.files, o.agencies, 1);
    let csv = root.join("files.csv");
    rempart_synth::write_csv(
        &files,
        std::io::BufWriter::new(std::fs::File::create(&csv)?),
    )?;
    drop(files);

    eprintln!("bench: importing");
    let mut import = Command::new(&o.exe);
    import.arg("import").arg(&csv);
    store_args(&mut import, &data);
    let t = Instant::now();
    check(import.output()?, "rempart import")?;
    let import_secs = t.elapsed().as_secs_f64();
    let import_rate = o.files as f64 / import_secs;

    let agency = rempart_synth::agency_codes(o.agencies)[0].clone();
    // A counsellor of the first agency, reading the files of their caseload.
    let counsellor = rempart_synth::counsellors(0)[0].clone();
    let mut tok = Command::new(&o.exe);
    tok.args([
        "token",
        "create",
        "--principal",
        &counsellor,
        "--role",
        "counsellor",
        "--agency",
        &agency,
        "--expires",
        "1d",
    ]);
    store_args(&mut tok, &data);
    let token = check(tok.output()?, "rempart token create")?;

    // The same JSON the secured server returns, into a plaintext table for the baseline.
    eprintln!("bench: building the plaintext baseline table");
    let ids = {
        let store = Arc::new(SqliteStore::open(&data)?);
        let keys = Arc::new(SqliteKeyStore::open(&data)?);
        let ring = Keyring::load(&key, None)?;
        let vault = Vault::new(
            store.clone(),
            keys,
            Arc::new(ring),
            Arc::new(SystemClock),
            FranceTravailPattern::default(),
            Arc::new(rempart_policy::Policies::default_policies()?),
        );
        let p = Principal::described(&counsellor, Role::Counsellor, Agency::parse(&agency)?);
        // The counsellor as a principal record (asked at the console, approved by an
        // operator), for the server whose agents sign in through OIDC.
        vault.bootstrap_operators(
            &Principal::local(Agency::parse("LOCAL")?),
            &["op.bench".into()],
            &Agency::parse(&agency)?,
        )?;
        let q = vault.request_account(
            &Principal::local(Agency::parse("LOCAL")?),
            rempart_vault::RequestKind::Create,
            &counsellor,
            Role::Counsellor,
            &Agency::parse(&agency)?,
        )?;
        vault.decide_account(
            &Principal::described("op.bench", Role::Operator, Agency::parse(&agency)?),
            &q.id,
            true,
        )?;
        let ids = caseload_ids(&*store, &agency, &counsellor)?;
        let db = rusqlite::Connection::open(root.join("baseline.db"))?;
        db.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE persons (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;")?;
        let tx = db.unchecked_transaction()?;
        {
            let mut st = tx.prepare("INSERT INTO persons (id, json) VALUES (?1, ?2)")?;
            for id in &ids {
                let view = vault.read(&p, id, Purpose::Accompaniment, None)?;
                st.execute(rusqlite::params![id, serde_json::to_string(&view)?])?;
            }
        }
        tx.commit()?;
        ids
    };
    let ids = Arc::new(ids);

    // Each server gets its own copy of the installation, as a deployment would: servers sharing
    // one database would contend for its write lock (the audited servers' writer threads index
    // each other's entries) and measure that instead.
    let own_copy = |name: &str| -> Result<PathBuf> {
        let dir = root.join(name);
        copy_installation(&data, &dir)?;
        Ok(dir)
    };
    let mut serve = Command::new(&o.exe);
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--guard", "off"])
        .env("RUST_LOG", "warn");
    store_args(&mut serve, &own_copy("data-serve")?);
    let secured = ChildServer::start(&mut serve)?;
    // The same server with containment on, under budgets no round reaches: what counting
    // every person of every response costs.
    let guard_toml = root.join("guard.toml");
    std::fs::write(&guard_toml, UNREACHABLE_BUDGETS)?;
    let mut guarded_cmd = Command::new(&o.exe);
    guarded_cmd
        .arg("--config")
        .arg(&guard_toml)
        .args(["serve", "--listen", "127.0.0.1:0", "--guard", "on"])
        .env("RUST_LOG", "warn");
    store_args(&mut guarded_cmd, &own_copy("data-guarded")?);
    let guarded = ChildServer::start(&mut guarded_cmd)?;
    let mut noaudit_cmd = Command::new(&o.exe);
    noaudit_cmd
        .arg("bench-no-audit")
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    store_args(&mut noaudit_cmd, &own_copy("data-no-audit")?);
    let noaudit = ChildServer::start(&mut noaudit_cmd)?;
    let mut nopolicy_cmd = Command::new(&o.exe);
    nopolicy_cmd
        .arg("bench-no-policy")
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    store_args(&mut nopolicy_cmd, &own_copy("data-no-policy")?);
    let nopolicy = ChildServer::start(&mut nopolicy_cmd)?;
    // The same server with agents signing in through OIDC: a local issuer's access token.
    let issuer = crate::jwt::Issuer::start(crate::jwt::Alg::Rs256)?;
    let oidc_toml = root.join("oidc.toml");
    std::fs::write(
        &oidc_toml,
        format!(
            "[oidc]\nissuer = \"{}\"\naudience = \"rempart\"\nprincipal_claim = \"email\"\n",
            issuer.base
        ),
    )?;
    let mut oidc_cmd = Command::new(&o.exe);
    oidc_cmd
        .arg("--config")
        .arg(&oidc_toml)
        .args(["serve", "--listen", "127.0.0.1:0", "--guard", "off"])
        .env("RUST_LOG", "warn");
    store_args(&mut oidc_cmd, &own_copy("data-oidc")?);
    let oidc = ChildServer::start(&mut oidc_cmd)?;
    let jwt = issuer.token(&counsellor, "rempart", 0)?;
    let mut base_cmd = Command::new(&o.exe);
    base_cmd
        .arg("bench-baseline")
        .arg("--db")
        .arg(root.join("baseline.db"))
        .args(["--listen", "127.0.0.1:0"]);
    let baseline = ChildServer::start(&mut base_cmd)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let query = "?purpose=accompaniment";
    let servers: [(&ChildServer, Option<&str>); 6] = [
        (&secured, Some(&token)),
        (&noaudit, Some(&token)),
        (&baseline, None),
        (&nopolicy, Some(&token)),
        (&guarded, Some(&token)),
        (&oidc, Some(&jwt)),
    ];
    let rounds = o.rounds.max(1);
    // rounds × servers: the servers take turns, so that a slow spell of the machine falls on
    // all of them rather than on one.
    let runs = rt.block_on(async {
        eprintln!("bench: warming up");
        for (srv, tok) in servers {
            load(&srv.base, query, tok, ids.clone(), o.clients, 1.0).await?;
        }
        eprintln!(
            "bench: {} clients for {}s on each server, {rounds} rounds",
            o.clients, o.seconds
        );
        let mut out: Vec<Vec<Round>> = vec![Vec::new(); servers.len()];
        for round in 0..rounds {
            for (k, (srv, tok)) in servers.iter().enumerate() {
                eprintln!("bench: round {} of {rounds}, server {}", round + 1, k + 1);
                let before = srv.cpu_secs();
                let audit_cpu = || {
                    srv.thread_cpu_secs(AUDIT_THREADS[0])
                        .zip(srv.thread_cpu_secs(AUDIT_THREADS[1]))
                };
                let writer_before = audit_cpu();
                let sched_before = srv.thread_sched(AUDIT_THREADS[0]);
                let ticks_before = machine_ticks();
                let r = load(&srv.base, query, *tok, ids.clone(), o.clients, o.seconds).await?;
                let per = |a: f64, b: f64| (b - a) / r.requests.max(1) as f64;
                let cpu = before.zip(srv.cpu_secs()).map(|(a, b)| per(a, b));
                let writer = writer_before
                    .zip(audit_cpu())
                    .map(|((w0, i0), (w1, i1))| (per(w0, w1), per(i0, i1)));
                let idle = ticks_before
                    .zip(machine_ticks())
                    .map(|((i0, t0), (i1, t1))| (i1 - i0) as f64 / (t1 - t0).max(1) as f64);
                let sched = sched_before.zip(srv.thread_sched(AUDIT_THREADS[0])).map(
                    |((w0, n0, _), (w1, n1, nice))| ((w1 - w0) / (n1 - n0).max(1) as f64, nice),
                );
                out[k].push((r, cpu, writer, idle, sched));
            }
        }
        anyhow::Ok(out)
    })?;
    // Each server's median round by throughput, and the ratios of each round.
    let median_of = |v: &[Round]| -> Round {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.0.rps.total_cmp(&b.0.rps));
        v[v.len() / 2].clone()
    };
    let results: Vec<Round> = runs.iter().map(|v| median_of(v)).collect();
    // Each round's ratio pairs the two servers' turns next to each other in time; their median
    // is less exposed to the machine's slow spells than the ratio of the medians.
    let round_ratios = |a: usize, b: usize| -> String {
        let mut r: Vec<f64> = runs[a]
            .iter()
            .zip(&runs[b])
            .map(|(x, y)| x.0.rps / y.0.rps.max(1e-9))
            .collect();
        let listed = r
            .iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        r.sort_by(f64::total_cmp);
        let n = r.len();
        match (r.get(n.saturating_sub(1) / 2), r.get(n / 2)) {
            (Some(lo), Some(hi)) => format!("{listed}; their median {:.2}", (lo + hi) / 2.0),
            _ => listed,
        }
    };
    let errors: u64 = runs.iter().flatten().map(|r| r.0.errors).sum();
    let (sec, quiet, base, open, guard) = (
        &results[0].0,
        &results[1].0,
        &results[2].0,
        &results[3].0,
        &results[4].0,
    );
    let cpu_us = |k: usize| {
        results[k]
            .1
            .map(|c| format!("{:.0} µs", c * 1e6))
            .unwrap_or_else(|| "n/a".into())
    };
    let audit_us = |(w, i): (f64, f64)| format!("{:.1} + {:.1} µs", w * 1e6, i * 1e6);
    let mem = |s: &ChildServer| {
        s.peak_mib()
            .map(|m| format!("{m:.1} MiB"))
            .unwrap_or_else(|| "n/a".into())
    };

    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mut out = String::new();
    out.push_str(&format!("### {now} — `{}`\n\n", o.command_line));
    out.push_str(&format!(
        "Machine: {}. Load client in the same process tree on the same machine.\n\n",
        machine()
    ));
    out.push_str("| import | value | target |\n| --- | --- | --- |\n");
    out.push_str(&format!(
        "| `rempart import` of {} synthetic files (CSV parse, validation, sealing, SQLite, audit entry) | {import_rate:.0} files/s ({import_secs:.1} s) | ≥ 20,000 files/s |\n\n",
        o.files
    ));
    out.push_str(&format!(
        "Reads: `GET /v1/persons/{{id}}?purpose=accompaniment`, random files among the {} of one counsellor's caseload, {} concurrent clients, {} s per server and round after 1 s of warm-up, {rounds} rounds (the servers take turns); each server's median round below, server CPU time (user + system) per request and the share of the machine's CPU time left idle during the round, from `/proc`.\n\n",
        ids.len(),
        o.clients,
        o.seconds
    ));
    out.push_str("| server | requests/s | p50 | p99 | errors | server CPU per request | machine CPU idle |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (k, (name, r)) in [
        ("`rempart serve`: token, key unwrap, identity opened for the minor test, Cedar policies (a decision per category), AES-GCM open of the allowed categories, audit entry durable before the response", sec),
        ("the same vault with read auditing dropped (`rempart bench-no-audit`, measurement only)", quiet),
        ("baseline: same stack, plaintext SQLite table, no authentication, encryption or audit", base),
        ("the same vault with the policies replaced by the former agency rule in plain Rust (`rempart bench-no-policy`, measurement only)", open),
        ("`rempart serve` with containment on (`--guard on`, budgets no round reaches): every person of every response counted", guard),
        ("`rempart serve` with `[oidc]`: an access token (JWT, RS256) of a local issuer instead of an API token", &results[5].0),
    ]
    .into_iter()
    .enumerate()
    {
        out.push_str(&row(name, r));
        let idle = results[k]
            .3
            .map_or("n/a".into(), |i| format!("{:.0} %", i * 100.0));
        out.push_str(&format!(" {} | {idle} |\n", cpu_us(k)));
    }
    out.push_str(&format!(
        "\n| measure | value | target |\n| --- | --- | --- |\n\
         | vault without read audit / baseline (cost of tokens and encryption) | {:.2} | ≥ 0.5 (issue 2) |\n\
         | `rempart serve` / vault without read audit (cost of the audit log) | {:.2} (rounds: {}) | ≥ 0.8 (issue 3) |\n\
         | CPU of `rempart serve`'s audit writer thread + indexer thread per request (rounds: {}) | {} | |\n\
         | wait of `rempart serve`'s audit writer thread for a CPU each time it is scheduled in, and its nice value (rounds: {}) | {} | |\n\
         | `rempart serve` / vault without policy evaluation (cost of the Cedar policies) | {:.2} (rounds: {}) | |\n\
         | `rempart serve --guard on` / `rempart serve --guard off` (cost of containment) | {:.2} (rounds: {}) | ≥ 0.95 (issue 18) |\n\
         | `rempart serve` / baseline (all of it) | {:.2} | |\n\
         | peak memory `rempart serve` (VmHWM) | {} | |\n\
         | peak memory baseline (VmHWM) | {} | |\n",
        quiet.rps / base.rps.max(1e-9),
        sec.rps / quiet.rps.max(1e-9),
        round_ratios(0, 1),
        runs[0]
            .iter()
            .map(|r| r.2.map_or("n/a".into(), audit_us))
            .collect::<Vec<_>>()
            .join(", "),
        results[0].2.map_or("n/a".into(), audit_us),
        runs[0]
            .iter()
            .map(|r| r.4.map_or("n/a".into(), |(w, _)| format!("{:.0} µs", w * 1e6)))
            .collect::<Vec<_>>()
            .join(", "),
        results[0].4.map_or("n/a".into(), |(w, n)| format!(
            "{:.0} µs at nice {n}",
            w * 1e6
        )),
        sec.rps / open.rps.max(1e-9),
        round_ratios(0, 3),
        guard.rps / sec.rps.max(1e-9),
        round_ratios(4, 0),
        sec.rps / base.rps.max(1e-9),
        mem(&secured),
        mem(&baseline)
    ));
    let (first, again) = crate::jwt::validation_cost(&issuer, JWT_VALIDATIONS)?;
    let ed = crate::jwt::Issuer::start(crate::jwt::Alg::EdDsa)?;
    let (ed_first, _) = crate::jwt::validation_cost(&ed, JWT_VALIDATIONS)?;
    out.push_str(&format!(
        "| `rempart serve` with OIDC access tokens / with API tokens (rounds: {}) | {:.2} | |\n\
         | validation of an access token first seen: RS256 signature (2048-bit key), `typ`, issuer, audience, times ({JWT_VALIDATIONS} tokens, JWKS cached) | {first:.1} µs | < 30 µs (issue 20) |\n\
         | the same, EdDSA signature | {ed_first:.1} µs | |\n\
         | validation of an access token seen before (its check found by the token's SHA-256) | {again:.2} µs | |\n",
        round_ratios(5, 0),
        results[5].0.rps / sec.rps.max(1e-9),
    ));
    if errors > 0 {
        out.push_str("\nSome requests failed: the figures above are not valid.\n");
    }
    drop(secured);
    drop(noaudit);
    drop(baseline);
    drop(nopolicy);
    drop(guarded);
    drop(oidc);
    out.push('\n');
    out.push_str(&crate::authz::run(AUTHZ_REQUESTS)?);
    out.push('\n');
    out.push_str(&crate::guard::run(GUARD_DECISIONS));
    if o.audit_entries > 0 {
        out.push('\n');
        out.push_str(&crate::audit::run(root, o.audit_entries)?);
    }
    out.push_str(&notices(root, o.notices)?);
    Ok(out)
}

/// The notice-delivery table, when asked for.
fn notices(root: &Path, n: usize) -> Result<String> {
    if n == 0 {
        return Ok(String::new());
    }
    Ok(format!(
        "\n| notices | value | target |\n| --- | --- | --- |\n{}",
        crate::notices::run(root, n)?
    ))
}
