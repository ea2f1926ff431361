//! Against the real Redis the machine runs (`REMPART_TEST_REDIS`, or 127.0.0.1:6379): each
//! test under a key prefix of its own, whose keys are deleted at the end. Without Redis these
//! tests fail, saying how to start it; they never skip.

#![allow(clippy::unwrap_used)]

use super::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The Redis tests use.
fn server() -> String {
    std::env::var("REMPART_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A plain connection to the test Redis, to look at what the guard wrote.
fn raw() -> redis::Connection {
    let url = server();
    redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .unwrap_or_else(|e| {
            panic!(
                "Redis is needed at REMPART_TEST_REDIS, or redis://127.0.0.1:6379 without it \
                 (the URL is not shown: it may hold a password): {e}; \
                 start it with `service redis-server start`"
            )
        })
}

/// A key prefix of one test's own; its keys are deleted when this is dropped.
struct Space {
    prefix: String,
}

impl Space {
    fn new() -> Space {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        let _ = raw();
        Space {
            prefix: format!("rempart-test:{}:{:x}:", std::process::id(), h.finish()),
        }
    }

    /// A guard (a node) on the test Redis, under this prefix.
    fn guard(&self) -> RedisGuard {
        RedisGuard::connect(&server(), &self.prefix).unwrap()
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Every key under the prefix.
    fn keys(&self) -> Vec<String> {
        let mut c = raw();
        let mut keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(format!("{}*", self.prefix))
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut c)
            .unwrap()
            .map(|k: redis::RedisResult<String>| k.unwrap())
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        let keys = self.keys();
        if !keys.is_empty() {
            let mut del = redis::cmd("DEL");
            for k in &keys {
                del.arg(k);
            }
            let _: usize = del.query(&mut raw()).unwrap();
        }
    }
}

fn get(key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(&mut raw()).unwrap()
}

fn ttl(key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(&mut raw()).unwrap()
}

fn counter(part: Option<&[u8]>) -> u64 {
    part.map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
}

#[test]
fn shared_counts_conform() {
    let s = Space::new();
    rempart_store_conformance::shared_counts_are_changed_together_and_lose_no_update(
        &s.guard(),
        &s.guard(),
    );
}

#[test]
fn authentication_counts_conform() {
    let s = Space::new();
    rempart_store_conformance::authentication_counts_are_shared_and_kept_until_their_time(
        &s.guard(),
        &s.guard(),
    );
    // Each key lives until its time, and no longer than the caller asked.
    for key in s.keys() {
        assert!(ttl(&key) <= 600, "{key}");
    }
}

#[test]
fn update_creates_reads_back_and_replaces_both_parts() {
    let s = Space::new();
    let g = s.guard();
    assert_eq!(g.principal_part("alice").unwrap(), None);
    let mut seen = Vec::new();
    g.update("alice", "agency-1", &mut |p, a| {
        seen.push((p.map(<[u8]>::to_vec), a.map(<[u8]>::to_vec)));
        Some((b"p1".to_vec(), Some(b"a1".to_vec())))
    })
    .unwrap();
    // Once with the principal's key watched, once with both (it writes the agency's).
    assert_eq!(seen, vec![(None, None), (None, None)]);
    assert_eq!(
        g.principal_part("alice").unwrap().as_deref(),
        Some(&b"p1"[..])
    );
    assert_eq!(get(&s.key("guard:a:agency-1")).as_deref(), Some(&b"a1"[..]));

    seen.clear();
    g.update("alice", "agency-1", &mut |p, a| {
        seen.push((p.map(<[u8]>::to_vec), a.map(<[u8]>::to_vec)));
        Some((b"p2, longer".to_vec(), Some(Vec::new())))
    })
    .unwrap();
    assert_eq!(seen, vec![(Some(b"p1".to_vec()), Some(b"a1".to_vec())); 2]);
    assert_eq!(
        g.principal_part("alice").unwrap().as_deref(),
        Some(&b"p2, longer"[..])
    );
    assert_eq!(get(&s.key("guard:a:agency-1")).as_deref(), Some(&b""[..]));

    // Another principal of the agency sees the agency's part, not alice's.
    g.update("bob", "agency-1", &mut |p, a| {
        assert_eq!((p, a), (None, Some(&b""[..])));
        Some((b"b".to_vec(), Some(b"a2".to_vec())))
    })
    .unwrap();

    g.update_principal("alice", &mut |p| {
        assert_eq!(p, Some(&b"p2, longer"[..]));
        Some(b"restored".to_vec())
    })
    .unwrap();
    assert_eq!(
        g.principal_part("alice").unwrap().as_deref(),
        Some(&b"restored"[..])
    );
    assert_eq!(get(&s.key("guard:a:agency-1")).as_deref(), Some(&b"a2"[..]));
    assert_eq!(
        s.keys(),
        vec![
            s.key("guard:a:agency-1"),
            s.key("guard:p:alice"),
            s.key("guard:p:bob"),
        ]
    );
    // Calls one after the other reuse one connection.
    assert_eq!(g.idle(), 1);
}

#[test]
fn a_change_returning_none_writes_nothing() {
    let s = Space::new();
    let g = s.guard();
    let mut calls = 0;
    g.update("carol", "agency-2", &mut |_, _| {
        calls += 1;
        None
    })
    .unwrap();
    g.update_principal("carol", &mut |_| None).unwrap();
    assert_eq!(calls, 1);
    assert!(s.keys().is_empty(), "{:?}", s.keys());

    g.update("carol", "agency-2", &mut |_, _| {
        Some((b"p".to_vec(), Some(b"a".to_vec())))
    })
    .unwrap();
    redis::cmd("EXPIRE")
        .arg(s.key("guard:p:carol"))
        .arg(100)
        .query::<()>(&mut raw())
        .unwrap();
    g.update("carol", "agency-2", &mut |_, _| None).unwrap();
    g.update_principal("carol", &mut |_| None).unwrap();
    assert_eq!(get(&s.key("guard:p:carol")).as_deref(), Some(&b"p"[..]));
    assert!(ttl(&s.key("guard:p:carol")) <= 100, "not written again");
    // The connection is clean (no WATCH left on it): the next transaction commits at once.
    let mut calls = 0;
    g.update("carol", "agency-2", &mut |_, _| {
        calls += 1;
        Some((b"p2".to_vec(), None))
    })
    .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(get(&s.key("guard:p:carol")).as_deref(), Some(&b"p2"[..]));
    assert_eq!(get(&s.key("guard:a:agency-2")).as_deref(), Some(&b"a"[..]));
}

#[test]
fn every_write_sets_both_keys_to_live_35_days() {
    let s = Space::new();
    let g = s.guard();
    let full = 35 * 24 * 3600;
    g.update("dan", "agency-3", &mut |_, _| {
        Some((vec![1], Some(vec![2])))
    })
    .unwrap();
    for key in [s.key("guard:p:dan"), s.key("guard:a:agency-3")] {
        let t = ttl(&key);
        assert!(full - 60 < t && t <= full, "{key}: {t}");
        redis::cmd("EXPIRE")
            .arg(&key)
            .arg(10)
            .query::<()>(&mut raw())
            .unwrap();
    }
    g.update("dan", "agency-3", &mut |_, _| {
        Some((vec![3], Some(vec![4])))
    })
    .unwrap();
    for key in [s.key("guard:p:dan"), s.key("guard:a:agency-3")] {
        let t = ttl(&key);
        assert!(full - 60 < t && t <= full, "refreshed {key}: {t}");
    }
    redis::cmd("EXPIRE")
        .arg(s.key("guard:p:dan"))
        .arg(10)
        .query::<()>(&mut raw())
        .unwrap();
    g.update_principal("dan", &mut |_| Some(vec![5])).unwrap();
    let t = ttl(&s.key("guard:p:dan"));
    assert!(full - 60 < t && t <= full, "refreshed alone: {t}");
}

#[test]
fn concurrent_updates_from_two_nodes_lose_no_increment() {
    let s = Space::new();
    let nodes = [Arc::new(s.guard()), Arc::new(s.guard())];
    const THREADS: usize = 4;
    const EACH: u64 = 50;
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut handles = Vec::new();
    for node in &nodes {
        for t in 0..THREADS {
            let node = node.clone();
            let calls = calls.clone();
            handles.push(std::thread::spawn(move || {
                // Half the threads share one principal; all share the agency.
                let principal = if t % 2 == 0 {
                    "shared-0".to_owned()
                } else {
                    format!("own-{t}")
                };
                for _ in 0..EACH {
                    node.update(&principal, "agency", &mut |p, a| {
                        calls.fetch_add(1, Ordering::Relaxed);
                        Some((
                            (counter(p) + 1).to_le_bytes().to_vec(),
                            Some((counter(a) + 1).to_le_bytes().to_vec()),
                        ))
                    })
                    .unwrap();
                }
            }));
        }
    }
    for h in handles {
        h.join().unwrap();
    }
    let total = EACH * (THREADS * nodes.len()) as u64;
    assert_eq!(counter(get(&s.key("guard:a:agency")).as_deref()), total);
    // "shared-0" is updated by threads 0 and 2 of both nodes.
    assert_eq!(
        counter(nodes[0].principal_part("shared-0").unwrap().as_deref()),
        EACH * 2 * nodes.len() as u64
    );
    let retried = calls.load(Ordering::Relaxed) - total;
    assert!(
        retried > 0,
        "no conflict met: the test did not exercise the retry"
    );
    for node in &nodes {
        assert!(node.idle() <= THREADS, "{}", node.idle());
    }
}

#[test]
fn a_transaction_conflicting_with_another_node_is_retried_on_the_new_parts() {
    let s = Space::new();
    let g = s.guard();
    let mut calls = Vec::new();
    g.update("erin", "agency-4", &mut |p, _| {
        calls.push(p.map(<[u8]>::to_vec));
        if calls.len() == 1 {
            // Another node writes between this node's read and its EXEC.
            redis::cmd("SET")
                .arg(s.key("guard:p:erin"))
                .arg("theirs")
                .query::<()>(&mut raw())
                .unwrap();
        }
        Some((b"mine".to_vec(), None))
    })
    .unwrap();
    assert_eq!(calls, vec![None, Some(b"theirs".to_vec())]);
    assert_eq!(get(&s.key("guard:p:erin")).as_deref(), Some(&b"mine"[..]));
}

#[test]
fn a_change_that_leaves_the_agency_is_not_retried_when_the_agency_changes_meanwhile() {
    let s = Space::new();
    let g = s.guard();
    let mut calls = 0;
    g.update("ivy", "agency-7", &mut |_, _| {
        calls += 1;
        redis::cmd("SET")
            .arg(s.key("guard:a:agency-7"))
            .arg(format!("theirs-{calls}"))
            .query::<()>(&mut raw())
            .unwrap();
        Some((b"mine".to_vec(), None))
    })
    .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(get(&s.key("guard:p:ivy")).as_deref(), Some(&b"mine"[..]));
    assert_eq!(
        get(&s.key("guard:a:agency-7")).as_deref(),
        Some(&b"theirs-1"[..])
    );
}

#[test]
fn a_change_of_the_agency_is_made_with_both_keys_watched_and_retried_on_the_new_parts() {
    let s = Space::new();
    let g = s.guard();
    let mut seen = Vec::new();
    g.update("jan", "agency-8", &mut |_, a| {
        seen.push(a.map(<[u8]>::to_vec));
        if seen.len() == 2 {
            // Another node writes the agency between this node's read and its EXEC.
            redis::cmd("SET")
                .arg(s.key("guard:a:agency-8"))
                .arg("theirs")
                .query::<()>(&mut raw())
                .unwrap();
        }
        let mut a = a.unwrap_or_default().to_vec();
        a.extend_from_slice(b"+mine");
        Some((b"p".to_vec(), Some(a)))
    })
    .unwrap();
    // Once on the principal's key alone (it writes the agency: made again), once with both
    // watched (conflict), once on the new parts.
    assert_eq!(seen, vec![None, None, Some(b"theirs".to_vec())]);
    assert_eq!(
        get(&s.key("guard:a:agency-8")).as_deref(),
        Some(&b"theirs+mine"[..])
    );
}

#[test]
fn a_key_changed_at_every_attempt_gives_up_with_a_conflict() {
    let s = Space::new();
    let g = s.guard();
    let mut calls = 0;
    let e = g
        .update_principal("fay", &mut |_| {
            calls += 1;
            redis::cmd("SET")
                .arg(s.key("guard:p:fay"))
                .arg(calls)
                .query::<()>(&mut raw())
                .unwrap();
            Some(b"never".to_vec())
        })
        .unwrap_err();
    assert_eq!(calls, MAX_ATTEMPTS);
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert_eq!(
        get(&s.key("guard:p:fay")),
        Some(MAX_ATTEMPTS.to_string().into_bytes())
    );
    // The guard still works.
    g.update_principal("fay", &mut |_| Some(b"at last".to_vec()))
        .unwrap();
}

/// A closed port: something bound it, then let it go.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_redis_fails_fast() {
    let start = Instant::now();
    let e = RedisGuard::connect(&format!("redis://127.0.0.1:{}", closed_port()), "x:").unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(e.to_string().starts_with("connect to Redis"), "{e}");

    // A host that takes connections but never answers (a hung server, a black hole).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let start = Instant::now();
    let e = RedisGuard::connect(&url, "x:").unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(e.to_string().contains("I/O error"), "{e}");
}

#[test]
fn errors_never_show_the_password_or_a_principal() {
    let s = Space::new();
    let port = closed_port();
    let host = server()
        .trim_start_matches("redis://")
        .rsplit('@')
        .next()
        .unwrap()
        .to_owned();
    for url in [
        format!("redis://:s3cret-pw@127.0.0.1:{port}/0"),
        format!("redis://rempart:s3cret-pw@127.0.0.1:{port}"),
        // The real Redis: it refuses these credentials.
        format!("redis://:s3cret-pw@{host}"),
        format!("redis://nobody-here:s3cret-pw@{host}"),
        format!("redis://:s3cret-pw@{host}/notadb"),
    ] {
        let e = match RedisGuard::connect(&url, &s.prefix) {
            Ok(_) => panic!("{url} connected"),
            Err(e) => e,
        };
        let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(!shown.contains("nobody-here"), "{shown}");
    }

    // A key holding something else than a string: Redis refuses, naming neither.
    let g = s.guard();
    redis::cmd("HSET")
        .arg(s.key("guard:p:secret-principal"))
        .arg("f")
        .arg("v")
        .query::<()>(&mut raw())
        .unwrap();
    let e = g.principal_part("secret-principal").unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("WRONGTYPE"), "{shown}");
    assert!(!shown.contains("secret-"), "{shown}");
    assert!(format!("{g:?}").starts_with("RedisGuard { prefix:"));
}

