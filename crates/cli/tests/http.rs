use crate::util::Install;
use serde_json::json;

fn lea(agency: &str) -> serde_json::Value {
    json!({
        "agency": agency,
        "identity": {"last_name": "Martin", "first_names": "Léa Anne", "birth_date": "2006-04-17", "sex": "F", "nationality": "FR"},
        "nir": "2060475113042 33",
        "france_travail_id": "1234567A",
        "contact": {"email": "lea.martin@example.fr", "phones": ["+33612345678"],
                    "address": {"line1": "12 rue des Lilas", "postal_code": "75013", "city": "Paris"}},
        "situation": {"benefits": ["RSA"], "monthly_resources_eur": 560, "housing": "family"},
        "education": {"level": "4", "diplomas": ["Baccalauréat professionnel"], "trainings": []},
        "professional": {"experiences": [{"role": "Vendeuse", "from": "2024-06", "to": "2024-09"}]},
        "followup": {"registered_on": "2024-09-02", "status": "registered", "counsellor": "c.durand"},
        "legal_representatives": []
    })
}

#[test]
fn the_interface_example_round_trips_create_read_patch_erase() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve();
    let r = s.post(Some(&t), "/v1/persons", &lea("ML-075-13"));
    assert_eq!(r.status, 201, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();

    let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json["identity"]["last_name"], "Martin");
    assert_eq!(
        r.json["nir"], "**********04233",
        "masked to its last digits for accompaniment"
    );
    let pay = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=payment"));
    assert_eq!(pay.json["nir"], "206047511304233", "in full for a payment");
    assert_eq!(r.json["contact"]["phones"][0], "+33612345678");
    assert_eq!(r.json["professional"]["experiences"][0]["role"], "Vendeuse");

    let r = s.get(
        Some(&t),
        &format!("/v1/persons/{id}?purpose=accompaniment&categories=identity,contact"),
    );
    assert_eq!(r.status, 200);
    let obj = r.json.as_object().unwrap();
    assert!(obj.contains_key("identity") && obj.contains_key("contact"));
    assert!(
        !obj.contains_key("nir") && !obj.contains_key("situation"),
        "other categories are absent, not null"
    );

    let r = s.patch(
        Some(&t),
        &format!("/v1/persons/{id}"),
        &json!({"contact": {"email": "lea.m@example.org"}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["contact"]["email"], "lea.m@example.org");
    assert!(
        r.json.get("identity").is_none() && r.json.get("nir").is_none(),
        "a PATCH returns the categories it changed, no others: {}",
        r.json
    );
    assert_eq!(
        s.patch(Some(&t), &format!("/v1/persons/{id}"), &json!({}))
            .status,
        422
    );

    let r = s.delete(Some(&t), &format!("/v1/persons/{id}"));
    assert_eq!(r.status, 204);
    let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"));
    assert_eq!(r.status, 404);
    assert_eq!(r.content_type, "application/problem+json");
}

#[test]
fn invalid_bodies_get_422_naming_every_bad_field() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve();
    let mut body = lea("ML-075-13");
    body["nir"] = json!("2060475113042 34");
    body["contact"]["email"] = json!("not-an-email");
    body["contact"]["phones"] = json!(["12"]);
    body["identity"]["birth_date"] = json!("17/04/2006");
    let r = s.post(Some(&t), "/v1/persons", &body);
    assert_eq!(r.status, 422);
    assert_eq!(r.content_type, "application/problem+json");
    assert!(r.json["type"].as_str().unwrap().ends_with("/validation"));
    let fields: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "identity.birth_date",
            "nir",
            "contact.email",
            "contact.phones[0]"
        ]
    );
    assert!(
        !r.json.to_string().contains("not-an-email"),
        "errors never echo values"
    );

    let r = s.post(Some(&t), "/v1/persons", &json!({"agency": "ML-075-13", "identity": {"last_name": "X", "first_names": "Y", "birth_date": "2000-01-01"}, "bank_iban": "FR76"}));
    assert_eq!(r.status, 422);
    assert_eq!(r.json["errors"][0]["field"], "body");
    assert!(!r.json.to_string().contains("bank_iban"), "{}", r.json);

    let r = s.post_raw(Some(&t), "/v1/persons", "{\"agency\": ");
    assert_eq!(r.status, 422);

    let r = s.post(Some(&t), "/v1/persons", &json!({"agency": "ML-075-13"}));
    assert_eq!(r.status, 422);
    assert_eq!(r.json["errors"][0]["field"], "identity");

    // purpose is required on reads and must be known.
    let id = s.post(Some(&t), "/v1/persons", &lea("ML-075-13")).json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.get(Some(&t), &format!("/v1/persons/{id}"));
    assert_eq!(
        (r.status, r.json["errors"][0]["field"].as_str()),
        (422, Some("purpose"))
    );
    let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=curiosity"));
    assert_eq!(r.status, 422);
    let r = s.get(
        Some(&t),
        &format!("/v1/persons/{id}?purpose=accompaniment&categories=bank"),
    );
    assert_eq!(r.status, 422);
}

