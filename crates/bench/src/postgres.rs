//! `rempart bench --postgres URL`: the import and the secured reads on PostgreSQL, with one node
//! and with two nodes on the same database, against a baseline server reading the same JSON from
//! a plaintext PostgreSQL table. The databases are the run's own, made on the server the URL
//! names (a role that may create databases) and dropped at the end; the URL is never printed.

use crate::load::{load_on, LoadResult};
use crate::run::{
    caseload_ids, check, machine, row, BenchOptions, ChildServer, UNREACHABLE_BUDGETS,
};
use anyhow::{bail, Context, Result};
use rempart_crypto::Keyring;
use rempart_domain::{Agency, FranceTravailPattern, Purpose, Role};
use rempart_store_postgres::{PgKeyStore, PgStore};
use rempart_vault::{Principal, SystemClock, Vault};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// The run's databases on the server; dropped with it.
struct Databases {
    server: String,
    names: [String; 3],
}

impl Databases {
    fn create(server: &str) -> Result<Databases> {
        if server.contains('?') {
            bail!("--postgres: a URL without parameters (postgres://USER@HOST:PORT/DB)");
        }
        let pid = std::process::id();
        let names = ["files", "keys", "plain"].map(|n| format!("rempart_bench_{pid}_{n}"));
        let mut admin = postgres::Client::connect(server, postgres::NoTls)
            .context("--postgres: connecting to the server (the URL is not shown)")?;
        for n in &names {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"))?;
            admin
                .batch_execute(&format!("CREATE DATABASE {n}"))
                .context("--postgres: creating the run's databases (the role needs CREATEDB)")?;
        }
        Ok(Databases {
            server: server.to_string(),
            names,
        })
    }

    /// The URL of the run's database `i` (files, keys, plain).
    fn url(&self, i: usize) -> String {
        let base = self
            .server
            .rfind('/')
            .filter(|&k| k > "postgres://".len())
            .map_or(self.server.as_str(), |k| &self.server[..k]);
        format!("{base}/{}", self.names[i])
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            for n in &self.names {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"));
            }
        }
    }
}