/// A TCP relay to the test Redis that can drop every connection it carries, refuse new ones
/// for a while (Redis restarting, as the guard sees it), or stop passing anything on (Redis
/// hung, or a network that drops packets).
struct Relay {
    port: u16,
    refuse: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start() -> Relay {
        let target = server()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .rsplit('@')
            .next()
            .unwrap()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let refuse = Arc::new(AtomicBool::new(false));
        let hang = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let (r, h, o) = (refuse.clone(), hang.clone(), open.clone());
        // Ends with the test process.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut open = o.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(upstream.try_clone().unwrap());
                pipe(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    h.clone(),
                );
                pipe(upstream, client, h.clone());
            }
        });
        Relay {
            port,
            refuse,
            hang,
            open,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection carried so far.
    fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to`, or swallows it while `hang` is set.
fn pipe(mut from: TcpStream, mut to: TcpStream, hang: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) if hang.load(Ordering::SeqCst) => {}
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[test]
fn after_redis_comes_back_the_next_calls_reconnect() {
    let s = Space::new();
    let relay = Relay::start();
    let g = RedisGuard::connect(&relay.url(), &s.prefix).unwrap();
    g.update("gus", "agency-5", &mut |_, _| {
        Some((vec![1], Some(vec![1])))
    })
    .unwrap();
    assert_eq!(g.idle(), 1);

    // Redis restarted while the connection was idle: the call reconnects by itself.
    relay.cut();
    g.reachable().unwrap();
    relay.cut();
    assert_eq!(g.principal_part("gus").unwrap(), Some(vec![1]));
    relay.cut();
    g.update("gus", "agency-5", &mut |p, a| {
        Some((vec![counter_byte(p) + 1], Some(vec![counter_byte(a) + 1])))
    })
    .unwrap();

    // Redis down: every call fails, fast, and writes nothing.
    relay.refuse.store(true, Ordering::SeqCst);
    relay.cut();
    let start = Instant::now();
    assert!(g.reachable().is_err());
    assert!(g.principal_part("gus").is_err());
    let mut called = false;
    assert!(g
        .update("gus", "agency-5", &mut |_, _| {
            called = true;
            Some((vec![9], Some(vec![9])))
        })
        .is_err());
    assert!(!called);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(g.idle(), 0);

    // Back: the next call opens a new connection.
    relay.refuse.store(false, Ordering::SeqCst);
    g.reachable().unwrap();
    assert_eq!(g.principal_part("gus").unwrap(), Some(vec![2]));
    assert_eq!(get(&s.key("guard:a:agency-5")), Some(vec![2]));
}

fn counter_byte(part: Option<&[u8]>) -> u8 {
    part.and_then(|b| b.first().copied()).unwrap_or(0)
}

#[test]
fn a_redis_that_stops_answering_fails_each_call_in_bounded_time() {
    let s = Space::new();
    let relay = Relay::start();
    let g = RedisGuard::connect(&relay.url(), &s.prefix).unwrap();
    g.update("hal", "agency-6", &mut |_, _| {
        Some((vec![1], Some(vec![1])))
    })
    .unwrap();

    // Hung before the call: its first command times out (and is not sent again).
    relay.hang.store(true, Ordering::SeqCst);
    let start = Instant::now();
    let e = g.reachable().unwrap_err();
    let took = start.elapsed();
    assert!(e.to_string().contains("I/O error"), "{e}");
    assert!(took < IO_BOUND, "{took:?}");
    assert_eq!(g.idle(), 0, "a connection that timed out is not kept");
    // A new connection: it is opened, then its command times out.
    let start = Instant::now();
    assert!(g.principal_part("hal").is_err());
    assert!(start.elapsed() < IO_BOUND * 2, "{:?}", start.elapsed());

    // Hung in the middle of a transaction, between the reads and EXEC: the call fails, in
    // bounded time, and nothing was written.
    relay.hang.store(false, Ordering::SeqCst);
    let start = Instant::now();
    let e = g
        .update("hal", "agency-6", &mut |_, _| {
            relay.hang.store(true, Ordering::SeqCst);
            Some((vec![7], None))
        })
        .unwrap_err();
    let took = start.elapsed();
    assert!(e.to_string().contains("I/O error"), "{e}");
    assert!(took < IO_BOUND, "{took:?}");
    relay.hang.store(false, Ordering::SeqCst);
    assert_eq!(g.principal_part("hal").unwrap(), Some(vec![1]));
    assert_eq!(get(&s.key("guard:a:agency-6")), Some(vec![1]));
}

/// What one command may take against a Redis that stopped answering, with some slack.
const IO_BOUND: Duration = Duration::from_millis(800);
