//! Breach response end to end: a stolen token reads until contained; the incident's impact is
//! exactly what its responses held; the notices reach a real SMTP server with each person's
//! categories, their codes verify, and a delivery killed halfway sends nothing twice.

use crate::util::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The categories a read's answer holds, by the policies' names.
fn categories_of(file: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (key, value) in file.as_object().unwrap() {
        let c = match key.as_str() {
            "identity" => "identity",
            "nir" if value.as_str().unwrap().contains('*') => "social_security_masked",
            "nir" => "social_security",
            "france_travail_id" | "ml_file_number" => "agency_ids",
            "contact" => "contact",
            "situation" => "situation",
            "education" => "education",
            "professional" => "professional",
            "followup" => "followup",
            "legal_representatives" => "legal_representatives",
            _ => continue,
        };
        out.insert(c.to_string());
    }
    out
}

/// How a French notice names each category in its lists.
const LABELS: [(&str, &str); 9] = [
    ("identity", "votre identité"),
    ("contact", "vos coordonnées"),
    ("social_security", "- votre numéro de sécurité sociale"),
    ("agency_ids", "vos identifiants France Travail"),
    ("situation", "votre situation personnelle"),
    ("education", "votre formation"),
    ("professional", "votre parcours professionnel"),
    ("followup", "votre suivi"),
    (
        "legal_representatives",
        "les coordonnées de vos représentants légaux",
    ),
];

fn code_in(message: &str) -> String {
    let at = message.find("il porte le code ").expect("a code") + "il porte le code ".len();
    message[at..at + 14].to_string()
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_default()
        .trim()
}

fn file(k: usize, minor: bool, email: bool) -> Value {
    let letter = (b'a' + k as u8) as char;
    let mut f = json!({
        "agency": "ML-1",
        "identity": {"last_name": format!("Nom{letter}"), "first_names": format!("Prénom{letter}"),
                     "birth_date": if minor { "2012-05-01" } else { "2001-04-17" }, "sex": "F"},
        "situation": {"housing": "family"},
    });
    if email {
        f["contact"] = json!({"email": format!("jeune{k}@example.fr")});
    }
    if minor {
        f["legal_representatives"] = json!([{"last_name": format!("Nom{letter}"), "first_names": "Parent", "relationship": "mother", "email": format!("parent{k}@example.fr")}]);
    }
    f
}

