//! Verification codes over HTTP, against the real `rempart serve`: a genuine code verifies
//! with its day and agency and nothing else, an altered or forged one does not, the page shows
//! the result escaped, and the rate limit holds per client address.

use crate::util::{rempart, serve_command, Install, Server};
use chrono::NaiveDate;
use rempart_crypto::{CodeSerial, Keyring, VerificationCode};
use rempart_domain::{Agency, FranceTravailPattern};
use rempart_store::{CodeRecord, CodeStore};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{Recipient, SystemClock, Vault};
use serde_json::json;
use std::sync::Arc;

/// The installation's vault, opened in this process to issue codes (as the sending of messages
/// will), before the server starts.
fn vault(i: &Install) -> Vault {
    Vault::new(
        Arc::new(SqliteStore::open(i.sqlite_dir()).unwrap()),
        Arc::new(SqliteKeyStore::open(i.sqlite_dir()).unwrap()),
        Arc::new(Keyring::load(&i.key, None).unwrap()),
        Arc::new(SystemClock),
        FranceTravailPattern::default(),
        Arc::new(rempart_policy::Policies::default_policies().unwrap()),
    )
}

/// A code issued and stored for a message to Léa sent on 2 March 2026 by ML-075-13.
fn genuine(i: &Install) -> String {
    vault(i)
        .issue_and_store_code(
            &Recipient::parse("lea.martin@example.fr").unwrap(),
            &Agency::parse("ML-075-13").unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            "msg_1",
        )
        .unwrap()
        .to_string()
}

/// `code` with its first character changed.
fn altered(code: &str) -> String {
    let first = if code.starts_with('Z') { "Y" } else { "Z" };
    format!("{first}{}", &code[1..])
}

fn metrics(s: &Server) -> String {
    s.client
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn page(
    s: &Server,
    client: &reqwest::blocking::Client,
    query: &str,
) -> reqwest::blocking::Response {
    client
        .get(format!("{}/verify{query}", s.base))
        .send()
        .unwrap()
}

embedded_only! {
    #[test]
    fn a_genuine_code_verifies_with_its_day_and_agency_and_an_altered_or_forged_one_does_not() {
        let i = Install::new();
        let code = genuine(&i);
        // A row written through the store without the key: under the very lookup of the code it
        // wants accepted, with fields of its choosing.
        let wanted = "7H3K-9QRM-2XWD";
        let ring = Keyring::load(&i.key, None).unwrap();
        let key = ring.verify();
        SqliteStore::open(i.sqlite_dir())
            .unwrap()
            .insert_codes(&[CodeRecord {
                lookup: key
                    .lookup(&VerificationCode::parse(wanted).unwrap())
                    .to_vec(),
                serial: CodeSerial::random().as_bytes().to_vec(),
                recipient: key
                    .recipient_hash("email", "lea.martin@example.fr")
                    .to_vec(),
                sent_on: "2026-03-02".into(),
                agency: "ML-075-13".into(),
                message_id: String::new(),
                created_at: 1_772_445_600,
            }])
            .unwrap();
        let s = i.serve();
        let ok = json!({"genuine": true, "sent_on": "2026-03-02", "agency": "ML-075-13"});
        for typed in [code.clone(), code.to_lowercase().replace('-', " ")] {
            let r = s.post(None, "/v1/verify", &json!({ "code": typed }));
            assert_eq!((r.status, &r.json), (200, &ok), "{typed}");
            assert_eq!(r.content_type, "application/json");
        }
        for not in [altered(&code), wanted.to_string()] {
            let r = s.post(None, "/v1/verify", &json!({ "code": not }));
            assert_eq!(
                (r.status, &r.json),
                (200, &json!({"genuine": false})),
                "{not}"
            );
        }
        // Not a code: a problem naming `code`, never repeating it.
        let r = s.post(
            None,
            "/v1/verify",
            &json!({"code": "lea.martin@example.fr"}),
        );
        assert_eq!(r.status, 422);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.json["errors"][0]["field"], "code");
        assert!(!r.json.to_string().contains("lea"), "{}", r.json);
        // A body that is not `{"code": …}`: the API's usual problems.
        let r = s.post_raw(None, "/v1/verify", "not json");
        assert_eq!(
            (r.status, r.json["errors"][0]["field"].as_str()),
            (422, Some("body"))
        );
        assert_eq!(r.content_type, "application/problem+json");
        let r = s.post(None, "/v1/verify", &json!({"code": code, "to": "lea"}));
        assert_eq!(
            (r.status, r.json["errors"][0]["field"].as_str()),
            (422, Some("body"))
        );
        assert_eq!(r.content_type, "application/problem+json");
        let m = metrics(&s);
        for line in [
            "rempart_verifications_total{result=\"genuine\"} 2",
            "rempart_verifications_total{result=\"not_genuine\"} 2",
            "rempart_verifications_total{result=\"malformed\"} 1",
            "rempart_rate_limit_refusals_total{endpoint=\"verify\"} 0",
        ] {
            assert!(m.contains(line), "{line}\n{m}");
        }
        drop(s);
        // Offline, against the installation.
        let o = i.run(&["verify", &code.to_lowercase()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "genuine\t2026-03-02\tML-075-13\n"
        );
        for not in [altered(&code).as_str(), wanted, "not-a-code"] {
            let o = i.run(&["verify", not]);
            assert_eq!(o.status.code(), Some(1), "{not}");
            assert_eq!(String::from_utf8_lossy(&o.stdout), "not genuine\n");
        }
    }
}

embedded_only! {
    #[test]
    fn the_page_shows_the_result_escaped_behind_strict_headers() {
        let i = Install::new();
        let code = genuine(&i);
        let s = i.serve();
        let r = page(&s, &s.client, "");
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["content-type"], "text/html; charset=utf-8");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'unsafe-inline'"),
            "{csp}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let html = r.text().unwrap();
        assert!(html.contains("<form method=\"get\" action=\"/verify\">"));
        let fr = html.find("Vérifier un message").unwrap();
        let en = html.find("What this code proves").unwrap();
        assert!(fr < en, "French first");

        let query = format!("?code={}", code.to_lowercase());
        let html = page(&s, &s.client, &query).text().unwrap();
        assert!(
            html.contains("envoyé le 2 mars 2026 par ML-075-13"),
            "{html}"
        );
        assert!(html.contains("sent on 2026-03-02 by ML-075-13"), "{html}");
        assert!(
            html.contains(&format!("value=\"{code}\"")),
            "written back canonical"
        );
        assert!(!html.contains("lea") && !html.contains("msg_1"));

        let r = page(&s, &s.client, &format!("?code={}", altered(&code)));
        assert_eq!(r.status(), 200);
        assert!(r.text().unwrap().contains("Code inconnu"));

        let r = page(
            &s,
            &s.client,
            "?code=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        );
        assert_eq!(r.status(), 422);
        let html = r.text().unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("pas un code de vérification"));
        // A query holding more than `code`: the page, as for a text that is not a code.
        let r = page(&s, &s.client, "?code=1&to=lea");
        assert_eq!(r.status(), 422);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    }
}

