//! Breach response at the console: an incident for a stolen token, and its exact impact.

use crate::util::*;

#[test]
fn an_incident_s_impact_is_exactly_what_was_served() {
    let i = Install::new();
    let s = i.serve();
    let ids = outside_files(&i, &s, 4);
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    for id in &ids[..2] {
        let r = s.get(
            Some(&stolen),
            &format!("/v1/persons/{id}?purpose=accompaniment"),
        );
        assert_eq!(r.status, 200, "{}", r.json);
    }
    // A probe answered 404 names nobody.
    let probe = s.get(
        Some(&stolen),
        "/v1/persons/00000000-0000-4000-8000-000000000000?purpose=accompaniment",
    );
    assert_eq!(probe.status, 404);
    // Someone else's read is not this incident's.
    let other = i.token("c.martin", "counsellor", "ML-1");
    let r = s.get(
        Some(&other),
        &format!("/v1/persons/{}?purpose=accompaniment", ids[3]),
    );
    assert_eq!(r.status, 200);
    drop(s);

    let o = i.run(&[
        "incident",
        "open",
        "--principal",
        "C.Durand",
        "--since",
        "2000-01-01",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert!(id.starts_with("inc_"), "{id}");
    let o = i.run(&["incident", "impact", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let impact: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut people: Vec<&str> = impact["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    people.sort();
    let mut want: Vec<&str> = ids[..2].iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(people, want, "exactly the files served: {impact}");
    let cats = &impact["people"][0]["categories"];
    assert!(
        cats.as_array().unwrap().iter().any(|c| c == "identity"),
        "{cats}"
    );
    assert_eq!(impact["per_category"]["identity"], 2, "{impact}");
    assert_eq!(impact["per_agency"]["ML-1"], 2, "{impact}");
    assert_eq!(impact["minors"], 0, "{impact}");
    let o = i.run(&["incident", "impact", &id, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(csv.starts_with("id,categories\n"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    // Its timeline: opened, then the impact computed; both in the log.
    let o = i.run(&["incident", "show", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let timeline = shown["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 3, "{shown}");
    assert!(timeline[0]["what"]
        .as_str()
        .unwrap()
        .starts_with("opened: principals=c.durand"));
    assert_eq!(timeline[1]["what"], "impact computed: 2 people");
    let log = String::from_utf8(i.run(&["audit", "export"]).stdout).unwrap();
    assert!(log.contains("\"incident_open\"") && log.contains("\"incident_impact\""));
    // Bad input is named.
    let o = i.run(&["incident", "impact", &id, "--format", "xml"]);
    assert!(!o.status.success() && stderr(&o).contains("--format must be json or csv"));
    let o = i.run(&["incident", "impact", "inc_0000000000000000"]);
    assert!(
        !o.status.success() && stderr(&o).contains("no incident"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&["incident", "open"]);
    assert!(
        !o.status.success() && stderr(&o).contains("covers a principal"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&[
        "incident",
        "open",
        "--principal",
        "x",
        "--since",
        "yesterday",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("--since must be"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_dpo_opens_an_incident_of_its_agency_over_http() {
    let i = Install::new();
    let s = i.serve();
    let ids = outside_files(&i, &s, 3);
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    let r = s.get(
        Some(&stolen),
        &format!("/v1/persons/{}?purpose=accompaniment", ids[1]),
    );
    assert_eq!(r.status, 200);
    // A minor's file too.
    let app = i.token("case-app", "service", "ML-1");
    let minor = s.post(
        Some(&app),
        "/v1/persons",
        &serde_json::json!({
            "agency": "ML-1",
            "identity": {"last_name": "Petit", "first_names": "Noé", "birth_date": "2012-01-01", "sex": "M"},
        }),
    );
    assert_eq!(minor.status, 201, "{}", minor.json);
    let minor = minor.json["id"].as_str().unwrap().to_string();
    let r = s.get(
        Some(&stolen),
        &format!("/v1/persons/{minor}?purpose=accompaniment"),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let dpo = i.token("dpo", "dpo", "ML-1");
    assert_eq!(
        s.post(Some(&dpo), "/v1/incidents", &serde_json::json!({}))
            .status,
        422
    );
    assert_eq!(
        s.post(
            Some(&stolen),
            "/v1/incidents",
            &serde_json::json!({"principals": ["c.durand"]})
        )
        .status,
        403,
        "a counsellor opens none"
    );
    let r = s.post(
        Some(&dpo),
        "/v1/incidents",
        &serde_json::json!({"principals": ["c.durand"], "since": 0}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["agency"], "ML-1");
    let id = r.json["id"].as_str().unwrap().to_string();
    let r = s.get(Some(&dpo), &format!("/v1/incidents/{id}/impact"));
    assert_eq!(r.status, 200, "{}", r.json);
    let people = r.json["people"].as_array().unwrap();
    assert_eq!(people.len(), 2, "{}", r.json);
    assert!(
        people.contains(&serde_json::json!({"id": ids[1], "categories": ["contact", "identity"]}))
    );
    assert_eq!(r.json["minors"], 1, "{}", r.json);
    assert_eq!(r.json["per_agency"], serde_json::json!({"ML-1": 2}));
    let r = s.get(Some(&dpo), &format!("/v1/incidents/{id}"));
    assert_eq!(
        r.json["timeline"].as_array().unwrap().len(),
        2,
        "{}",
        r.json
    );
    let elsewhere = i.token("dpo.b", "dpo", "ML-2");
    assert_eq!(
        s.get(Some(&elsewhere), &format!("/v1/incidents/{id}/impact"))
            .status,
        404,
        "another agency's incident is not found"
    );
}

fn open_incident(i: &Install, args: &[&str]) -> String {
    let mut all = vec!["incident", "open"];
    all.extend_from_slice(args);
    let o = i.run(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn impact_ids(i: &Install, id: &str) -> Vec<String> {
    let o = i.run(&["incident", "impact", id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut ids: Vec<String> = v["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn draft_json(i: &Install, id: &str) -> serde_json::Value {
    let o = i.run(&["incident", "draft", id, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_stolen_key_or_copy_exposes_what_the_attacker_could_decrypt() {
    let i = Install::new();
    let s = i.serve();
    let mut before = outside_files(&i, &s, 3);
    before.sort();
    drop(s);
    // A copy of the database taken now; then a rotation; then more files.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let copy = chrono::Utc::now().timestamp().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A copy alone: ciphertext under keys the attacker does not hold.
    let only_copy = open_incident(&i, &["--copy-as-of", &copy]);
    assert!(impact_ids(&i, &only_copy).is_empty());
    let d = draft_json(&i, &only_copy);
    assert_eq!(d["concerned"]["people"], 0, "{d}");
    assert_eq!(d["concerned"]["encrypted_only"], 3, "{d}");
    assert_eq!(d["people_notice"]["required"], false, "{d}");
    assert!(d["people_notice"]["reason"]
        .as_str()
        .unwrap()
        .contains("34(3)(a)"));
    // The current master key stolen, with everything: every file.
    let key_now = open_incident(&i, &["--key-version", "1"]);
    assert_eq!(impact_ids(&i, &key_now), before);
    let o = i.run(&["keys", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = i.serve();
    let after = outside_files(&i, &s, 2);
    drop(s);
    // The old key and the copy taken before the rotation: the three files of the copy, none
    // made after it.
    let old_key = open_incident(&i, &["--key-version", "1", "--copy-as-of", &copy]);
    assert_eq!(impact_ids(&i, &old_key), before);
    // The new key with that old copy: its keys were all under the old version.
    let new_key_old_copy = open_incident(&i, &["--key-version", "2", "--copy-as-of", &copy]);
    assert!(impact_ids(&i, &new_key_old_copy).is_empty());
    // The new key with today's key store: every file.
    let new_key = open_incident(&i, &["--key-version", "2"]);
    let mut all: Vec<String> = before.iter().chain(&after).cloned().collect();
    all.sort();
    assert_eq!(impact_ids(&i, &new_key), all);
    // Bad input is named.
    let o = i.run(&["incident", "open", "--key-version", "9"]);
    assert!(
        stderr(&o).contains("no master key of that version"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&["incident", "open", "--key-version", "1", "--principal", "x"]);
    assert!(stderr(&o).contains("covers a principal"), "{}", stderr(&o));
}

#[test]
fn the_draft_tracks_the_72_hours_and_the_phases() {
    let i = Install::new();
    let s = i.serve();
    let ids = outside_files(&i, &s, 2);
    let stolen = i.token("c.durand", "counsellor", "ML-1");
    for id in &ids {
        let r = s.get(
            Some(&stolen),
            &format!("/v1/persons/{id}?purpose=accompaniment"),
        );
        assert_eq!(r.status, 200);
    }
    drop(s);
    // Discovered four days ago: the initial notification is late.
    let discovered = (chrono::Utc::now().timestamp() - 4 * 86_400).to_string();
    let id = open_incident(
        &i,
        &[
            "--principal",
            "c.durand",
            "--discovered",
            &discovered,
            "--summary",
            "Token used at night.",
        ],
    );
    let d = draft_json(&i, &id);
    assert_eq!(d["notification"], "initial");
    assert_eq!(d["dates"]["late"], true, "{d}");
    assert!(d["dates"]["hours_late"].as_i64().unwrap() >= 23, "{d}");
    assert_eq!(d["concerned"]["people"], 2);
    assert_eq!(d["concerned"]["per_category"]["contact"], 2, "{d}");
    assert_eq!(d["nature"]["summary"], "Token used at night.");
    let o = i.run(&["incident", "draft", &id]);
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(md.contains("DÉPASSÉE"), "{md}");
    assert!(md.contains("Motifs du retard"), "{md}");
    assert!(
        md.contains("À COMPLÉTER"),
        "no organisation configured: {md}"
    );
    // Late without its reasons: refused. With them: the initial notification.
    let o = i.run(&["incident", "filed", &id, "--reference", "CNIL-42"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("reasons for the delay"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&[
        "incident",
        "filed",
        &id,
        "--reference",
        "CNIL-42",
        "--late-reason",
        "the logs were only reviewed after the weekend",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("initial notification recorded (phase 1), late"));
    let d = draft_json(&i, &id);
    assert_eq!(d["notification"], "complementary");
    assert_eq!(d["phase"], 2);
    assert_eq!(d["previous"][0]["reference"], "CNIL-42");
    let o = i.run(&["incident", "filed", &id]);
    assert!(
        o.status.success(),
        "a complementary one needs no reason: {}",
        stderr(&o)
    );
    // Closed with a reason; closed once.
    let o = i.run(&["incident", "close", &id, "--reason", "short"]);
    assert!(!o.status.success());
    let o = i.run(&[
        "incident",
        "close",
        &id,
        "--reason",
        "notices sent, authority notified",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = i.run(&[
        "incident",
        "close",
        &id,
        "--reason",
        "notices sent, authority notified",
    ]);
    assert!(stderr(&o).contains("already closed"), "{}", stderr(&o));
    let o = i.run(&["incident", "show", &id]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["status"], "closed");
    let log = String::from_utf8(i.run(&["audit", "export"]).stdout).unwrap();
    for action in ["incident_draft", "incident_file", "incident_close"] {
        assert!(log.contains(&format!("\"{action}\"")), "{action}");
    }
}
