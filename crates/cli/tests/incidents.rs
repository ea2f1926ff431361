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
