//! Leaked files: an export run over HTTP by its recipient, written to CSV as a thief would,
//! then matched at the console: every row of the vault found, none other, and the export the
//! markers name.

use crate::util::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The body that creates a synthetic file in ML-1, in nobody's caseload.
fn body(f: &rempart_synth::SynthFile) -> Value {
    let mut b = json!({
        "agency": "ML-1",
        "identity": {"last_name": f.last_name, "first_names": f.first_names,
                     "birth_date": f.birth_date, "sex": f.sex, "nationality": "FR"},
        "nir": f.nir,
        "contact": {"email": f.email, "phones": [f.phone],
                    "address": {"line1": f.address_line1, "postal_code": f.postal_code, "city": f.city}},
        "education": {"level": f.education_level},
        "followup": {"registered_on": f.registered_on, "status": f.status},
    });
    if !f.france_travail_id.is_empty() {
        b["france_travail_id"] = json!(f.france_travail_id);
    }
    b
}

const HEADER: &str = "identity.last_name;identity.first_names;identity.birth_date;contact.email;contact.phones[0];contact.address.city;education.level";

/// One row of the leaked file from a file as exported (JSON).
fn row_of_export(v: &Value) -> String {
    [
        v["identity"]["last_name"].as_str().unwrap_or(""),
        v["identity"]["first_names"].as_str().unwrap_or(""),
        v["identity"]["birth_date"].as_str().unwrap_or(""),
        v["contact"]["email"].as_str().unwrap_or(""),
        v["contact"]["phones"][0].as_str().unwrap_or(""),
        v["contact"]["address"]["city"].as_str().unwrap_or(""),
        v["education"]["level"].as_str().unwrap_or(""),
    ]
    .join(";")
}

/// One row of the leaked file from a synthetic file (another source: national phone format,
/// French birth date).
fn row_of_synth(f: &rempart_synth::SynthFile) -> String {
    let d: Vec<&str> = f.birth_date.split('-').collect();
    [
        f.last_name.as_str(),
        &f.first_names,
        &format!("{}/{}/{}", d[2], d[1], d[0]),
        &f.email,
        &f.phone,
        &f.city,
        &f.education_level,
    ]
    .join(";")
}