#[test]
fn a_token_of_agency_a_cannot_read_search_list_patch_or_erase_a_file_of_agency_b() {
    let i = Install::new();
    let a = i.token("c.durand", "counsellor", "ML-075-13");
    let b = i.token("c.b", "counsellor", "ML-093-01");
    let s = i.serve();
    let id = s.post(Some(&a), "/v1/persons", &lea("ML-075-13")).json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = "00000000-0000-4000-8000-000000000000";

    let other = s.get(Some(&b), &format!("/v1/persons/{id}?purpose=accompaniment"));
    let absent = s.get(
        Some(&b),
        &format!("/v1/persons/{missing}?purpose=accompaniment"),
    );
    assert_eq!(other.status, 404);
    assert_eq!(
        other.json, absent.json,
        "another agency's file looks exactly like a missing one"
    );

    for search in [
        json!({"purpose": "accompaniment", "email": "lea.martin@example.fr"}),
        json!({"purpose": "accompaniment", "nir": "206047511304233"}),
        json!({"purpose": "accompaniment", "name_birth": {"last_name": "MARTIN", "birth_date": "2006-04-17"}}),
        json!({"purpose": "accompaniment", "phone": "06 12 34 56 78"}),
        json!({"purpose": "accompaniment", "france_travail_id": "1234567a"}),
    ] {
        let r = s.post(Some(&b), "/v1/persons/search", &search);
        assert_eq!(
            (r.status, r.json.as_array().unwrap().len()),
            (200, 0),
            "{search}"
        );
        let r = s.post(Some(&a), "/v1/persons/search", &search);
        assert_eq!(r.json[0]["id"], id.as_str(), "{search}");
        assert_eq!(r.json[0]["identity"]["last_name"], "Martin");
    }
    let r = s.get(Some(&b), "/v1/persons?purpose=accompaniment");
    assert_eq!(r.json["items"].as_array().unwrap().len(), 0);
    let r = s.get(Some(&a), "/v1/persons?purpose=accompaniment");
    assert_eq!(r.json["items"].as_array().unwrap().len(), 1);

    assert_eq!(
        s.patch(
            Some(&b),
            &format!("/v1/persons/{id}"),
            &json!({"ml_file_number": "X1"})
        )
        .status,
        404
    );
    assert_eq!(s.delete(Some(&b), &format!("/v1/persons/{id}")).status, 404);
    let r = s.post(Some(&b), "/v1/persons", &lea("ML-075-13"));
    assert_eq!(r.status, 403, "creating in another agency is refused");
    assert_eq!(
        s.get(Some(&a), &format!("/v1/persons/{id}?purpose=accompaniment"))
            .status,
        200,
        "still intact"
    );
}