embedded_only! {
    #[test]
    fn the_eleventh_attempt_in_a_minute_from_an_address_is_refused_and_another_address_is_not() {
        let i = Install::new();
        let code = genuine(&i);
        let s = i.serve();
        for n in 0..10 {
            let r = s.post(None, "/v1/verify", &json!({"code": altered(&code)}));
            assert_eq!(r.status, 200, "attempt {n}");
        }
        let r = s.post(None, "/v1/verify", &json!({"code": code}));
        assert_eq!(r.status, 429);
        assert_eq!(r.content_type, "application/problem+json");
        assert!(r.json["type"].as_str().unwrap().ends_with("/rate-limited"));
        let wait: u64 = r.retry_after.unwrap().parse().unwrap();
        assert!((1..=6).contains(&wait), "{wait}");
        let r = page(&s, &s.client, &format!("?code={code}"));
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
        assert!(r.text().unwrap().contains("Trop de vérifications"));
        // The form alone is not an attempt.
        assert_eq!(page(&s, &s.client, "").status(), 200);
        // Another address (the loopback network is the machine's own) is not refused.
        let other = reqwest::blocking::Client::builder()
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let r = other
            .post(format!("{}/v1/verify", s.base))
            .json(&json!({"code": code}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<serde_json::Value>().unwrap()["genuine"], true);
        assert!(metrics(&s).contains("rempart_rate_limit_refusals_total{endpoint=\"verify\"} 2"));
        drop(s);

        // The limit is a setting.
        let config = i.every_hour();
        let flags = [
            "--config",
            &config,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--verify-per-minute",
            "2",
        ];
        let (s, _) = serve_command(rempart().args(i.args(&flags)));
        let statuses: Vec<u16> = (0..3)
            .map(|_| s.post(None, "/v1/verify", &json!({"code": code})).status)
            .collect();
        assert_eq!(statuses, [200, 200, 429]);
    }
}
