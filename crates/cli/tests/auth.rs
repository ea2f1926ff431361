//! Authentication over HTTP: the eleventh guess is refused even when right, and one operator
//! alone cannot make an active principal nor raise one.

use crate::util::*;
use serde_json::json;

const AGENCY: &str = "ML-075-13";

fn config(i: &Install) -> String {
    let path = i.data.with_file_name("auth.toml");
    std::fs::write(
        &path,
        "[guard]\noffice_hours = [0, 24]\n\n[auth]\nbackoff_ms = 5\nbackoff_max_ms = 50\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn status(c: &reqwest::blocking::Client, s: &Server, token: &str, path: &str) -> u16 {
    c.get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn eleven_wrong_guesses_lock_the_principal_and_the_address_and_the_eleventh_is_refused_even_right()
{
    let i = Install::new();
    let right = i.token("c.durand", "counsellor", AGENCY);
    let id = token_id(&right);
    let cfg = config(&i);
    let (s, _) = serve_command(rempart().args(i.args(&[
        "--config",
        &cfg,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])));
    let path = "/v1/persons?purpose=accompaniment";
    let attacker = from("127.0.0.1");
    assert_eq!(status(&attacker, &s, &right, path), 200);
    for n in 1..=10 {
        let guess = format!("rmp_{id}.{:0>43}", n);
        let got = status(&attacker, &s, &guess, path);
        assert_eq!(got, if n < 10 { 401 } else { 429 }, "guess {n}");
    }
    // The eleventh, with the right secret, from the same address: locked.
    let r = attacker
        .get(format!("{}{path}", s.base))
        .bearer_auth(&right)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // From another address: the principal is suspended.
    assert_eq!(status(&from("127.0.0.2"), &s, &right, path), 403);
    let metrics = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("rempart_auth_failures_total 11"),
        "{metrics}"
    );
    assert!(metrics.contains("rempart_auth_lockouts_total 2"));
    drop(s);
    let o = i.run(&["alerts", "list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("lockout"));
    let o = i.run(&["audit", "export"]);
    let log = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(log.matches("\"auth_failure\"").count(), 11);
    assert!(log.contains("\"auth_lockout\""));
    assert!(
        !log.contains(&right[right.len() - 30..]),
        "no secret in the log"
    );
}

#[test]
fn one_operator_alone_cannot_create_an_active_principal_nor_raise_one() {
    let i = Install::new();
    let o = i.run(&["principal", "bootstrap", "--agency", AGENCY, "op.a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let op = i.token("op.a", "operator", AGENCY);
    let cfg = config(&i);
    let (s, _) = serve_command(rempart().args(i.args(&[
        "--config",
        &cfg,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])));
    let r = s.post(
        Some(&op),
        "/v1/principals/requests",
        &json!({"kind": "create", "name": "c.new", "role": "counsellor", "agency": AGENCY}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    let r = s.post(
        Some(&op),
        &format!("/v1/principals/requests/{id}/approve"),
        &json!({}),
    );
    assert_eq!(
        r.status, 403,
        "the operator who asked cannot approve: {}",
        r.json
    );
    assert_eq!(
        s.get(Some(&op), "/v1/principals/c.new").status,
        404,
        "nothing made"
    );
    // A raise asked and approved by the same operator: refused too.
    let r = s.post(
        Some(&op),
        "/v1/principals/requests",
        &json!({"kind": "role", "name": "op.a", "role": "dpo", "agency": AGENCY}),
    );
    assert_eq!(r.status, 201);
    let raise = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.post(
            Some(&op),
            &format!("/v1/principals/requests/{raise}/approve"),
            &json!({})
        )
        .status,
        403
    );
    drop(s);
    // A second operator (here the console) approves: the principal exists, on probation.
    let o = i.run(&["principal", "approve", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = i.run(&["principal", "list"]);
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        list.lines()
            .any(|l| l.starts_with("c.new\t") && l.contains("\tprobation\t")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("op.a\t") && l.contains("\toperator\t")),
        "not raised: {list}"
    );
}