#[test]
fn unknown_missing_and_expired_tokens_get_401() {
    let i = Install::new();
    let good = i.token("c.a", "counsellor", "ML-075-13");
    let short = i.token_for("c.s", "counsellor", "ML-075-13", "1s");
    let s = i.serve();
    for tok in [
        None,
        Some("rmp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Some(""),
    ] {
        let r = s.get(tok, "/v1/persons?purpose=accompaniment");
        assert_eq!(r.status, 401, "{tok:?}");
        assert_eq!(r.content_type, "application/problem+json");
    }
    assert_eq!(
        s.get(Some(&good), "/v1/persons?purpose=accompaniment")
            .status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(
        s.get(Some(&short), "/v1/persons?purpose=accompaniment")
            .status,
        401,
        "expired token refused"
    );
    assert_eq!(
        s.post(Some(&short), "/v1/persons", &lea("ML-075-13"))
            .status,
        401
    );
}

#[test]
fn listing_pages_through_the_whole_caseload_once() {
    let i = Install::new();
    let files = i.synth_import(300, 2, 5);
    let agency = files[0].agency.clone();
    let counsellor = files[0].counsellor.clone();
    let expected = files
        .iter()
        .filter(|f| f.agency == agency && f.counsellor == counsellor)
        .count();
    assert!(expected > 25, "more than one page");
    let t = i.token(&counsellor, "counsellor", &agency);
    // Past probation: a counsellor's budget (60 people a minute) covers the whole caseload.
    let s = i.serve_with(&["--guard-probation", "0s"]);
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let r = s.get(
            Some(&t),
            &format!("/v1/persons?purpose=accompaniment&limit=25{cursor}"),
        );
        assert_eq!(r.status, 200);
        for item in r.json["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_string()));
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), expected);
    assert_eq!(
        s.get(Some(&t), "/v1/persons?purpose=accompaniment&limit=0")
            .status,
        422
    );
}

#[test]
fn search_needs_exactly_one_valid_key() {
    let i = Install::new();
    let t = i.token("c.a", "counsellor", "ML-075-13");
    let s = i.serve();
    let r = s.post(
        Some(&t),
        "/v1/persons/search",
        &json!({"purpose": "accompaniment"}),
    );
    assert_eq!(r.status, 422);
    let r = s.post(
        Some(&t),
        "/v1/persons/search",
        &json!({"purpose": "accompaniment", "email": "a@b.fr", "phone": "0612345678"}),
    );
    assert_eq!(r.status, 422);
    let r = s.post(
        Some(&t),
        "/v1/persons/search",
        &json!({"purpose": "accompaniment", "nir": "123"}),
    );
    assert_eq!(
        (r.status, r.json["errors"][0]["field"].as_str()),
        (422, Some("nir"))
    );
    let r = s.post(Some(&t), "/v1/persons/search", &json!({"email": "a@b.fr"}));
    assert_eq!(
        (r.status, r.json["errors"][0]["field"].as_str()),
        (422, Some("purpose"))
    );
}

#[test]
fn health_metrics_and_openapi() {
    let i = Install::new();
    let s = i.serve();
    assert_eq!(s.get(None, "/healthz").json["status"], "ok");
    let doc = s.get(None, "/openapi.json").json;
    for path in ["/v1/persons", "/v1/persons/{id}", "/v1/persons/search"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI description"
        );
    }
    assert!(doc["components"]["schemas"]["PersonInput"].is_object());
    let _ = s.get(None, "/v1/persons?purpose=accompaniment");
    let m = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        m.contains(
            "rempart_http_requests_total{method=\"GET\",route=\"/v1/persons\",status=\"401\"} 1"
        ),
        "{m}"
    );
}

/// (action, principal, categories, purpose, outcome) of one access.
type Row = (String, String, Vec<String>, Option<String>, String);

