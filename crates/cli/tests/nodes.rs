//! Several `rempart serve` on one PostgreSQL: a stolen token used on both in turn is held to the
//! budget of one node, whether containment's counts are shared in the database or in Redis;
//! the log they write together verifies; Redis cut off fails closed, says so in `/healthz` and
//! in an alert, and containment resumes when it answers again.

use crate::containment::{read, webhook};
use crate::util::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A TCP relay to the test Redis that can be cut: every connection through it closed, new ones
/// closed at once, as when Redis or the network to it goes down.
struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start() -> Relay {
        let target = redis_server()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (c, o) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if c.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                };
                {
                    let mut open = o.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(upstream.try_clone().unwrap());
                }
                pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pipe(upstream, client);
            }
        });
        Relay { port, cut, open }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Cuts (`true`) or mends the link.
    fn cut(&self, on: bool) {
        self.cut.store(on, Ordering::SeqCst);
        if on {
            for s in self.open.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Two nodes on the installation, with these flags.
fn two_nodes(i: &Install, flags: &[&str]) -> (Server, Server) {
    (i.serve_with(flags), i.serve_with(flags))
}

/// A stolen counsellor token, on probation (5 people outside the caseload a minute), used on
/// `a` and `b` in turn: five people leave, two refusals, then the suspension, on whichever node;
/// the alert names exactly the five.
fn stolen_token_used_in_turn_is_held_to_one_budget(i: &Install, a: &Server, b: &Server) {
    let ids = outside_files(i, a, 10);
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    let nodes = [a, b];
    for (k, id) in ids[..5].iter().enumerate() {
        let r = read(nodes[k % 2], &stolen, id);
        assert_eq!(r.status, 200, "person {k}: {}", r.json);
    }
    // On one node alone, each would have seen three or fewer: the sixth is refused anyway.
    for (k, id) in ids[5..7].iter().enumerate() {
        let r = read(nodes[(k + 1) % 2], &stolen, id);
        assert_eq!(r.status, 429, "{}", r.json);
        assert!(r.json["type"].as_str().unwrap().ends_with("/contained"));
    }
    let r = read(b, &stolen, &ids[7]);
    assert_eq!(r.status, 403, "suspended after three refusals: {}", r.json);
    for n in nodes {
        assert_eq!(read(n, &stolen, &ids[0]).status, 403, "on every node");
    }
    let rssi = i.token("rssi", "operator", "ML-1");
    let alerts = a.get(Some(&rssi), "/v1/alerts").json;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "one suspension, one alert: {alerts:?}");
    let mut people: Vec<&str> = alerts[0]["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    people.sort();
    let mut shown: Vec<&str> = ids[..5].iter().map(String::as_str).collect();
    shown.sort();
    assert_eq!(
        people, shown,
        "exactly the people whose data left, from both nodes"
    );
    for n in nodes {
        let h = n.get(None, "/healthz").json;
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["guard"], "shared", "{h}");
    }
}

#[test]
fn two_nodes_sharing_counts_in_the_database_hold_a_stolen_token_to_one_budget_and_their_log_verifies(
) {
    let i = Install::postgres();
    let (a, b) = two_nodes(&i, &["--alert-syslog", "off"]);
    stolen_token_used_in_turn_is_held_to_one_budget(&i, &a, &b);
    // Both nodes wrote the log at once; each signs checkpoints while it holds the lease.
    let reader = i.token("dpo", "dpo", "ML-1");
    std::thread::scope(|sc| {
        for n in [&a, &b] {
            let reader = reader.clone();
            sc.spawn(move || {
                for _ in 0..20 {
                    assert_eq!(n.get(Some(&reader), "/v1/audit/checkpoint").status, 200);
                }
            });
        }
    });
    drop((a, b));
    let o = i.run(&["audit", "verify"]);
    assert!(o.status.success(), "audit verify: {}", stderr(&o));
}

/// A proof of possession accepted by `a` is refused when replayed to `b`. Then wrong guesses
/// from the same address, sent to `a` and `b` in turn: the tenth failure (the replay was the
/// first) locks the address on both nodes (on one node alone, each would have seen five), and
/// the next attempt, right, is refused on either. `public_url` is the address both nodes answer as (a load balancer's).
fn guesses_and_proofs_meet_the_limits_of_one_node(
    i: &Install,
    a: &Server,
    b: &Server,
    public_url: &str,
) {
    let key = crate::oidc::DpopKey::new();
    let o = i.run(&[
        "token",
        "create",
        "--principal",
        "svc.partner",
        "--role",
        "counsellor",
        "--agency",
        "ML-1",
        "--dpop-jkt",
        &key.thumbprint(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bound = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let path = "/v1/persons?purpose=accompaniment";
    let url = format!("{public_url}/v1/persons");
    let send = |s: &Server, proof: &str| {
        s.client
            .get(format!("{}{path}", s.base))
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof)
            .send()
            .unwrap()
    };
    let proof = key.proof("GET", &url, Some(&bound));
    let r = send(a, &proof);
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
    let r = send(b, &proof);
    assert_eq!(
        r.status().as_u16(),
        401,
        "the proof replayed to the other node: {:?}",
        r.text()
    );
    assert_eq!(
        send(b, &key.proof("GET", &url, Some(&bound)))
            .status()
            .as_u16(),
        200
    );

    let right = i.token("c.martin", "counsellor", "ML-1");
    let id = token_id(&right);
    // The replayed proof was the address's first failure: nine guesses more make ten.
    for n in 1..=9 {
        let guess = format!("rmp_{id}.{:0>43}", n);
        let got = [a, b][n % 2].get(Some(&guess), path).status;
        assert_eq!(got, if n < 9 { 401 } else { 429 }, "guess {n}");
    }
    for s in [a, b] {
        assert_eq!(
            s.get(Some(&right), path).status,
            429,
            "the address is locked on every node"
        );
    }
}

/// The flags of a node whose counts are in Redis at `url`, under `space`'s prefix.
fn redis_flags<'a>(url: &'a str, space: &'a RedisSpace) -> Vec<&'a str> {
    vec![
        "--alert-syslog",
        "off",
        "--redis",
        url,
        "--redis-prefix",
        &space.prefix,
    ]
}

/// Both nodes answer as this address (a load balancer's).
const PUBLIC_URL: &str = "https://rempart.example";

/// A configuration for [`guesses_and_proofs_meet_the_limits_of_one_node`]: short delays after
/// a failure, and the nodes' public address.
fn auth_config(i: &Install) -> String {
    let cfg = i.data.with_file_name("nodes.toml");
    std::fs::write(
        &cfg,
        format!("[guard]\noffice_hours = [0, 24]\n\n[auth]\nbackoff_ms = 5\nbackoff_max_ms = 50\npublic_url = \"{PUBLIC_URL}\"\n"),
    )
    .unwrap();
    cfg.to_str().unwrap().to_string()
}

#[test]
fn two_nodes_sharing_counts_in_the_database_lock_a_guesser_and_refuse_a_replayed_proof() {
    let i = Install::postgres();
    let cfg = auth_config(&i);
    let (a, b) = two_nodes(&i, &["--config", &cfg, "--alert-syslog", "off"]);
    guesses_and_proofs_meet_the_limits_of_one_node(&i, &a, &b, PUBLIC_URL);
}

#[test]
fn two_nodes_sharing_counts_in_redis_lock_a_guesser_refuse_a_replayed_proof_and_keep_the_lock_when_redis_goes(
) {
    let i = Install::postgres();
    let space = RedisSpace::new();
    let relay = Relay::start();
    let url = relay.url();
    let cfg = auth_config(&i);
    let mut flags = vec!["--config", &cfg];
    flags.extend(redis_flags(&url, &space));
    let (a, b) = two_nodes(&i, &flags);
    guesses_and_proofs_meet_the_limits_of_one_node(&i, &a, &b, PUBLIC_URL);
    // Redis gone: each node counts on its own meanwhile, yet the lockout it saw stands (an
    // outage is no fresh budget for a locked guesser).
    relay.cut(true);
    let right = i.token("c.martin", "counsellor", "ML-1");
    for s in [&a, &b] {
        assert_eq!(
            s.get(Some(&right), "/v1/persons?purpose=accompaniment")
                .status,
            429,
            "still locked while the shared counts cannot be reached"
        );
    }
    relay.cut(false);
    let keys = space.keys();
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}auth:f:a:", space.prefix)))
            && keys
                .iter()
                .any(|k| k.starts_with(&format!("{}auth:proof:", space.prefix))),
        "the counts are in Redis: {keys:?}"
    );
}

#[test]
fn two_nodes_sharing_counts_in_redis_hold_a_stolen_token_to_one_budget() {
    let i = Install::postgres();
    let space = RedisSpace::new();
    let url = redis_server();
    let (a, b) = two_nodes(&i, &redis_flags(&url, &space));
    stolen_token_used_in_turn_is_held_to_one_budget(&i, &a, &b);
    let keys = space.keys();
    assert!(
        keys.contains(&format!("{}guard:p:c.durand", space.prefix))
            && keys.contains(&format!("{}guard:a:ML-1", space.prefix)),
        "the counts are in Redis: {keys:?}"
    );
    // A part this version cannot read (written by hand, or by another version) refuses that
    // principal, never gives it a fresh budget, and is not an outage for the others.
    let other = i.token("c.martin", "counsellor", "ML-1");
    let ids = outside_files(&i, &a, 1);
    let _: () = redis::cmd("SET")
        .arg(format!("{}guard:p:c.martin", space.prefix))
        .arg("not a part")
        .query(
            &mut redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap();
    let r = read(&b, &other, &ids[0]);
    assert_eq!(r.status, 503, "{}", r.json);
    let h = b.get(None, "/healthz").json;
    assert_eq!(
        (&h["status"], &h["guard"]),
        (&"ok".into(), &"shared".into())
    );
    let third = i.token("c.bernard", "counsellor", "ML-1");
    assert_eq!(
        read(&b, &third, &ids[0]).status,
        200,
        "the others are served"
    );
}

#[test]
fn redis_cut_off_fails_closed_says_so_and_containment_resumes_when_it_answers() {
    let i = Install::postgres();
    let space = RedisSpace::new();
    let relay = Relay::start();
    let (hook, received) = webhook();
    let config = i.every_hour();
    let url = relay.url();
    let mut cmd = rempart();
    cmd.args(i.args(&[
        "--config",
        &config,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--alert-syslog",
        "off",
        "--alert-webhook-url",
        &hook,
        "--redis",
        &url,
        "--redis-prefix",
        &space.prefix,
    ]))
    .env(
        "REMPART_ALERT_WEBHOOK_SECRET",
        "a-shared-secret-of-at-least-32-bytes!",
    );
    let (s, _) = serve_command(&mut cmd);
    let ids = outside_files(&i, &s, 3);
    let reader = i.token("c.durand", "counsellor", "ML-1");
    assert_eq!(read(&s, &reader, &ids[0]).status, 200);

    relay.cut(true);
    let r = read(&s, &reader, &ids[1]);
    assert_eq!(r.status, 503, "{}", r.json);
    assert!(r.json["type"]
        .as_str()
        .unwrap()
        .ends_with("/containment-unavailable"));
    assert_eq!(r.retry_after.as_deref(), Some("5"));
    assert!(!r.json.to_string().contains("Nom"), "nothing of the file");
    // Someone already counted is not shown either: nothing is decided without the counts.
    assert_eq!(read(&s, &reader, &ids[0]).status, 503);
    let h = s.get(None, "/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(h.json["status"], "degraded", "{}", h.json);
    assert_eq!(h.json["guard"], "unreachable", "{}", h.json);
    let (_, body) = received
        .recv_timeout(Duration::from_secs(30))
        .expect("an alert says containment is unavailable");
    let alert: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(alert["type"], "containment_unavailable", "{alert}");
    // Writes that show nobody go on.
    let app = i.token("case-app", "service", "ML-1");
    let created = s.post(
        Some(&app),
        "/v1/persons",
        &serde_json::json!({"agency": "ML-1", "identity": {"last_name": "Nomz", "first_names": "Léa", "birth_date": "2001-04-17", "sex": "F"}}),
    );
    assert_eq!(created.status, 201, "{}", created.json);
    // One alert for the outage, not one per refused request.
    assert_eq!(read(&s, &reader, &ids[2]).status, 503);
    assert!(received.recv_timeout(Duration::from_secs(2)).is_err());

    relay.cut(false);
    let r = read(&s, &reader, &ids[1]);
    assert_eq!(r.status, 200, "{}", r.json);
    let h = s.get(None, "/healthz").json;
    assert_eq!(
        (&h["status"], &h["guard"]),
        (&"ok".into(), &"shared".into())
    );
    let (_, body) = received
        .recv_timeout(Duration::from_secs(30))
        .expect("an alert says containment is back");
    let alert: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(alert["type"], "containment_restored", "{alert}");
}

#[test]
fn a_node_whose_redis_cannot_be_reached_does_not_start_and_never_shows_its_password() {
    let i = Install::postgres();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{port}");
    let o = i.run(&["serve", "--listen", "127.0.0.1:0", "--redis", &url]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--redis"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// `rempart bench --postgres` as BENCHMARKS.md gives it, tiny: its report has every row, the URL
/// is never printed, and the run's databases are gone afterwards. (It measures nothing here.)
#[test]
fn the_postgres_benchmark_reports_every_row_and_drops_its_databases() {
    let server = std::env::var("REMPART_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let o = run_for(
        &[
            "bench",
            "--postgres",
            &server,
            "--files",
            "300",
            "--clients",
            "4",
            "--seconds",
            "0.5",
            "--rounds",
            "1",
        ],
        Duration::from_secs(300),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report = String::from_utf8(o.stdout.clone()).unwrap();
    for row in [
        "files/s",
        "| baseline: plaintext PostgreSQL table |",
        "| `rempart serve`, one node |",
        "| `rempart serve`, two nodes",
        "| two nodes, containment on",
        "Secured reads against the baseline",
    ] {
        assert!(report.contains(row), "{row} missing from:\n{report}");
    }
    assert!(!report.contains(&server) && !stderr(&o).contains(&server));
    let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'rempart_bench_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the run's databases are dropped");
}

#[test]
fn a_node_configured_apart_does_not_start_unless_it_adopts_its_settings() {
    let i = Install::postgres();
    let serve_for_a_while = |flags: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--alert-syslog", "off"];
        args.extend(flags);
        run_for(&i.args(&args), Duration::from_secs(60))
    };
    let a = i.serve_with(&["--alert-syslog", "off"]);
    // Containment off on a second node: it would not count with the first.
    let o = serve_for_a_while(&["--guard", "off"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("would count apart"), "{}", stderr(&o));
    // Other budgets, or another Redis: the same.
    let space = RedisSpace::new();
    let url = redis_server();
    let o = serve_for_a_while(&["--redis", &url, "--redis-prefix", &space.prefix]);
    assert!(!o.status.success());
    let said = stderr(&o);
    assert!(said.contains("would count apart"), "{said}");
    assert!(
        said.contains(&space.prefix),
        "it says where it would count: {said}"
    );
    // The same settings: it starts.
    drop(i.serve_with(&["--alert-syslog", "off"]));
    // Adopted: it starts, and its settings are the installation's from then on.
    let b = i.serve_with(&[
        "--alert-syslog",
        "off",
        "--guard",
        "off",
        "--adopt-settings",
    ]);
    drop((a, b));
    let o = serve_for_a_while(&[]);
    assert!(!o.status.success(), "the former settings no longer start");
    drop(i.serve_with(&["--alert-syslog", "off", "--guard", "off"]));
}