/// Runs the PostgreSQL benchmark in `root` against the server at `server`.
pub(crate) fn run_postgres(o: &BenchOptions, root: &Path, server: &str) -> Result<String> {
    if o.files == 0 {
        bail!("--postgres needs files to import (--files at least 1)");
    }
    let dbs = Databases::create(server)?;
    let (files, keys, plain) = (dbs.url(0), dbs.url(1), dbs.url(2));
    let key = root.join("master.key");
    let witness = root.join("audit.witness");
    let store_args = |cmd: &mut Command| {
        cmd.args(["--database", &files, "--keys-database", &keys])
            .arg("--key-file")
            .arg(&key)
            .arg("--witness")
            .arg(&witness);
    };
    let mut init = Command::new(&o.exe);
    init.arg("init");
    store_args(&mut init);
    check(init.output()?, "rempart init")?;

    eprintln!("bench: generating {} synthetic files", o.files);
    let synth = rempart_synth::generate(o.files, o.agencies, 1);
    let csv = root.join("files.csv");
    rempart_synth::write_csv(
        &synth,
        std::io::BufWriter::new(std::fs::File::create(&csv)?),
    )?;
    drop(synth);
    eprintln!("bench: importing into PostgreSQL");
    let mut import = Command::new(&o.exe);
    import.arg("import").arg(&csv);
    store_args(&mut import);
    let t = Instant::now();
    check(import.output()?, "rempart import")?;
    let import_rate = o.files as f64 / t.elapsed().as_secs_f64();

    let agency = rempart_synth::agency_codes(o.agencies)[0].clone();
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
    store_args(&mut tok);
    let token = check(tok.output()?, "rempart token create")?;

    eprintln!("bench: building the plaintext baseline table");
    let ids = {
        let store = Arc::new(PgStore::open(&files)?);
        let vault = Vault::new(
            store.clone(),
            Arc::new(PgKeyStore::open(&keys)?),
            Arc::new(Keyring::load(&key, None)?),
            Arc::new(SystemClock),
            FranceTravailPattern::default(),
            Arc::new(rempart_policy::Policies::default_policies()?),
        );
        let p = Principal::described(&counsellor, Role::Counsellor, Agency::parse(&agency)?);
        let ids = caseload_ids(&*store, &agency, &counsellor)?;
        let mut db = postgres::Client::connect(&plain, postgres::NoTls)?;
        db.batch_execute("CREATE TABLE persons (id TEXT PRIMARY KEY, json TEXT NOT NULL)")?;
        let mut tx = db.transaction()?;
        let st = tx.prepare("INSERT INTO persons (id, json) VALUES ($1, $2)")?;
        for id in &ids {
            let view = vault.read(&p, id, Purpose::Accompaniment, None)?;
            tx.execute(&st, &[id, &serde_json::to_string(&view)?])?;
        }
        tx.commit()?;
        ids
    };
    let ids = Arc::new(ids);

    let guard_toml = root.join("guard.toml");
    std::fs::write(&guard_toml, UNREACHABLE_BUDGETS)?;
    let node = |guard: bool| -> Result<ChildServer> {
        let mut cmd = Command::new(&o.exe);
        if guard {
            cmd.arg("--config").arg(&guard_toml);
        }
        // Nodes with and without containment on one installation, on purpose: each makes its
        // settings the installation's as it starts.
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--alert-syslog", "off"])
            .args([
                "--guard",
                if guard { "on" } else { "off" },
                "--adopt-settings",
            ])
            .env("RUST_LOG", "warn");
        store_args(&mut cmd);
        ChildServer::start(&mut cmd)
    };
    let (one, two) = (node(false)?, node(false)?);
    let (guarded_one, guarded_two) = (node(true)?, node(true)?);
    let mut base_cmd = Command::new(&o.exe);
    base_cmd
        .arg("bench-baseline")
        .args(["--postgres", &plain, "--listen", "127.0.0.1:0"]);
    let baseline = ChildServer::start(&mut base_cmd)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let query = "?purpose=accompaniment";
    let runs: [(&str, Vec<&str>, Option<&str>); 4] = [
        (
            "baseline: plaintext PostgreSQL table",
            vec![&baseline.base],
            None,
        ),
        ("`rempart serve`, one node", vec![&one.base], Some(&token)),
        (
            "`rempart serve`, two nodes (clients spread over both)",
            vec![&one.base, &two.base],
            Some(&token),
        ),
        (
            "two nodes, containment on (counts shared in the database)",
            vec![&guarded_one.base, &guarded_two.base],
            Some(&token),
        ),
    ];
    let rounds = o.rounds.max(1);
    let results: Vec<Vec<LoadResult>> = rt.block_on(async {
        eprintln!("bench: warming up");
        for (_, bases, tok) in &runs {
            load_on(bases, query, *tok, ids.clone(), o.clients, 1.0).await?;
        }
        let mut results: Vec<Vec<LoadResult>> = vec![Vec::new(); runs.len()];
        for round in 0..rounds {
            for (k, (name, bases, tok)) in runs.iter().enumerate() {
                eprintln!("bench: round {} of {rounds}: {name}", round + 1);
                let r = load_on(bases, query, *tok, ids.clone(), o.clients, o.seconds).await?;
                results[k].push(r);
            }
        }
        anyhow::Ok(results)
    })?;
    let median = |rs: &[LoadResult]| -> LoadResult {
        let mut v = rs.to_vec();
        v.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        v[v.len() / 2].clone()
    };
    let medians: Vec<LoadResult> = results.iter().map(|r| median(r)).collect();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mut out = format!(
        "### PostgreSQL, {now} — `{}`\n\nMachine: {}; PostgreSQL {} on the same machine.\n\n",
        o.command_line,
        machine(),
        server_version(server).unwrap_or_else(|| "(version unknown)".into())
    );
    out.push_str(&format!(
        "Import: {} files in {:.1} s, **{import_rate:.0} files/s**.\n\n",
        o.files,
        o.files as f64 / import_rate
    ));
    out.push_str(&format!(
        "Reads over HTTP, {} clients, {} rounds of {} s (median round), a counsellor reading \
         random files of their caseload ({} files):\n\n\
         | server | requests/s | p50 | p99 | errors |\n| --- | --- | --- | --- | --- |\n",
        o.clients,
        rounds,
        o.seconds,
        ids.len()
    ));
    for ((name, _, _), r) in runs.iter().zip(&medians) {
        out.push_str(&row(name, r));
        out.push('\n');
    }
    let base = medians[0].rps.max(f64::MIN_POSITIVE);
    out.push_str(&format!(
        "\nSecured reads against the baseline: one node **{:.2}**, two nodes **{:.2}**, two \
         nodes with shared containment **{:.2}** (target ≥ 0.5). p99 at {} clients: one node \
         {:.1} ms, two nodes {:.1} ms (target < 10 ms).\n",
        medians[1].rps / base,
        medians[2].rps / base,
        medians[3].rps / base,
        o.clients,
        medians[1].p99.as_secs_f64() * 1e3,
        medians[2].p99.as_secs_f64() * 1e3,
    ));
    drop((one, two, guarded_one, guarded_two, baseline));
    drop(dbs);
    Ok(out)
}

fn server_version(server: &str) -> Option<String> {
    let mut c = postgres::Client::connect(server, postgres::NoTls).ok()?;
    c.simple_query("SHOW server_version")
        .ok()?
        .into_iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
}