#[test]
fn every_endpoint_leaves_its_entry_in_the_files_access_history() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let other = i.token("c.b", "counsellor", "ML-093-01");
    let s = i.serve();
    let id = s.post(Some(&t), "/v1/persons", &lea("ML-075-13")).json["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.get(
            Some(&t),
            &format!("/v1/persons/{id}?purpose=payment&categories=social_security")
        )
        .status,
        200
    );
    assert_eq!(
        s.post(
            Some(&t),
            "/v1/persons/search",
            &json!({"purpose": "accompaniment", "nir": "2060475113042 33"})
        )
        .status,
        200
    );
    assert_eq!(
        s.get(Some(&t), "/v1/persons?purpose=accompaniment").status,
        200
    );
    assert_eq!(
        s.patch(
            Some(&t),
            &format!("/v1/persons/{id}"),
            &json!({"education": {"level": "5"}})
        )
        .status,
        200
    );
    assert_eq!(
        s.get(
            Some(&other),
            &format!("/v1/persons/{id}?purpose=accompaniment")
        )
        .status,
        404
    );
    assert_eq!(
        s.get(Some(&other), &format!("/v1/persons/{id}/accesses"))
            .status,
        404,
        "another agency cannot read the history"
    );

    assert_eq!(
        s.get(Some(&t), &format!("/v1/persons/{id}/accesses"))
            .status,
        403,
        "a counsellor does not read who else read the file"
    );
    let dpo = i.token("dpo.ml75", "dpo", "ML-075-13");
    let summary = history_of(&s, &dpo, &id);
    let s_ = |x: &str| x.to_string();
    let all: Vec<String> = [
        "identity",
        "social_security",
        "agency_ids",
        "contact",
        "situation",
        "education",
        "professional",
        "followup",
        "legal_representatives",
    ]
    .map(s_)
    .to_vec();
    assert_eq!(
        summary,
        vec![
            (s_("create"), s_("c.durand"), all, None, s_("allowed")),
            (
                s_("read"),
                s_("c.durand"),
                vec![s_("social_security")],
                Some(s_("payment")),
                s_("allowed")
            ),
            (
                s_("search"),
                s_("c.durand"),
                vec![s_("identity")],
                Some(s_("accompaniment")),
                s_("allowed")
            ),
            (
                s_("list"),
                s_("c.durand"),
                vec![s_("identity")],
                Some(s_("accompaniment")),
                s_("allowed")
            ),
            (
                s_("update"),
                s_("c.durand"),
                vec![s_("education")],
                Some(s_("accompaniment")),
                s_("allowed")
            ),
            (
                s_("read"),
                s_("c.b"),
                vec![],
                Some(s_("accompaniment")),
                s_("denied")
            ),
            (s_("read_accesses"), s_("c.b"), vec![], None, s_("denied")),
            (
                s_("read_accesses"),
                s_("c.durand"),
                vec![],
                None,
                s_("denied")
            ),
            (
                s_("read_accesses"),
                s_("dpo.ml75"),
                vec![],
                None,
                s_("allowed")
            ),
        ]
    );
    assert_eq!(s.delete(Some(&t), &format!("/v1/persons/{id}")).status, 204);
}

embedded_only! {
    #[test]
    fn no_log_no_data_over_http_a_read_is_refused_while_the_audit_log_refuses_writes() {
        let i = Install::new();
        let t = i.token("c.durand", "counsellor", "ML-075-13");
        let s = i.serve();
        let id = s.post(Some(&t), "/v1/persons", &lea("ML-075-13")).json["id"]
            .as_str()
            .unwrap()
            .to_string();
        let db = rusqlite::Connection::open(i.sqlite_dir().join("audit.db")).unwrap();
        db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        db.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); END;").unwrap();
        let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"));
        assert_eq!(r.status, 500);
        assert!(
            !r.json.to_string().contains("Martin"),
            "no data without its audit entry: {}",
            r.json
        );
        db.execute_batch("DROP TRIGGER refuse;").unwrap();
        assert_eq!(
            s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"))
                .json["identity"]["last_name"],
            "Martin"
        );
    }
}

