//! Containment through the real binary: budgets counted per person over reads, searches and
//! listings; refusals, then suspension; decoys; alerts delivered to a real webhook receiver, a
//! real syslog socket and a real SMTP server (aiosmtpd); restore only with a justification.

use crate::util::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A request as the webhook receiver got it: its headers (names in lower case) and body.
pub(crate) type Received = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver: answers 200 to every POST and hands over each request's headers and
/// body.
pub(crate) fn webhook() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/rempart", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                    if k == "content-length" {
                        len = v.parse().unwrap_or(0);
                    }
                    headers.push((k, v));
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut w = stream;
            let _ =
                w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send((headers, body)).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// A real SMTP server (aiosmtpd, with its debugging handler printing each message), on a free
/// port; killed when dropped.
struct Smtp {
    child: Child,
    port: u16,
    out: mpsc::Receiver<String>,
}

impl Smtp {
    fn start() -> Smtp {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Debugging",
                "stdout",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SMTP server of this test");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(_)) = child.try_wait() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).ok();
                panic!(
                    "the SMTP server did not start: install aiosmtpd (`python3 -m pip install aiosmtpd`, or `apt-get install python3-aiosmtpd`); it said: {err}"
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the SMTP server did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp { child, port, out }
    }

    /// Everything it printed until a line containing `marker` (or 30 s).
    fn until(&self, marker: &str) -> String {
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(l) = self.out.recv_timeout(Duration::from_millis(200)) {
                seen.push_str(&l);
                seen.push('\n');
                if l.contains(marker) {
                    return seen;
                }
            }
        }
        panic!("the SMTP server received no message with {marker:?}; it printed:\n{seen}")
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn read(s: &Server, token: &str, id: &str) -> Resp {
    s.get(
        Some(token),
        &format!("/v1/persons/{id}?purpose=accompaniment"),
    )
}

#[test]
fn a_stolen_token_is_refused_then_suspended_and_the_alert_reaches_webhook_syslog_and_smtp() {
    let i = Install::new();
    let (hook, received) = webhook();
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log.sock");
    let syslog = UnixDatagram::bind(&sock_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let smtp = Smtp::start();
    let secret = "a-shared-secret-of-at-least-32-bytes!";
    let config = i.every_hour();
    let mut cmd = rempart();
    cmd.args(i.args(&[
        "--config",
        &config,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--alert-webhook-url",
        &hook,
        "--alert-syslog",
        sock_path.to_str().unwrap(),
        "--alert-smtp-url",
        &format!("smtp://127.0.0.1:{}", smtp.port),
        "--alert-email-from",
        "rempart@ml.example",
        "--alert-email-to",
        "rssi@ml.example,dpo@ml.example",
    ]))
    .env("REMPART_ALERT_WEBHOOK_SECRET", secret);
    let (s, _) = serve_command(&mut cmd);
    let ids = outside_files(&i, &s, 12);
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    let other = i.token("c.durand", "counsellor", "ML-1");

    // A new token is on probation: 5 people outside the caseload a minute.
    for id in &ids[..5] {
        assert_eq!(read(&s, &stolen, id).status, 200);
    }
    // The same person again is not a new person.
    assert_eq!(read(&s, &stolen, &ids[0]).status, 200);
    let refused = read(&s, &stolen, &ids[5]);
    assert_eq!(refused.status, 429, "{}", refused.json);
    assert!(refused.json["type"]
        .as_str()
        .unwrap()
        .ends_with("/contained"));
    let retry: u64 = refused
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(
        !refused.json.to_string().contains("Nom"),
        "nothing of the file leaves"
    );
    // Refused again and again: suspended, and so is the principal's other token.
    assert_eq!(read(&s, &stolen, &ids[6]).status, 429);
    let tripped = read(&s, &stolen, &ids[7]);
    assert_eq!(tripped.status, 403, "{}", tripped.json);
    assert!(tripped.json["type"]
        .as_str()
        .unwrap()
        .ends_with("/suspended"));
    for t in [&stolen, &other] {
        let r = read(&s, t, &ids[0]);
        assert_eq!(r.status, 403, "every token of the principal: {}", r.json);
        assert!(r.json["type"].as_str().unwrap().ends_with("/suspended"));
    }

    // The alert, for operators.
    let rssi = i.token("rssi", "operator", "ML-1");
    let alerts = s.get(Some(&rssi), "/v1/alerts");
    assert_eq!(alerts.status, 200, "{}", alerts.json);
    let list = alerts.json;
    let alert = &list[0];
    assert_eq!(alert["principal"], "c.durand");
    assert_eq!(alert["trip"], "refusals");
    assert_eq!(alert["state"], "open");
    let mut people: Vec<String> = alert["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    people.sort();
    let mut shown = ids[..5].to_vec();
    shown.sort();
    assert_eq!(people, shown, "exactly the people whose data left");
    let id = alert["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.get(Some(&stolen), "/v1/alerts").status,
        403,
        "a suspended principal sees nothing"
    );
    let counsellor = i.token("c.martin", "counsellor", "ML-1");
    assert_eq!(
        s.get(Some(&counsellor), "/v1/alerts").status,
        403,
        "alerts are for operators and the DPO"
    );

    // The webhook: signed over the timestamp and the body, no person named.
    let (headers, body) = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the webhook received the alert");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    let ts: i64 = header("x-rempart-timestamp").parse().unwrap();
    assert_eq!(
        header("x-rempart-signature"),
        rempart_notify::sign(secret.as_bytes(), ts, &body)
    );
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["type"], "containment_alert");
    assert_eq!(payload["id"], id.as_str());
    assert_eq!(payload["principal"], "c.durand");
    assert_eq!(payload["people_exposed"], 5);
    let text = String::from_utf8_lossy(&body);
    assert!(
        ids.iter().all(|p| !text.contains(p.as_str())),
        "no id in the webhook"
    );

    // Syslog: RFC 5424 with structured data.
    let mut buf = vec![0u8; 8192];
    let n = syslog.recv(&mut buf).expect("syslog received the alert");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(line.starts_with("<33>1 "), "auth.alert: {line}");
    assert!(
        line.contains(" containment-alert [rempart@32473 "),
        "{line}"
    );
    assert!(line.contains(&format!("alert=\"{id}\"")), "{line}");
    assert!(line.contains("principal=\"c.durand\""), "{line}");
    assert!(line.contains("trip=\"refusals\""), "{line}");
    assert!(line.contains("people_exposed=\"5\""), "{line}");

    // Email through the real SMTP server, to both recipients.
    let mail = smtp.until("alerts restore");
    assert!(
        mail.contains("Subject: [Rempart] containment suspended c.durand"),
        "{mail}"
    );
    assert!(
        mail.contains("rssi@ml.example") && mail.contains("dpo@ml.example"),
        "{mail}"
    );
    assert!(mail.contains(&id), "{mail}");

    // Restoring needs a justification.
    let path = format!("/v1/alerts/{id}/restore");
    for bad in [
        json!({}),
        json!({"justification": ""}),
        json!({"justification": "ok"}),
    ] {
        let r = s.post(Some(&rssi), &path, &bad);
        assert!(
            r.status == 422 || r.status == 403,
            "{bad}: {} {}",
            r.status,
            r.json
        );
        assert_eq!(read(&s, &stolen, &ids[0]).status, 403, "still suspended");
    }
    let r = s.post(
        Some(&rssi),
        &path,
        &json!({"justification": "token reissued after the counsellor's laptop was wiped"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["tokens"], 2);
    // The tokens work again, but the restore gives no fresh budget: the people already shown
    // still count within the minute.
    assert_eq!(read(&s, &stolen, &ids[0]).status, 200);
    assert_eq!(read(&s, &stolen, &ids[8]).status, 429);
    let closed = s.get(Some(&rssi), &format!("/v1/alerts/{id}")).json;
    assert_eq!(closed["state"], "restored");
    assert_eq!(closed["restored_by"], "rssi");
    assert_eq!(
        s.post(
            Some(&rssi),
            &path,
            &json!({"justification": "a second restore of the same alert"})
        )
        .status,
        403,
        "a closed alert is not restored twice"
    );

    // /metrics counts them.
    let m = s.get(None, "/metrics").json.as_str().unwrap().to_string();
    assert!(m.contains("rempart_containment_refusals_total 3"), "{m}");
    assert!(
        m.contains("rempart_containment_trips_total{trip=\"refusals\"} 1"),
        "{m}"
    );
    assert!(m.contains("rempart_containment_suspensions_total 1"), "{m}");
}

#[test]
fn a_decoy_read_suspends_at_once_and_listings_show_decoys_without_tripping() {
    let i = Install::new();
    let s = i.serve_with(&["--alert-syslog", "off"]);
    outside_files(&i, &s, 3);
    let o = i.run(&["decoys", "plant", "--per-agency", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ML-1\t4");
    let o = i.run(&["decoys", "list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("ML-1\t4"));

    // The DPO's listing of the agency shows the decoys among the files: counted, no trip.
    let dpo = i.token("dpo", "dpo", "ML-1");
    let page = s.get(
        Some(&dpo),
        "/v1/persons?purpose=data_subject_request&limit=50",
    );
    assert_eq!(page.status, 200, "{}", page.json);
    let listed: Vec<String> = page.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 7, "3 files and 4 decoys");
    // A probation DPO has 10 people a minute: a listing of 7 then one of 7 more would pass 10
    // only if the same people counted twice; they do not.
    assert_eq!(
        s.get(
            Some(&dpo),
            "/v1/persons?purpose=data_subject_request&limit=50"
        )
        .status,
        200,
        "the same people again are not new people"
    );

    // A stolen counsellor token reading what an agency listing shows meets a decoy.
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    let other = i.token("c.durand", "counsellor", "ML-1");
    let mut tripped = false;
    for id in &listed {
        let r = read(&s, &stolen, id);
        if r.status == 403 {
            assert!(r.json["type"].as_str().unwrap().ends_with("/suspended"));
            tripped = true;
            break;
        }
        assert_eq!(r.status, 200, "{}", r.json);
    }
    assert!(tripped, "a decoy read suspends");
    assert_eq!(
        read(&s, &other, &listed[0]).status,
        403,
        "the principal's other token too"
    );
    let rssi = i.token("rssi", "operator", "ML-1");
    let alerts = s.get(Some(&rssi), "/v1/alerts").json;
    assert_eq!(alerts[0]["trip"], "decoy");
    assert_eq!(alerts[0]["principal"], "c.durand");
}

#[test]
fn a_caseload_listing_is_minimised_and_free_an_agency_listing_counts_every_person() {
    let i = Install::new();
    i.synth_import(120, 1, 7);
    let counsellor = rempart_synth::counsellors(0)[0].clone();
    let agency = rempart_synth::agency_codes(1)[0].clone();
    let s = i.serve_with(&["--alert-syslog", "off"]);
    // A new counsellor token (probation: 10 people a minute) pages through its whole caseload:
    // names and birth dates only, not counted.
    let t = i.token(&counsellor, "counsellor", &agency);
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let r = s.get(
            Some(&t),
            &format!("/v1/persons?purpose=accompaniment&limit=10{cursor}"),
        );
        assert_eq!(r.status, 200, "{}", r.json);
        for item in r.json["items"].as_array().unwrap() {
            let identity = item["identity"].as_object().unwrap();
            let mut keys: Vec<&str> = identity.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, ["birth_date", "first_names", "last_name"]);
            seen += 1;
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert!(seen > 10, "more than a probation budget: {seen}");
    // Reads of those files are counted: the 11th person within the minute is refused.
    let page = s
        .get(Some(&t), "/v1/persons?purpose=accompaniment&limit=11")
        .json;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    for id in &ids[..10] {
        assert_eq!(read(&s, &t, id).status, 200);
    }
    assert_eq!(read(&s, &t, ids[10]).status, 429);
    // A listing of the whole agency (the DPO's) counts every person it shows.
    let dpo = i.token("dpo", "dpo", &agency);
    let r = s.get(
        Some(&dpo),
        "/v1/persons?purpose=data_subject_request&limit=10",
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let r = s.get(
        Some(&dpo),
        "/v1/persons?purpose=data_subject_request&limit=11",
    );
    assert_eq!(r.status, 429, "{}", r.json);
}

#[test]
fn the_drill_command_plays_and_reports_every_bound_held() {
    let o = run(&[
        "drill",
        "--days",
        "2",
        "--files-per-agency",
        "100",
        "--agencies",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("**Refusals: 0. Suspensions: 0.**"), "{md}");
    assert!(
        md.contains("| sequential bulk read of an agency | 1 counsellor |"),
        "{md}"
    );
    assert!(md.contains("Every bound holds."), "{md}");
    let o = run(&["drill", "--days", "500"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--days at most 90"), "{}", stderr(&o));
}

#[test]
fn a_restart_does_not_give_a_stolen_token_a_fresh_budget() {
    let i = Install::new();
    let s = i.serve_with(&["--alert-syslog", "off"]);
    let ids = outside_files(&i, &s, 8);
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    for id in &ids[..5] {
        assert_eq!(read(&s, &stolen, id).status, 200);
    }
    // Stopped as an operator would (SIGTERM): containment's state is saved on the way out.
    drop(s);
    let s = i.serve_with(&["--alert-syslog", "off"]);
    let r = read(&s, &stolen, &ids[5]);
    assert_eq!(r.status, 429, "the five people still count: {}", r.json);
    assert_eq!(
        read(&s, &stolen, &ids[0]).status,
        200,
        "someone counted already"
    );
}

#[test]
fn an_export_above_the_threshold_runs_once_a_second_operator_approved_it() {
    let i = Install::new();
    let config = i.data.with_file_name("four-eyes.toml");
    std::fs::write(
        &config,
        "[guard]\noffice_hours = [0, 24]\nfour_eyes_above = 2\n",
    )
    .unwrap();
    let (s, _) = serve_command(rempart().args(i.args(&[
        "--config",
        config.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--alert-syslog",
        "off",
    ])));
    let app = i.token("case-app", "service", "ML-1");
    let ids = outside_files(&i, &s, 3);
    for id in &ids {
        let r = s.post(
            Some(&app),
            &format!("/v1/persons/{id}/enrolments"),
            &json!({"partner": "AFPA-75"}),
        );
        assert_eq!(r.status, 201, "{}", r.json);
    }
    let rssi = i.token("rssi", "operator", "ML-1");
    let dpo = i.token("dpo", "dpo", "ML-1");
    let afpa = i.token("afpa-sync", "partner", "AFPA-75");
    let r = s.post(
        Some(&rssi),
        "/v1/exports",
        &json!({"recipient": "AFPA-75", "purpose": "partner_service"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["people"], 3);
    assert_eq!(r.json["state"], "awaiting_approval");
    let id = r.json["id"].as_str().unwrap().to_string();
    let run = format!("/v1/exports/{id}/run");
    let approve = format!("/v1/exports/{id}/approve");
    assert_eq!(s.post(Some(&afpa), &run, &json!({})).status, 403, "not yet");
    assert_eq!(
        s.post(Some(&rssi), &approve, &json!({})).status,
        403,
        "not by the one who asked"
    );
    let r = s.post(Some(&dpo), &approve, &json!({}));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["state"], "ready");
    assert_eq!(
        s.post(Some(&rssi), &run, &json!({})).status,
        403,
        "for its recipient"
    );
    let r = s.post(Some(&afpa), &run, &json!({}));
    assert_eq!(r.status, 200, "{}", r.json);
    let files = r.json.as_array().unwrap();
    // The people asked for, and the export's two markers among them.
    assert_eq!(files.len(), 3 + 2);
    assert!(ids.iter().all(|id| files.iter().any(|f| f["id"] == *id)));
    assert!(files
        .iter()
        .all(|f| f.get("nir").is_none() && f.get("identity").is_some()));
    assert_eq!(s.post(Some(&afpa), &run, &json!({})).status, 403, "once");
    assert_eq!(
        s.get(Some(&rssi), &format!("/v1/exports/{id}")).json["state"],
        "done"
    );
}
