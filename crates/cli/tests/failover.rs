//! A kill storm on PostgreSQL with a synchronous streaming replica: two nodes under write and
//! read load, one SIGKILLed at random moments and restarted 20 times, the primary killed once
//! and the replica promoted. Every acknowledged write is there afterwards, every served read has
//! its audit entry, and the log verifies. The clusters are the test's own (`initdb`,
//! `pg_basebackup`, run as the `postgres` user), on free ports, removed at the end.

use crate::util::*;
use rand::Rng;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The directory of the newest PostgreSQL server binaries on the machine.
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|b| b.join("initdb").exists());
    found.sort_by_key(|b| {
        b.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect(
        "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are needed: apt-get install -y postgresql",
    )
}

/// Runs a PostgreSQL binary as the `postgres` user (the server refuses to run as root).
fn as_postgres(tool: &str, args: &[&str]) {
    let bin = pg_bin().join(tool);
    let o = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "runuser -u postgres {}: {e} (the test needs root and the postgres user)",
                bin.display()
            )
        });
    assert!(
        o.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL cluster of the test's own; stopped at once when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(&self, options: &str) {
        let log = self.dir.with_extension("log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 {options}",
            self.port,
            self.dir.parent().unwrap().display()
        );
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.dir.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
    }

    /// Kills the cluster as a crash would: its postmaster SIGKILLed, then what it left behind.
    fn crash(&self) {
        let pid = std::fs::read_to_string(self.dir.join("postmaster.pid")).unwrap();
        let pid = pid.lines().next().unwrap().trim().to_string();
        assert!(Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success());
        // Its backends notice the postmaster is gone and exit; stop any that linger.
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &format!("-D {}", self.dir.display())])
            .status();
    }

    fn sql(&self, db: &str, sql: &str) -> Vec<postgres::Row> {
        let mut c = postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname={db}",
                self.port
            ),
            postgres::NoTls,
        )
        .unwrap();
        c.query(sql, &[]).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.dir.join("postmaster.pid").exists() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(pg_bin().join("pg_ctl"))
                .args(["-D", self.dir.to_str().unwrap(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// A primary and its synchronous standby, both streaming, in `root`.
fn replicated(root: &Path) -> (Cluster, Cluster) {
    // The server runs as `postgres`: it must reach and write its directories.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let primary = Cluster {
        dir: root.join("primary"),
        port: free_port(),
    };
    let standby = Cluster {
        dir: root.join("standby"),
        port: free_port(),
    };
    as_postgres(
        "initdb",
        &[
            "-D",
            primary.dir.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-instructions",
        ],
    );
    // Synchronous: a commit returns once the standby has it. Given to the primary only, so that
    // the standby, once promoted, does not wait for a standby of its own.
    primary.start("-c wal_level=replica -c max_wal_senders=4 -c synchronous_standby_names=standby -c synchronous_commit=on");
    as_postgres(
        "pg_basebackup",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "postgres",
            "-D",
            standby.dir.to_str().unwrap(),
            "-R",
            "-X",
            "stream",
        ],
    );
    let conf = standby.dir.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&format!(
        "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=standby'\n",
        primary.port
    ));
    std::fs::write(&conf, text).unwrap();
    standby.start("-c hot_standby=on");
    let start = Instant::now();
    loop {
        let rows = primary.sql(
            "postgres",
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'",
        );
        if rows.first().map(|r| r.get::<_, String>(0)).as_deref() == Some("sync") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the standby never became synchronous"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (primary, standby)
}

fn file(n: usize) -> serde_json::Value {
    json!({
        "agency": "ML-075-13",
        "identity": {"last_name": "Martin", "first_names": "Léa", "birth_date": "2006-04-17", "sex": "F"},
        "contact": {"email": format!("storm{n}@example.fr")},
        "followup": {"registered_on": "2024-09-02", "status": "registered", "counsellor": "c.durand"}
    })
}

/// What the clients saw answered with a success.
#[derive(Default)]
struct Answered {
    /// Request ids of the acts answered.
    ids: Vec<String>,
    /// Files whose creation was answered.
    created: Vec<String>,
    reads: usize,
}

#[test]
fn a_kill_storm_and_a_failover_lose_nothing_acknowledged() {
    let root = tempfile::tempdir().unwrap();
    let (primary, standby) = replicated(root.path());
    for db in ["storm_files", "storm_keys"] {
        primary.sql("postgres", &format!("CREATE DATABASE {db}"));
    }
    let url = |db: &str| {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{db}?target_session_attrs=read-write&connect_timeout=2",
            primary.port, standby.port
        )
    };
    let (files, keys) = (url("storm_files"), url("storm_keys"));
    let key = root.path().join("master.key");
    let witness = root.path().join("audit.witness");
    let store = |rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
        for a in [
            "--database",
            &files,
            "--keys-database",
            &keys,
            "--key-file",
            key.to_str().unwrap(),
            "--witness",
            witness.to_str().unwrap(),
        ] {
            v.push(a.to_string());
        }
        v
    };
    let o = rempart().args(store(&["init"])).output().unwrap();
    assert!(o.status.success(), "init: {}", stderr(&o));
    let token = |principal: &str, role: &str| {
        let o = rempart()
            .args(store(&[
                "token",
                "create",
                "--principal",
                principal,
                "--role",
                role,
                "--agency",
                "ML-075-13",
                "--expires",
                "1d",
            ]))
            .output()
            .unwrap();
        assert!(o.status.success(), "token: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let writer = token("case-app", "service");
    let reader = token("c.durand", "counsellor");
    let ports = [free_port(), free_port()];
    let serve = |port: u16| {
        let listen = format!("127.0.0.1:{port}");
        serve_command(rempart().args(store(&[
            "serve",
            "--listen",
            &listen,
            "--guard",
            "off",
            "--alert-syslog",
            "off",
            "--checkpoint-every",
            "1",
        ])))
        .0
    };
    let mut a = serve(ports[0]);
    let b = serve(ports[1]);

    let answered = Arc::new(Mutex::new(Answered::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicUsize::new(0));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut clients = Vec::new();
    // On each node, one client writing and one reading what was written.
    for (k, port) in [ports[0], ports[0], ports[1], ports[1]]
        .into_iter()
        .enumerate()
    {
        let (answered, stop, failed, client) = (
            answered.clone(),
            stop.clone(),
            failed.clone(),
            client.clone(),
        );
        let (writer, reader) = (writer.clone(), reader.clone());
        clients.push(std::thread::spawn(move || {
            let base = format!("http://127.0.0.1:{port}");
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let rid = format!("storm-{k}-{n}");
                let writes = k % 2 == 0;
                let req = if writes {
                    client
                        .post(format!("{base}/v1/persons"))
                        .json(&file(k * 1_000_000 + n))
                        .bearer_auth(&writer)
                } else {
                    let created = answered.lock().unwrap().created.clone();
                    let Some(id) = created.get(n % created.len().max(1)) else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    client
                        .get(format!("{base}/v1/persons/{id}?purpose=accompaniment"))
                        .bearer_auth(&reader)
                };
                let r = req.header("x-request-id", &rid).send();
                let ok = match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match (writes, status, r.json::<serde_json::Value>()) {
                            (true, 201, Ok(body)) => {
                                let mut a = answered.lock().unwrap();
                                a.created.push(body["id"].as_str().unwrap().to_string());
                                a.ids.push(rid);
                                true
                            }
                            (false, 200, Ok(_)) => {
                                let mut a = answered.lock().unwrap();
                                a.ids.push(rid);
                                a.reads += 1;
                                true
                            }
                            // The node or the database failing over: not an answer.
                            (_, 500.., _) | (_, _, Err(_)) => false,
                            (_, status, Ok(body)) => {
                                panic!("request {rid}: status {status}: {body}")
                            }
                        }
                    }
                    Err(_) => false,
                };
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }));
    }

    let mut rng = rand::thread_rng();
    let mut promoted_at = None;
    for round in 0..20 {
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..900)));
        a.kill();
        if round == 10 {
            // The primary dies; the standby, which has every commit, takes over.
            let before = answered.lock().unwrap().ids.len();
            primary.crash();
            as_postgres(
                "pg_ctl",
                &["-D", standby.dir.to_str().unwrap(), "-w", "promote"],
            );
            promoted_at = Some(before);
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
        a = serve(ports[0]);
    }
    // Load goes on after the last restart, on the new primary.
    let settled = answered.lock().unwrap().ids.len();
    let start = Instant::now();
    while answered.lock().unwrap().ids.len() < settled + 50
        && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    drop((a, b));
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    let promoted_at = promoted_at.unwrap();
    eprintln!(
        "kill storm: {} acts answered ({} files, {} reads; {} before the failover), {} refused or cut",
        answered.ids.len(),
        answered.created.len(),
        answered.reads,
        promoted_at,
        failed.load(Ordering::Relaxed)
    );
    assert!(
        answered.created.len() >= 20
            && answered.reads >= 20
            && answered.ids.len() > promoted_at + 50,
        "too little load: {} files, {} reads, {} acts ({} before the failover)",
        answered.created.len(),
        answered.reads,
        answered.ids.len(),
        promoted_at
    );

    // The log verifies, and holds every act answered.
    let o = rempart()
        .args(store(&["audit", "verify"]))
        .output()
        .unwrap();
    assert!(o.status.success(), "audit verify: {}", stderr(&o));
    let logged = logged_request_ids(
        &rempart()
            .args(store(&["audit", "export"]))
            .output()
            .unwrap(),
    );
    let missing: Vec<&String> = answered
        .ids
        .iter()
        .filter(|r| !logged.contains(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered acts have no entry: {missing:?}",
        missing.len(),
        answered.ids.len()
    );
    // Every file whose creation was answered is there, on the promoted standby.
    let s = serve(free_port());
    for id in &answered.created {
        let r = s.get(
            Some(&reader),
            &format!("/v1/persons/{id}?purpose=accompaniment"),
        );
        assert_eq!(r.status, 200, "file {id}: {}", r.json);
    }
}