/// The history of `id` as (action, principal, categories, purpose, outcome, detail), oldest
/// first, read by the agency's DPO.
fn history_of(s: &crate::util::Server, dpo: &str, id: &str) -> Vec<Row> {
    let r = s.get(Some(dpo), &format!("/v1/persons/{id}/accesses?limit=1000"));
    assert_eq!(r.status, 200, "{:?}", r.json);
    let mut rows: Vec<serde_json::Value> = r.json.as_array().unwrap().clone();
    rows.reverse();
    rows.iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["principal"].as_str().unwrap().to_string(),
                e["categories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
                e["purpose"].as_str().map(String::from),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn caseloads_enrolments_and_break_glass_over_http_each_with_its_entry() {
    let i = Install::new();
    let durand = i.token("c.durand", "counsellor", "ML-075-13");
    let colleague = i.token("c.martin", "counsellor", "ML-075-13");
    let partner = i.token("afpa.paris", "partner", "AFPA-75");
    let app = i.token("case-app", "service", "ML-075-13");
    let dpo = i.token("dpo.ml75", "dpo", "ML-075-13");
    let ops = i.token("rssi", "operator", "ML-075-13");
    let s = i.serve();
    let id = s.post(Some(&durand), "/v1/persons", &lea("ML-075-13")).json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/persons/{id}");
    let missing = s.get(
        Some(&partner),
        "/v1/persons/00000000-0000-4000-8000-000000000000?purpose=partner_service",
    );

    // Not enrolled: the partner gets exactly what a missing file gives.
    let r = s.get(Some(&partner), &format!("{path}?purpose=partner_service"));
    assert_eq!((r.status, &r.json), (404, &missing.json));
    // The file's counsellor enrols the person with the partner.
    let r = s.post(
        Some(&durand),
        &format!("{path}/enrolments"),
        &json!({"partner": "AFPA-75"}),
    );
    assert_eq!(r.status, 201, "{:?}", r.json);
    assert_eq!(
        s.post(
            Some(&durand),
            &format!("{path}/enrolments"),
            &json!({"partner": "AFPA-75"})
        )
        .status,
        200,
        "already enrolled"
    );
    assert_eq!(
        s.post(
            Some(&durand),
            &format!("{path}/enrolments"),
            &json!({"partner": "not a code!"})
        )
        .status,
        422
    );
    let r = s.get(Some(&partner), &format!("{path}?purpose=partner_service"));
    assert_eq!(r.status, 200, "{:?}", r.json);
    let mut keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["agency", "contact", "education", "id", "identity"]);
    let r = s.get(Some(&partner), "/v1/persons?purpose=partner_service");
    assert_eq!(r.json["items"].as_array().unwrap().len(), 1);

    // A colleague of the agency: identity and contact; everything else with break-glass.
    let r = s.get(Some(&colleague), &format!("{path}?purpose=accompaniment"));
    let mut keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["agency", "contact", "id", "identity"]);
    assert_eq!(
        s.patch(
            Some(&colleague),
            &path,
            &json!({"education": {"level": "5"}})
        )
        .status,
        403
    );
    let r = s.get_break_glass(
        Some(&colleague),
        &format!("{path}?purpose=accompaniment"),
        "Léa est à l'accueil, son conseiller est absent",
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["nir"], "**********04233");
    assert!(r.json.get("situation").is_some());
    assert_eq!(
        s.get_break_glass(
            Some(&colleague),
            &format!("{path}?purpose=accompaniment"),
            "short"
        )
        .status,
        422,
        "a justification says something"
    );
    // The application assigns the file to the colleague: their caseload now.
    assert_eq!(
        s.put(
            Some(&app),
            &format!("{path}/counsellor"),
            &json!({"counsellor": "c.martin"})
        )
        .status,
        204
    );
    assert_eq!(
        s.put(
            Some(&app),
            &format!("{path}/counsellor"),
            &json!({"counsellor": "Not a login!"})
        )
        .status,
        422
    );
    let r = s.get(Some(&colleague), &format!("{path}?purpose=accompaniment"));
    assert_eq!(r.json["followup"]["counsellor"], "c.martin");
    assert_eq!(
        s.get(Some(&app), &format!("{path}?purpose=accompaniment"))
            .status,
        404,
        "the application reads nothing"
    );
    // An operator sees no file at all, for any purpose.
    for p in ["accompaniment", "breach_response", "legal_obligation"] {
        assert_eq!(
            s.get(Some(&ops), &format!("{path}?purpose={p}")).status,
            404
        );
    }
    // Ending the enrolment.
    assert_eq!(
        s.delete(Some(&colleague), &format!("{path}/enrolments/AFPA-75"))
            .status,
        204
    );
    assert_eq!(
        s.delete(Some(&colleague), &format!("{path}/enrolments/AFPA-75"))
            .status,
        404
    );
    assert_eq!(
        s.get(Some(&partner), &format!("{path}?purpose=partner_service"))
            .status,
        404
    );

    // The DPO's review list names the break-glass read and its justification.
    let r = s.get(Some(&dpo), "/v1/audit/break-glass");
    assert_eq!(r.status, 200, "{:?}", r.json);
    let uses = r.json.as_array().unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["principal"], "c.martin");
    assert_eq!(
        uses[0]["justification"],
        "Léa est à l'accueil, son conseiller est absent"
    );
    assert_eq!(s.get(Some(&colleague), "/v1/audit/break-glass").status, 403);

    let s_ = |x: &str| x.to_string();
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let h = history_of(&s, &dpo, &id);
    let expected = vec![
        (
            s_("create"),
            s_("c.durand"),
            v(&[
                "identity",
                "social_security",
                "agency_ids",
                "contact",
                "situation",
                "education",
                "professional",
                "followup",
                "legal_representatives",
            ]),
            None,
            s_("allowed"),
        ),
        (
            s_("read"),
            s_("afpa.paris"),
            v(&[]),
            Some(s_("partner_service")),
            s_("denied"),
        ),
        (s_("enrol"), s_("c.durand"), v(&[]), None, s_("allowed")),
        (
            s_("read"),
            s_("afpa.paris"),
            v(&["identity", "contact", "education"]),
            Some(s_("partner_service")),
            s_("allowed"),
        ),
        (
            s_("list"),
            s_("afpa.paris"),
            v(&["identity"]),
            Some(s_("partner_service")),
            s_("allowed"),
        ),
        (
            s_("read"),
            s_("c.martin"),
            v(&["identity", "contact"]),
            Some(s_("accompaniment")),
            s_("allowed"),
        ),
        (
            s_("update"),
            s_("c.martin"),
            v(&[]),
            Some(s_("accompaniment")),
            s_("denied"),
        ),
        (
            s_("read"),
            s_("c.martin"),
            v(&[
                "identity",
                "nir_last_digits",
                "agency_ids",
                "contact",
                "situation",
                "education",
                "professional",
                "followup",
            ]),
            Some(s_("accompaniment")),
            s_("allowed"),
        ),
        (
            s_("assign"),
            s_("case-app"),
            v(&["followup"]),
            None,
            s_("allowed"),
        ),
        (
            s_("read"),
            s_("c.martin"),
            v(&[
                "identity",
                "nir_last_digits",
                "agency_ids",
                "contact",
                "situation",
                "education",
                "professional",
                "followup",
            ]),
            Some(s_("accompaniment")),
            s_("allowed"),
        ),
        (
            s_("read"),
            s_("case-app"),
            v(&[]),
            Some(s_("accompaniment")),
            s_("denied"),
        ),
        (
            s_("read"),
            s_("rssi"),
            v(&[]),
            Some(s_("accompaniment")),
            s_("denied"),
        ),
        (
            s_("read"),
            s_("rssi"),
            v(&[]),
            Some(s_("breach_response")),
            s_("denied"),
        ),
        (
            s_("read"),
            s_("rssi"),
            v(&[]),
            Some(s_("legal_obligation")),
            s_("denied"),
        ),
        (s_("unenrol"), s_("c.martin"), v(&[]), None, s_("allowed")),
        (
            s_("read"),
            s_("afpa.paris"),
            v(&[]),
            Some(s_("partner_service")),
            s_("denied"),
        ),
        (
            s_("read_accesses"),
            s_("dpo.ml75"),
            v(&[]),
            None,
            s_("allowed"),
        ),
    ];
    assert_eq!(h, expected);
}