fn leak_match(i: &Install, file: &std::path::Path) -> Value {
    let o = i.run(&["leak", "match", file.to_str().unwrap(), "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn lines(v: &Value) -> BTreeSet<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect()
}

embedded_only! {
    #[test]
    fn a_leaked_export_names_every_person_of_the_vault_none_other_and_its_recipient() {
        let i = Install::new();
        let s = i.serve();
        let app = i.token("case-app", "service", "ML-1");
        let inside = rempart_synth::generate(14, 1, 41);
        let ids: Vec<String> = inside
            .iter()
            .map(|f| {
                let r = s.post(Some(&app), "/v1/persons", &body(f));
                assert_eq!(r.status, 201, "{}", r.json);
                r.json["id"].as_str().unwrap().to_string()
            })
            .collect();
        // The first ten are enrolled with the partner, and exported to it.
        for id in &ids[..10] {
            let r = s.post(
                Some(&app),
                &format!("/v1/persons/{id}/enrolments"),
                &json!({"partner": "AFPA-75"}),
            );
            assert_eq!(r.status, 201, "{}", r.json);
        }
        let rssi = i.token("rssi", "operator", "ML-1");
        let afpa = i.token("afpa-sync", "partner", "AFPA-75");
        let r = s.post(
            Some(&rssi),
            "/v1/exports",
            &json!({"recipient": "AFPA-75", "purpose": "partner_service"}),
        );
        assert_eq!(r.status, 201, "{}", r.json);
        assert_eq!(r.json["state"], "ready");
        let export = r.json["id"].as_str().unwrap().to_string();
        let r = s.post(
            Some(&afpa),
            &format!("/v1/exports/{export}/run"),
            &json!({}),
        );
        assert_eq!(r.status, 200, "{}", r.json);
        let exported = r.json.as_array().unwrap().clone();
        drop(s);
        let markers: Vec<&Value> = exported
            .iter()
            .filter(|v| !ids.iter().any(|id| v["id"] == *id))
            .collect();
        assert_eq!(markers.len(), 2, "two markers ride with the export");
        assert_eq!(exported.len(), 12);

        // The thief's file: the export without its ids, two people of the vault from elsewhere,
        // and people who are not in the vault; semicolons and a byte-order mark.
        let outside = rempart_synth::generate(6, 1, 977);
        let mut rows: Vec<String> = exported.iter().map(row_of_export).collect();
        rows.extend(inside[10..12].iter().map(row_of_synth));
        rows.extend(outside.iter().map(row_of_synth));
        let leaked = i.data.with_file_name("leaked.csv");
        std::fs::write(
            &leaked,
            format!("\u{feff}{HEADER};remarque\n{}\n", rows.join("\n")),
        )
        .unwrap();
        // Line numbers (the header is line 1) and who each row is.
        let mut expected: BTreeMap<u64, String> = BTreeMap::new();
        let mut marker_lines = BTreeSet::new();
        for (n, v) in exported.iter().enumerate() {
            let line = n as u64 + 2;
            if let Some(id) = ids.iter().find(|id| v["id"] == **id) {
                expected.insert(line, id.clone());
            } else {
                marker_lines.insert(line);
            }
        }
        for (k, id) in ids[10..12].iter().enumerate() {
            expected.insert(exported.len() as u64 + 2 + k as u64, id.clone());
        }
        let first_outside = exported.len() as u64 + 4;
        let outside_lines: BTreeSet<u64> = (first_outside..first_outside + 6).collect();

        let m = leak_match(&i, &leaked);
        assert_eq!(m["rows_read"], 20, "{m}");
        let matched: BTreeMap<u64, String> = m["matched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(
                    r["categories"],
                    json!(["contact", "education", "identity"]),
                    "{r}"
                );
                (
                    r["line"].as_u64().unwrap(),
                    r["person"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(matched, expected, "every row of the vault, and who it is");
        assert_eq!(lines(&m["unmatched"]), outside_lines, "none other");
        assert!(lines(&m["ambiguous"]).is_empty() && lines(&m["unreadable"]).is_empty());
        let people: BTreeSet<&str> = m["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(people.len(), 12);
        assert!(markers
            .iter()
            .all(|mk| !people.contains(mk["id"].as_str().unwrap())));
        let hits: BTreeSet<u64> = m["markers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["line"].as_u64().unwrap())
            .collect();
        assert_eq!(hits, marker_lines);
        let exports = m["exports"].as_array().unwrap();
        assert_eq!(exports.len(), 1, "{m}");
        assert_eq!(exports[0]["id"], export.as_str());
        assert_eq!(exports[0]["recipient"], "AFPA-75");
        assert_eq!(exports[0]["agency"], "ML-1");
        assert_eq!(m["unrecognised_columns"], json!(["remarque"]));

        // The text report names the export and its recipient.
        let o = i.run(&["leak", "match", leaked.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("rows matched: 12"), "{text}");
        assert!(
            text.contains(&format!("{export}\tfrom ML-1\tto AFPA-75")),
            "{text}"
        );

        // A leaked file without the markers' rows names people and no export.
        let plain: Vec<String> = exported
            .iter()
            .filter(|v| ids.iter().any(|id| v["id"] == *id))
            .map(row_of_export)
            .collect();
        let plain_file = i.data.with_file_name("plain.csv");
        std::fs::write(
            &plain_file,
            format!(
                "{}\n{}\n",
                HEADER.replace(';', ","),
                plain.join("\n").replace(';', ",")
            ),
        )
        .unwrap();
        let m = leak_match(&i, &plain_file);
        assert_eq!(m["rows_matched"], 10, "{m}");
        assert_eq!(m["exports"], json!([]));
        assert_eq!(m["markers"], json!([]));

        // Nothing of the leaked file is kept: recorded with counts alone.
        let log = String::from_utf8(i.run(&["audit", "export"]).stdout).unwrap();
        assert_eq!(log.matches("\"leak_match\"").count(), 3, "{log}");
        assert!(log.contains("rows=20 matched=12 unmatched=6"), "{log}");
        for f in &outside {
            assert!(!log.contains(&f.email));
            for path in files_under(i.sqlite_dir()) {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes
                        .windows(f.email.len())
                        .any(|w| w == f.email.as_bytes()),
                    "{} holds a leaked value",
                    path.display()
                );
            }
        }
        // Bad input is named, never shown.
        let o = i.run(&["leak", "match", leaked.to_str().unwrap(), "--format", "xml"]);
        assert!(!o.status.success() && stderr(&o).contains("--format must be text or json"));
        let nothing = i.data.with_file_name("nothing.csv");
        std::fs::write(&nothing, format!("{}\n", row_of_synth(&outside[0]))).unwrap();
        let o = i.run(&["leak", "match", nothing.to_str().unwrap()]);
        assert!(!o.status.success(), "a file without a header");
        assert!(stderr(&o).contains("header") && !stderr(&o).contains(&outside[0].email));
    }
}
