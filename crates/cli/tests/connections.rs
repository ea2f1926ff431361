use crate::util::Install;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Whether the server closes `c` within `within`: its end of the connection gives end of file
/// (or a reset), rather than the read timing out.
fn closed_by_server(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            // A response (a 408, say) before the close is fine: read on.
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(e) => panic!("read failed after {:?}: {e}", start.elapsed()),
        }
    }
}

/// Reads one response with a `Content-Length` from `c`; its status and head.
fn response(c: &mut TcpStream) -> (u16, String) {
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before a whole response");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                let status = head[9..12].parse().unwrap();
                return (status, head.to_string());
            }
        }
    }
}

#[test]
fn a_slowloris_connection_is_closed_by_the_server() {
    let i = Install::new();
    let s = i.serve_with(&["--header-timeout", "1", "--idle-timeout", "30"]);
    // Half a head, then silence.
    let mut half = s.connect();
    half.write_all(b"GET /v1/persons?purpose=accompaniment HTTP/1.1\r\nHost: x\r\nAuthor")
        .unwrap();
    // Nothing at all.
    let mut silent = s.connect();
    // A head sent a byte every 300 ms: it never completes within the second it has.
    let mut dripping = s.connect();
    let drip = std::thread::spawn(move || {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n" {
            if dripping.write_all(&[*b]).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        closed_by_server(&mut dripping, Duration::from_secs(20))
    });
    assert!(
        closed_by_server(&mut half, Duration::from_secs(20)),
        "half a head"
    );
    assert!(
        closed_by_server(&mut silent, Duration::from_secs(20)),
        "nothing sent"
    );
    assert!(drip.join().unwrap(), "a head sent byte by byte");
    // The server still answers.
    assert_eq!(s.get(None, "/healthz").status, 200);
}

#[test]
fn a_kept_alive_connection_waits_for_the_idle_timeout_not_the_header_timeout() {
    let i = Install::new();
    let s = i.serve_with(&["--header-timeout", "1", "--idle-timeout", "3"]);
    let mut c = s.connect();
    let req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    c.write_all(req).unwrap();
    assert_eq!(response(&mut c).0, 200);
    // Longer than the header timeout between two requests: still open.
    std::thread::sleep(Duration::from_millis(1_800));
    c.write_all(req).unwrap();
    assert_eq!(response(&mut c).0, 200);
    // Then, with nothing more, closed after the idle timeout.
    assert!(closed_by_server(&mut c, Duration::from_secs(30)));
}

#[test]
fn requests_past_the_in_flight_cap_get_503_with_retry_after() {
    let i = Install::new();
    // A valid token: an unknown one is refused before the body is read, freeing the slot.
    let token = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve_with(&["--max-in-flight", "1", "--idle-timeout", "60"]);
    // A request whose body never comes holds the only slot while its handler waits for it.
    // Another request may take the slot first (the server answers connections concurrently):
    // the held one is then refused itself, and is sent again on a new connection.
    let hold = || {
        let mut held = s.connect();
        held.write_all(
            format!(
                "POST /v1/persons HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .unwrap();
        held.set_nonblocking(true).unwrap();
        held
    };
    // What became of the held request so far: `None` while it waits for its body.
    let answered = |held: &mut TcpStream| -> Option<String> {
        let mut buf = [0u8; 512];
        match held.read(&mut buf) {
            Ok(0) => Some("the server closed the held connection".to_string()),
            Ok(n) => Some(format!(
                "the held request was answered: {:?}",
                String::from_utf8_lossy(&buf[..n])
            )),
            Err(e) if e.kind() == ErrorKind::WouldBlock => None,
            Err(e) => Some(format!("the held connection failed: {e}")),
        }
    };
    let mut held = hold();
    let mut attempts = 1;
    let deadline = Instant::now() + Duration::from_secs(20);
    let busy = loop {
        std::thread::sleep(Duration::from_millis(50));
        if let Some(what) = answered(&mut held) {
            // Refused itself because another request held the slot: try again.
            assert!(
                what.contains(" 503 ") && attempts < 20,
                "after {attempts} attempts, {what}"
            );
            attempts += 1;
            held = hold();
            continue;
        }
        let r = s.client.get(format!("{}/healthz", s.base)).send().unwrap();
        if r.status().as_u16() == 503 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "never refused; the held request is still waiting after {attempts} attempts"
        );
    };
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(busy.headers()["content-type"], "application/problem+json");
    let v: serde_json::Value = busy.json().unwrap();
    assert!(v["type"].as_str().unwrap().ends_with("/busy"), "{v}");
    // The held request ends: the slot is free again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.get(None, "/healthz").status != 200 {
        assert!(Instant::now() < deadline, "the slot was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn connections_past_the_cap_wait_until_one_closes() {
    let i = Install::new();
    let s = i.serve_with(&["--max-connections", "2", "--header-timeout", "30"]);
    let a = s.connect();
    let b = s.connect();
    // The kernel completes the handshake of a third, which the server does not take up yet.
    let mut c = s.connect();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_millis(1_500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let early = c.read(&mut buf);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "answered past the cap: {early:?}"
    );
    drop(a);
    drop(b);
    assert_eq!(response(&mut c).0, 200);
}

#[test]
fn serve_refuses_limits_of_zero() {
    let i = Install::new();
    for flag in [
        "--header-timeout",
        "--idle-timeout",
        "--max-connections",
        "--max-in-flight",
    ] {
        let o = i.run(&["serve", "--listen", "127.0.0.1:0", flag, "0"]);
        assert!(!o.status.success());
        assert!(
            crate::util::stderr(&o).contains(&format!("{flag} must be at least 1")),
            "{}",
            crate::util::stderr(&o)
        );
    }
}