/// A valid file whose follow-up holds `events` copies of `event`.
fn with_events(agency: &str, event: &str, events: usize) -> String {
    let mut body = lea(agency);
    body["followup"]["events"] = json!([]);
    let text = body.to_string();
    let list = vec![event; events].join(",");
    text.replacen("\"events\":[]", &format!("\"events\":[{list}]"), 1)
}

#[test]
fn a_megabyte_of_empty_events_costs_one_error_and_a_small_answer() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve();
    // About 340,000 empty events, just under the body limit.
    let body = with_events("ML-075-13", "{}", 340_000);
    assert!(body.len() < 1024 * 1024, "{}", body.len());
    let r = s
        .client
        .post(format!("{}/v1/persons", s.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let text = r.text().unwrap();
    assert!(text.len() < 2_000, "a {}-byte answer", text.len());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["errors"][0]["field"], "followup.events");
    assert_eq!(v["errors"][0]["message"], "at most 500 entries");
    assert_eq!(v["total_errors"], 1);
}

#[test]
fn validation_lists_the_first_50_errors_and_counts_them_all() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve();
    // 500 events (the bound), each without its date.
    let r = s.post_raw(
        Some(&t),
        "/v1/persons",
        &with_events("ML-075-13", "{}", 500),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.content_type, "application/problem+json");
    let errors = r.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 50);
    assert_eq!(errors[0]["field"], "followup.events[0].date");
    assert_eq!(r.json["total_errors"], 500);
    assert_eq!(r.json["truncated"], true);

    let r = s.post_raw(Some(&t), "/v1/persons", &with_events("ML-075-13", "{}", 2));
    assert_eq!(r.json["errors"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            r.json["total_errors"].as_u64(),
            r.json["truncated"].as_bool()
        ),
        (Some(2), Some(false))
    );
}