#[test]
fn a_stolen_token_s_breach_is_scoped_notified_and_verifiable() {
    let i = Install::new();
    let sink = MailSink::start(&i.data.with_file_name("mail"), 0.0);
    let config = i.data.with_file_name("breach.toml");
    let write_config = |port: u16| {
        std::fs::write(
            &config,
            format!(
                "[guard]\noffice_hours = [0, 24]\n\n[verify]\nper_minute = 1000\nper_day = 10000\n\n[notices]\norganisation = \"Mission locale Un\"\ncontact = \"dpo@ml1.example\"\nverify_url = \"https://rempart.ml1.example/verify\"\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nemail_from = \"ne-pas-repondre@ml1.example\"\nretry_after = 1\n"
            ),
        )
        .unwrap()
    };
    write_config(sink.port);
    let config_path = config.to_str().unwrap().to_string();
    let run = |rest: &[&str]| {
        let mut args = vec!["--config", config_path.as_str()];
        args.extend_from_slice(rest);
        i.run(&args)
    };
    let (s, _) = serve_command(rempart().args(i.args(&[
        "--config",
        &config_path,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])));
    let app = i.token("case-app", "service", "ML-1");
    let mut ids = Vec::new();
    for k in 0..14 {
        let r = s.post(
            Some(&app),
            "/v1/persons",
            &file(k, k == 4 || k == 5, k != 6),
        );
        assert_eq!(r.status, 201, "{}", r.json);
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    // Two files in the counsellor's caseload: read whole.
    for id in &ids[..2] {
        let r = s.put(
            Some(&app),
            &format!("/v1/persons/{id}/counsellor"),
            &json!({"counsellor": "c.durand"}),
        );
        assert_eq!(r.status, 204, "{}", r.json);
    }

    // The attacker: the caseload, a search, then the agency's other files one by one.
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    let mut served: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let hits = s.post(
        Some(&stolen),
        "/v1/persons/search",
        &json!({"purpose": "accompaniment", "email": "jeune2@example.fr"}),
    );
    assert_eq!(hits.status, 200, "{}", hits.json);
    for h in hits.json.as_array().unwrap() {
        served
            .entry(h["id"].as_str().unwrap().to_string())
            .or_default()
            .insert("identity".into());
    }
    let mut contained = false;
    for id in ids[..2].iter().chain(&ids[3..]) {
        let r = s.get(
            Some(&stolen),
            &format!("/v1/persons/{id}?purpose=accompaniment"),
        );
        match r.status {
            200 => served
                .entry(id.clone())
                .or_default()
                .extend(categories_of(&r.json)),
            429 => {}
            403 => {
                contained = true;
                break;
            }
            other => panic!("{other}: {}", r.json),
        }
    }
    assert!(contained, "the stolen token is suspended");
    assert!(served.len() >= 5, "{served:?}");
    assert!(
        served.contains_key(&ids[4]) && served.contains_key(&ids[5]),
        "the minors were read: {served:?}"
    );
    assert!(
        served.contains_key(&ids[6]),
        "the file without a contact was read: {served:?}"
    );

    // The incident, and its impact: exactly what the responses held.
    let o = run(&[
        "incident",
        "open",
        "--principal",
        "c.durand",
        "--summary",
        "A counsellor's token used from an unknown address.",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inc = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let o = run(&["incident", "impact", &inc]);
    assert!(o.status.success(), "{}", stderr(&o));
    let impact: Value = serde_json::from_slice(&o.stdout).unwrap();
    let found: BTreeMap<String, BTreeSet<String>> = impact["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["categories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(found, served, "no more, no fewer");
    assert_eq!(impact["minors"], 2, "{impact}");

    // The art. 33 draft.
    let o = run(&["incident", "draft", &inc]);
    assert!(o.status.success(), "{}", stderr(&o));
    let draft = String::from_utf8(o.stdout).unwrap();
    assert!(draft.contains("Notification initiale"), "{draft}");
    assert!(
        draft.contains(&format!("{} personnes", served.len())),
        "{draft}"
    );
    assert!(draft.contains("Mission locale Un"), "{draft}");

    // Notices: prepared, nothing leaves before the DPO approves.
    let o = run(&["incident", "notices", "prepare", &inc]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8(o.stdout).unwrap();
    assert!(said.contains("1 people have no address"), "{said}");
    let o = run(&["incident", "notices", "deliver", &inc]);
    assert!(!o.status.success(), "not approved yet");
    assert!(stderr(&o).contains("not approved"), "{}", stderr(&o));
    assert!(sink.messages().is_empty());
    let counsellor_file = i.data.with_file_name("counsellor.token");
    std::fs::write(&counsellor_file, i.token("c.martin", "counsellor", "ML-1")).unwrap();
    let o = run(&[
        "incident",
        "notices",
        "approve",
        &inc,
        "--dpo-token-file",
        counsellor_file.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "only the DPO approves");
    let dpo_file = i.data.with_file_name("dpo.token");
    std::fs::write(&dpo_file, i.token("dpo", "dpo", "ML-1")).unwrap();
    let o = run(&[
        "incident",
        "notices",
        "approve",
        &inc,
        "--dpo-token-file",
        dpo_file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Delivery, killed halfway through a slow relay, then run again: nothing twice.
    drop(sink);
    let slow = MailSink::start(&i.data.with_file_name("mail-slow"), 0.3);
    write_config(slow.port);
    let mut child = rempart()
        .args(i.args(&[
            "--config",
            &config_path,
            "incident",
            "notices",
            "deliver",
            &inc,
        ]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while slow.messages().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no message arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let o = run(&["incident", "notices", "deliver", &inc]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = String::from_utf8(o.stdout).unwrap();
    let messages = slow.messages();
    let ids_seen: Vec<&str> = messages.iter().map(|m| header(m, "Message-ID:")).collect();
    let unique: BTreeSet<&&str> = ids_seen.iter().collect();
    assert_eq!(
        unique.len(),
        ids_seen.len(),
        "a message was sent twice: {ids_seen:?}"
    );
    // Every message to a person and to each minor's representative.
    let reachable = served.len() - 1;
    let expected_messages = reachable + 2;
    assert!(
        summary.contains(&format!("{expected_messages} messages")),
        "{summary}"
    );
    let uncertain: usize = summary
        .split(", ")
        .find_map(|p| p.strip_suffix(" uncertain"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(uncertain <= 1, "{summary}");
    assert!(
        messages.len() >= expected_messages - uncertain,
        "{summary}: {} messages arrived",
        messages.len()
    );

    // Each person's notice names exactly their categories; codes verify, altered ones do not.
    let by_email: BTreeMap<String, &String> = (0..14)
        .filter_map(|k| {
            served
                .get_key_value(&ids[k])
                .map(|(id, _)| (format!("jeune{k}@example.fr"), id))
        })
        .collect();
    let mut checked = 0;
    for m in &messages {
        let to = header(m, "To:");
        let body = m.split_once("\n\n").unwrap().1;
        if to.contains("parent") {
            assert!(
                body.contains("À l'attention des représentants légaux de Prénom"),
                "{body}"
            );
            continue;
        }
        let person = by_email
            .get(to)
            .unwrap_or_else(|| panic!("a message to {to}"));
        let want = &served[*person];
        let (exposed, not) = body.split_once("n'ont PAS été exposées").unwrap();
        let not = not.split("Ce que cela").next().unwrap();
        for (c, label) in LABELS {
            let masked = c == "social_security" && want.contains("social_security_masked");
            if want.contains(c) || masked {
                assert!(
                    exposed.contains(label) || masked,
                    "{c} exposed for {to}:\n{body}"
                );
            } else {
                assert!(not.contains(label), "{c} not exposed for {to}:\n{body}");
                assert!(
                    !exposed.contains(label),
                    "{c} listed exposed for {to}:\n{body}"
                );
            }
        }
        let code = code_in(body);
        let r = s.post(None, "/v1/verify", &json!({"code": code}));
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["genuine"], true, "{}", r.json);
        assert_eq!(r.json["agency"], "ML-1");
        let mut altered: Vec<char> = code.chars().collect();
        altered[0] = if altered[0] == 'A' { 'B' } else { 'A' };
        let r = s.post(
            None,
            "/v1/verify",
            &json!({"code": altered.iter().collect::<String>()}),
        );
        assert_eq!(r.json["genuine"], false, "{}", r.json);
        checked += 1;
    }
    assert!(checked >= reachable - uncertain, "{checked}");
    let forged = s.post(None, "/v1/verify", &json!({"code": "ABCD-EFGH-JKMN"}));
    assert_eq!(forged.json["genuine"], false, "{}", forged.json);

    // Every step on the timeline and in the log.
    let o = run(&["incident", "show", &inc]);
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert!(
        steps.iter().any(|w| w.starts_with("notices prepared")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|w| w.starts_with("notices approved by the DPO dpo")),
        "{steps:?}"
    );
    let log = String::from_utf8(i.run(&["audit", "export"]).stdout).unwrap();
    assert!(log.contains("\"notice_send\""));
    assert!(!log.contains("jeune2@example.fr"), "no address in the log");
}

#[test]
fn was_i_affected_answers_a_known_and_an_unknown_contact_alike() {
    let i = Install::new();
    let sink = MailSink::start(&i.data.with_file_name("mail"), 0.0);
    let config = i.data.with_file_name("affected.toml");
    std::fs::write(
        &config,
        format!(
            "[guard]\noffice_hours = [0, 24]\n\n[notices]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nemail_from = \"ne-pas-repondre@ml1.example\"\nverify_url = \"https://rempart.ml1.example/verify\"\n",
            sink.port
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let (s, _) = serve_command(rempart().args(i.args(&[
        "--config",
        &config,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])));
    let app = i.token("case-app", "service", "ML-1");
    let r = s.post(Some(&app), "/v1/persons", &file(0, false, true));
    assert_eq!(r.status, 201, "{}", r.json);
    // A stolen key: every file's people fixed at once.
    let o = i.run(&[
        "--config",
        &config,
        "incident",
        "open",
        "--key-version",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inc = String::from_utf8(o.stdout).unwrap().trim().to_string();
    // Told only once the DPO of the people's agency approved the incident's notices.
    let o = i.run(&["--config", &config, "incident", "notices", "prepare", &inc]);
    assert!(o.status.success(), "{}", stderr(&o));
    let approve = |agency: &str| {
        let file = i.data.with_file_name(format!("dpo-{agency}.token"));
        std::fs::write(&file, i.token(&format!("dpo.{agency}"), "dpo", agency)).unwrap();
        i.run(&[
            "--config",
            &config,
            "incident",
            "notices",
            "approve",
            &inc,
            "--dpo-token-file",
            file.to_str().unwrap(),
        ])
    };
    let o = approve("ML-2");
    assert!(stderr(&o).contains("another agency"), "{}", stderr(&o));
    let o = approve("ML-1");
    assert!(o.status.success(), "{}", stderr(&o));

    let known = s.post(
        None,
        "/v1/affected",
        &json!({"contact": "jeune0@example.fr"}),
    );
    let unknown = s.post(
        None,
        "/v1/affected",
        &json!({"contact": "personne@example.fr"}),
    );
    assert_eq!(known.status, 202, "{}", known.json);
    assert_eq!(
        (known.status, &known.json),
        (unknown.status, &unknown.json),
        "the same answer"
    );
    let start = Instant::now();
    while sink.messages().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no answer arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "only the known contact gets an answer");
    assert_eq!(header(&messages[0], "To:"), "jeune0@example.fr");
    let body = &messages[0];
    assert!(body.contains("Oui."), "{body}");
    assert!(body.contains("votre identité"), "{body}");
    assert!(
        !known.json.to_string().contains("identité"),
        "nothing shown to the asker"
    );
    // One answer a day per contact; then the address is rate-limited.
    let again = s.post(
        None,
        "/v1/affected",
        &json!({"contact": " JEUNE0@Example.fr"}),
    );
    assert_eq!((again.status, &again.json), (unknown.status, &unknown.json));
    let limited = s.post(
        None,
        "/v1/affected",
        &json!({"contact": "autre@example.fr"}),
    );
    assert_eq!(limited.status, 429, "{}", limited.json);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1);
    // Not an answer's matter: a malformed body is named.
    let bad = s.post_raw(None, "/v1/affected", "{}");
    assert!(bad.status == 422 || bad.status == 429, "{}", bad.json);
    let log = String::from_utf8(i.run(&["audit", "export"]).stdout).unwrap();
    assert!(log.contains("\"affected_ask\""));
    assert!(!log.contains("personne@example.fr") && !log.contains("jeune0@example.fr"));
}