#[test]
fn the_openapi_description_states_the_bounds_and_the_error_count() {
    let i = Install::new();
    let s = i.serve();
    let doc = s.get(None, "/openapi.json").json;
    let schemas = &doc["components"]["schemas"];
    for (schema, field, max) in [
        ("Followup", "events", 500),
        ("Contact", "phones", 5),
        ("Situation", "benefits", 50),
        ("Education", "diplomas", 50),
        ("Education", "trainings", 50),
        ("Professional", "experiences", 50),
        ("Professional", "contracts", 50),
        ("PersonInput", "legal_representatives", 4),
        ("Problem", "errors", 50),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["maxItems"], max,
            "{schema}.{field}: {}",
            schemas[schema]["properties"][field]
        );
    }
    for field in ["total_errors", "truncated"] {
        assert!(
            schemas["Problem"]["properties"][field].is_object(),
            "{field}"
        );
    }
}

#[test]
fn a_caller_who_may_not_create_there_is_refused_before_the_body_is_validated() {
    let i = Install::new();
    let counsellor = i.token("c.durand", "counsellor", "ML-075-13");
    let partner = i.token("p.afpa", "partner", "AFPA-75");
    let dpo = i.token("d.pro", "dpo", "ML-075-13");
    let s = i.serve();
    let invalid = with_events("ML-075-13", "{}", 500);
    // A partner, a DPO and a counsellor of another agency: refused as for a valid file.
    for (who, token, body) in [
        ("partner", &partner, invalid.clone()),
        ("dpo", &dpo, invalid.clone()),
        (
            "other agency",
            &counsellor,
            with_events("ML-093-01", "{}", 500),
        ),
        ("partner, not JSON", &partner, "{\"agency\": ".to_string()),
    ] {
        let r = s.post_raw(Some(token), "/v1/persons", &body);
        assert_eq!(r.status, 403, "{who}: {}", r.json);
        assert_eq!(r.content_type, "application/problem+json");
        assert!(r.json.get("errors").is_none(), "{who}: {}", r.json);
    }
    assert_eq!(
        s.post(Some(&partner), "/v1/persons", &lea("ML-075-13"))
            .status,
        403
    );
    // Allowed to create in their agency: the body is validated as before.
    let r = s.post_raw(Some(&counsellor), "/v1/persons", &invalid);
    assert_eq!(r.status, 422);
    let mut no_agency = lea("ML-075-13");
    no_agency.as_object_mut().unwrap().remove("agency");
    let r = s.post(Some(&counsellor), "/v1/persons", &no_agency);
    assert_eq!(
        (r.status, r.json["errors"][0]["field"].as_str()),
        (422, Some("agency"))
    );
    assert_eq!(
        s.post(Some(&counsellor), "/v1/persons", &lea("ML-075-13"))
            .status,
        201
    );
}

#[test]
fn made_up_methods_and_paths_are_counted_as_other() {
    let i = Install::new();
    let s = i.serve();
    for n in 0..20 {
        let m = reqwest::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        let r = s
            .client
            .request(m, format!("{}/v1/persons", s.base))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 405);
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let _ = s.get(None, &format!("/made-up/path-{n}"));
    }
    let m = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!m.contains("BREW") && !m.contains("made-up"), "{m}");
    assert!(
        m.contains(
            "rempart_http_requests_total{method=\"other\",route=\"/v1/persons\",status=\"405\"} 20"
        ),
        "{m}"
    );
    assert!(
        m.contains("rempart_http_requests_total{method=\"GET\",route=\"other\",status=\"404\"} 20"),
        "{m}"
    );
}

#[test]
fn a_malformed_query_path_or_body_is_a_401_without_a_token_and_a_problem_with_one() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve();
    let big = format!("{{\"agency\": \"{}\"}}", "A".repeat(1024 * 1024 + 1));
    let cases = [
        (
            "GET",
            "/v1/persons?purpose=accompaniment&purpose=payment",
            None,
            422,
            Some("query"),
        ),
        (
            "GET",
            "/v1/persons/abc?purpose=accompaniment&categories=a&categories=b",
            None,
            422,
            Some("query"),
        ),
        (
            "GET",
            "/v1/persons/%FF%FE?purpose=accompaniment",
            None,
            422,
            Some("path"),
        ),
        (
            "DELETE",
            "/v1/persons/x/enrolments/%C3%28",
            None,
            422,
            Some("path"),
        ),
        ("POST", "/v1/persons", Some(big.as_str()), 413, None),
    ];
    for (method, path, body, status, field) in cases {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for token in [None, Some(t.as_str())] {
            let mut req = s.client.request(m.clone(), format!("{}{path}", s.base));
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            // The server may answer a body it will not read (no token, too large) and close
            // while the client still sends it; the client then sees the connection reset
            // instead of the answer. Sent again, the answer arrives first.
            let mut tries = 0;
            let r = loop {
                tries += 1;
                match req.try_clone().unwrap().send() {
                    Ok(r) => break r,
                    Err(e) if body.is_some() && tries < 10 => {
                        eprintln!("{method} {path}: {e}; sending again");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    Err(e) => panic!("{method} {path}: {e}"),
                }
            };
            let got = r.status().as_u16();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            let v: serde_json::Value = r.json().unwrap();
            assert_eq!(ct, "application/problem+json", "{method} {path}");
            if token.is_none() {
                assert_eq!(got, 401, "{method} {path} without a token: {v}");
            } else {
                assert_eq!(got, status, "{method} {path}: {v}");
                assert_eq!(v["errors"][0]["field"].as_str(), field, "{v}");
            }
        }
    }
}

#[test]
fn every_response_says_nosniff_and_the_api_says_no_store() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let s = i.serve();
    let id = s.post(Some(&t), "/v1/persons", &lea("ML-075-13")).json["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (path, token, api) in [
        (
            format!("/v1/persons/{id}?purpose=accompaniment"),
            Some(&t),
            true,
        ),
        (
            "/v1/persons?purpose=accompaniment".to_string(),
            Some(&t),
            true,
        ),
        ("/v1/persons?purpose=accompaniment".to_string(), None, true),
        ("/v1/nothing".to_string(), None, true),
        ("/healthz".to_string(), None, false),
        ("/metrics".to_string(), None, false),
        ("/openapi.json".to_string(), None, false),
    ] {
        let mut req = s.client.get(format!("{}{path}", s.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        if api {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
    }
}

/// What a careless client puts where a file id goes (an email, a NIR, a megabyte of text) is a
/// 404 like a missing file, recorded without it; a body without a required field, or a query
/// with a parameter the route does not take, is refused rather than read as a default.
#[test]
fn careless_ids_bodies_and_queries_are_refused_and_never_recorded() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let dpo = i.token("d.dpo", "dpo", "ML-075-13");
    let s = i.serve();
    let id = s.post(Some(&t), "/v1/persons", &lea("ML-075-13")).json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let long = "z".repeat(20_000);
    let missing = s.get(
        Some(&t),
        "/v1/persons/00000000-0000-4000-8000-000000000000?purpose=accompaniment",
    );
    for careless in [
        "lea.martin%40example.fr",
        "2060475113042%2033",
        long.as_str(),
        &id.to_uppercase(),
    ] {
        let r = s.get(
            Some(&t),
            &format!("/v1/persons/{careless}?purpose=accompaniment"),
        );
        assert_eq!(r.status, 404);
        assert_eq!(r.json, missing.json);
        let r = s.get(Some(&dpo), &format!("/v1/persons/{careless}/accesses"));
        assert_eq!(r.status, 404);
    }
    let o = i.run(&["audit", "export"]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    let log = String::from_utf8(o.stdout).unwrap();
    for secret in [
        "lea.martin",
        "2060475113042",
        "zzzzzzzz",
        &id.to_uppercase(),
    ] {
        assert!(!log.contains(secret), "{secret} in the audit log");
    }
    assert!(
        log.lines().filter(|l| l.contains("\"denied\"")).count() >= 8,
        "the probes are recorded"
    );

    // `{}` does not unassign the file: the counsellor field is required (null unassigns).
    let r = s.put(
        Some(&t),
        &format!("/v1/persons/{id}/counsellor"),
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 422, "{}", r.json);
    assert_eq!(r.json["errors"][0]["field"], "body");
    let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"));
    assert_eq!(r.json["followup"]["counsellor"], "c.durand", "{}", r.json);

    // A parameter the route does not take (a misspelt `categories`) is a 422, not the whole
    // file.
    // Percent-encoding that is not UTF-8 is refused too, not read with replacement characters.
    for q in [
        "categories[]=identity",
        "category=identity",
        "x=1",
        "categories=identity%FF",
        "purpose=%FF%FE",
    ] {
        let r = s.get(
            Some(&t),
            &format!("/v1/persons/{id}?purpose=accompaniment&{q}"),
        );
        assert_eq!(r.status, 422, "{q}: {}", r.json);
        assert_eq!(r.json["errors"][0]["field"], "query");
    }
}
