use crate::util::{files_under, rempart, run, run_for, stderr, Install};

#[test]
fn init_refuses_a_key_file_inside_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for key in [
        data.join("master.key"),
        data.join("sub").join("..").join("k"),
    ] {
        let o = run(&[
            "init",
            "--data",
            data.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(
            e.contains("inside the data directory") || e.contains("does not exist"),
            "{e}"
        );
        assert!(!data.exists(), "nothing is created");
    }
    // A relative path that resolves inside is refused too.
    std::fs::create_dir(&data).unwrap();
    let o = crate::util::rempart()
        .current_dir(&data)
        .args(["init", "--data", ".", "--key-file", "k"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("inside the data directory"),
        "{}",
        stderr(&o)
    );
    assert!(std::fs::read_dir(&data).unwrap().next().is_none());
}

embedded_only! {
    #[test]
    fn every_command_refuses_a_key_file_inside_the_data_directory() {
        use std::os::unix::fs::PermissionsExt;
        let i = Install::new();
        i.synth_import(3, 1, 1);
        let inside = i.sqlite_dir().join("master.key");
        std::fs::copy(&i.key, &inside).unwrap();
        std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A path outside that leads inside through a symbolic link is the same key file.
        let link = i.data.with_file_name("link.key");
        std::os::unix::fs::symlink(&inside, &link).unwrap();
        let before = std::fs::read(&inside).unwrap();
        let data = i.data.to_str().unwrap();
        let some_id = "00000000-0000-0000-0000-000000000000";
        let commands: [&[&str]; 13] = [
            &["serve", "--listen", "127.0.0.1:0"],
            &[
                "token",
                "create",
                "--principal",
                "x",
                "--role",
                "dpo",
                "--agency",
                "ML-1",
            ],
            &["import", "missing.csv"],
            &["keys", "rotate"],
            &["audit", "verify"],
            &["audit", "checkpoint"],
            &["audit", "public-key"],
            &["audit", "prove", "--seq", "1"],
            &["audit", "export"],
            &["audit", "reindex"],
            &[
                "policy",
                "check",
                "--principal",
                "c",
                "--role",
                "counsellor",
                "--agency",
                "ML-1",
                "--person",
                some_id,
            ],
            &["bench-no-audit", "--listen", "127.0.0.1:0"],
            &["bench-no-policy", "--listen", "127.0.0.1:0"],
        ];
        for key in [&inside, &link] {
            for command in commands {
                let mut args = command.to_vec();
                args.extend(["--data", data, "--key-file", key.to_str().unwrap()]);
                let o = run_for(&args, std::time::Duration::from_secs(30));
                assert!(
                    !o.status.success(),
                    "{command:?} accepted {}",
                    key.display()
                );
                assert!(
                    stderr(&o).contains("refusing a key file inside the data directory"),
                    "{command:?}: {}",
                    stderr(&o)
                );
            }
        }
        assert_eq!(std::fs::read(&inside).unwrap(), before, "nothing rotated");
        // The same key file outside is accepted.
        let o = i.run(&["audit", "public-key"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn init_puts_the_key_beside_the_data_0600_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let o = run(&["init", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = dir.path().join("store.key");
    assert!(
        stderr(&o).contains(key.to_str().unwrap()),
        "init says where the key went"
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(files_under(&data).iter().all(|p| !p.ends_with("store.key")));
    let before = std::fs::read(&key).unwrap();
    let o = run(&[
        "init",
        "--data",
        dir.path().join("other").to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let o = run(&["init", "--data", data.to_str().unwrap()]);
    assert!(
        !o.status.success(),
        "an existing data directory is not re-initialised"
    );
}

#[test]
fn commands_fail_with_one_line_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "import",
        "--data",
        dir.path().join("nope").to_str().unwrap(),
        "x.csv",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("run `rempart init"), "{}", stderr(&o));
    let o = run(&["serve", "--database", "postgres://localhost/x"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--keys-database"), "{}", stderr(&o));
    let i = Install::new();
    let o = i.run(&[
        "token",
        "create",
        "--principal",
        "x",
        "--role",
        "king",
        "--agency",
        "ML-1",
    ]);
    assert!(!o.status.success() && stderr(&o).contains("unknown role"));
    let o = i.run(&[
        "token",
        "create",
        "--principal",
        "x",
        "--role",
        "dpo",
        "--agency",
        "ML-1",
        "--expires=-3d",
    ]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn a_csv_with_a_bad_line_imports_nothing_and_names_line_and_column() {
    let i = Install::new();
    let csv = i.data.with_file_name("in.csv");
    let o = run(&[
        "synth",
        "--count",
        "30",
        "--agencies",
        "1",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Line 8 of the file: break its email column (8th column).
    let mut cells: Vec<String> = lines[7].split(',').map(String::from).collect();
    cells[7] = "broken-email".into();
    lines[7] = cells.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let o = i.run(&["import", csv.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("line 8, column email"), "{e}");
    assert!(e.contains("nothing was imported"), "{e}");
    assert!(!e.contains("broken-email"));
    let agency = rempart_synth::agency_codes(1)[0].clone();
    let t = i.token("c", "counsellor", &agency);
    let s = i.serve();
    assert_eq!(
        s.get(Some(&t), "/v1/persons?purpose=accompaniment").json["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn a_csv_without_its_header_line_is_refused_without_echoing_a_value() {
    let i = Install::new();
    let csv = i.data.with_file_name("no-header.csv");
    // An export that starts with the NIR and the email, its header line dropped.
    let row = "2060475113042 33,lea.martin@example.fr,Martin,Léa,2006-04-17,F,FR";
    std::fs::write(&csv, format!("{row}\n{row}\n")).unwrap();
    let o = i.run(&["import", "--agency", "ML-075-13", csv.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    for value in ["2060475113042", "lea.martin", "example.fr", "Martin", "Léa"] {
        assert!(!e.contains(value), "{value} echoed: {e}");
    }
    assert!(e.contains("column 1 of line 1"), "{e}");
    assert!(e.contains("must be the header"), "{e}");
}

#[test]
fn key_rotation_rewraps_every_key_and_files_still_read() {
    let i = Install::new();
    let files = i.synth_import(60, 1, 9);
    let o = i.run(&["keys", "rotate", "--batch", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("60 data keys re-wrapped under master key v2"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&["keys", "rotate", "--retire-old"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ring: serde_json::Value = serde_json::from_slice(&std::fs::read(&i.key).unwrap()).unwrap();
    assert_eq!(ring["current"], 3);
    assert_eq!(
        ring["masters"].as_object().unwrap().len(),
        1,
        "older versions retired"
    );
    let t = i.token("c", "counsellor", &files[0].agency);
    let s = i.serve();
    let r = s.post(
        Some(&t),
        "/v1/persons/search",
        &serde_json::json!({"purpose": "accompaniment", "email": files[0].email}),
    );
    let id = r.json[0]["id"].as_str().unwrap().to_string();
    let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json["identity"]["last_name"], files[0].last_name.as_str());
}

#[test]
fn a_passphrase_protected_key_file_needs_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let o = crate::util::rempart()
        .env("REMPART_PASSPHRASE", "correct horse battery staple")
        .args(["init", "--passphrase", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "token",
        "create",
        "--data",
        data.to_str().unwrap(),
        "--principal",
        "x",
        "--role",
        "dpo",
        "--agency",
        "ML-1",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("REMPART_PASSPHRASE"), "{}", stderr(&o));
    let o = crate::util::rempart()
        .env("REMPART_PASSPHRASE", "correct horse battery staple")
        .args([
            "token",
            "create",
            "--data",
            data.to_str().unwrap(),
            "--principal",
            "x",
            "--role",
            "dpo",
            "--agency",
            "ML-1",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

embedded_only! {
    #[test]
    fn audit_verify_passes_on_an_intact_log_and_names_a_hand_edited_entry() {
        let i = Install::new();
        let files = i.synth_import(20, 1, 3);
        let t = i.token("c", "counsellor", &files[0].agency);
        {
            let s = i.serve();
            let r = s.post(
                Some(&t),
                "/v1/persons/search",
                &serde_json::json!({"purpose": "accompaniment", "email": files[3].email}),
            );
            let id = r.json[0]["id"].as_str().unwrap().to_string();
            assert_eq!(
                s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"))
                    .status,
                200
            );
            let cp = s.get(Some(&t), "/v1/audit/checkpoint");
            assert_eq!(cp.status, 200);
            assert!(
                cp.json["size"].as_u64().unwrap() >= 2,
                "import and token creation are checkpointed: {:?}",
                cp.json
            );
        } // the server signs a last checkpoint on its way out
        let witness = i.data.with_file_name("data.witness");
        assert!(
            witness.exists(),
            "the witness sits beside the data directory"
        );
        let o = i.run(&["audit", "verify"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("audit log intact: 4 entries"),
            "{}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("0 entries after the last checkpoint"),
            "the server signs on its way out: {}",
            stderr(&o)
        );
        let key = String::from_utf8(i.run(&["audit", "public-key"]).stdout).unwrap();
        assert_eq!(key.trim().len(), 64);

        let db = rusqlite::Connection::open(i.sqlite_dir().join("audit.db")).unwrap();
        // The entry rewritten as the application would write a listing instead of a read.
        let stored: Vec<u8> = db
            .query_row("SELECT entry FROM audit_log WHERE seq = 4", [], |r| {
                r.get(0)
            })
            .unwrap();
        let mut e = rempart_audit::AuditEntry::parse(&stored).unwrap();
        assert_eq!(e.action, rempart_audit::Action::Read);
        e.action = rempart_audit::Action::List;
        db.execute(
            "UPDATE audit_log SET entry = ?1 WHERE seq = 4",
            [e.canonical()],
        )
        .unwrap();
        drop(db);
        let o = i.run(&["audit", "verify", "--public-key", key.trim()]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("entry 4 was edited"), "{}", stderr(&o));
        let other = "00".repeat(32);
        let o = i.run(&["audit", "verify", "--public-key", &other]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("invalid signature"), "{}", stderr(&o));
    }
}

embedded_only! {
    #[test]
    fn proofs_printed_by_the_cli_check_offline_and_over_http_only_for_operators() {
        let i = Install::new();
        i.synth_import(10, 1, 4);
        let agency = rempart_synth::agency_codes(1)[0].clone();
        let op = i.token("rssi", "operator", &agency);
        let c = i.token("c", "counsellor", &agency);
        let key = String::from_utf8(i.run(&["audit", "public-key"]).stdout)
            .unwrap()
            .trim()
            .to_string();
        let proof = i.data.with_file_name("proof.json");
        let o = i.run(&["audit", "prove", "--seq", "1"]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::write(&proof, &o.stdout).unwrap();
        let o = run(&[
            "audit",
            "check-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &key,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("proof valid: entry 1 is in the signed log"),
            "{}",
            stderr(&o)
        );
        let forged = String::from_utf8(std::fs::read(&proof).unwrap())
            .unwrap()
            .replace("import", "list");
        std::fs::write(&proof, forged).unwrap();
        let o = run(&[
            "audit",
            "check-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &key,
        ]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("proof invalid"), "{}", stderr(&o));

        let s = i.serve();
        assert_eq!(
            s.get(Some(&c), "/v1/audit/proof/inclusion?seq=1").status,
            403
        );
        let r = s.get(Some(&op), "/v1/audit/proof/inclusion?seq=1");
        assert_eq!(r.status, 200, "{:?}", r.json);
        // Times over HTTP are RFC 3339 with the Unix seconds beside them; the saved proof checks.
        let cp = &r.json["checkpoint"];
        let text = cp["time"].as_str().expect("an RFC 3339 time");
        let unix = cp["time_unix"].as_i64().expect("Unix seconds");
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp(),
            unix
        );
        assert!(r.json["entry"]["time"].as_str().unwrap().ends_with('Z'));
        std::fs::write(&proof, r.json.to_string()).unwrap();
        let o = run(&[
            "audit",
            "check-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &key,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let first = r.json["checkpoint"]["size"].as_u64().unwrap();
        assert_eq!(
            s.get(Some(&op), "/v1/audit/proof/inclusion?seq=abc").status,
            422
        );
        // Past the log: a 404 that says so, not "no such file".
        let r = s.get(Some(&op), "/v1/audit/proof/inclusion?seq=999999");
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json["detail"],
            "no such checkpoint or entry in the audit log"
        );
        drop(s);
        i.token("other", "dpo", &agency); // one more entry, and a checkpoint covering it
        let o = i.run(&["audit", "checkpoint"]);
        assert!(o.status.success());
        let cp: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let second = cp["size"].as_u64().unwrap();
        assert!(second > first);
        let o = i.run(&[
            "audit",
            "prove",
            "--first",
            &first.to_string(),
            "--second",
            &second.to_string(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::write(&proof, &o.stdout).unwrap();
        let o = run(&[
            "audit",
            "check-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &key,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("is a prefix of the log"),
            "{}",
            stderr(&o)
        );
        let out = i.data.with_file_name("audit.jsonl");
        let o = i.run(&[
            "audit",
            "export",
            "--since",
            "2000-01-01",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let lines = std::fs::read_to_string(&out).unwrap();
        let actions: Vec<String> = lines
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["entry"]["action"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        // The log up to the second checkpoint, then the proofs read since and this export.
        assert!(actions.len() as u64 > second);
        assert!(actions.iter().any(|a| a == "audit_proof"));
        assert_eq!(actions.last().map(String::as_str), Some("audit_export"));
        let pq = i.data.with_file_name("audit.parquet");
        let o = i.run(&[
            "audit",
            "export",
            "--format",
            "parquet",
            "--out",
            pq.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = std::fs::read(&pq).unwrap();
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        let o = i.run(&["audit", "export", "--format", "csv"]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("use jsonl or parquet"),
            "{}",
            stderr(&o)
        );
    }
}

/// A one-request HTTP server answering `status`; returns its URL and the request body.
fn http_witness(status: u16) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/witness/checkpoints", l.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        // Never hang the suite: no request within 30 s is a failure.
        l.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("the HTTP witness got no request: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut r = std::io::BufReader::new(s);
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let mut s = r.into_inner();
        write!(
            s,
            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        String::from_utf8(body).unwrap()
    });
    (url, t)
}

embedded_only! {
    #[test]
    fn checkpoints_go_to_the_witness_file_syslog_and_an_http_witness() {
        let i = Install::new();
        let agency = rempart_synth::agency_codes(1)[0].clone();
        let sock_path = i.data.with_file_name("syslog.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let (url, got) = http_witness(201);
        let o = i.run(&[
            "token",
            "create",
            "--principal",
            "a",
            "--role",
            "dpo",
            "--agency",
            &agency,
            "--witness-syslog",
            sock_path.to_str().unwrap(),
            "--witness-url",
            &url,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let file = std::fs::read_to_string(i.data.with_file_name("data.witness")).unwrap();
        let last: serde_json::Value = serde_json::from_str(file.lines().last().unwrap()).unwrap();
        let posted: serde_json::Value = serde_json::from_str(&got.join().unwrap()).unwrap();
        assert_eq!(
            posted, last,
            "the HTTP witness got the checkpoint of the file"
        );
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(msg.starts_with("<85>1 "), "{msg}");
        let json = &msg[msg.find('{').unwrap()..];
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(json).unwrap(),
            last
        );

        // A witness that refuses, or a syslog socket that is not there, fails the command.
        // (Each token creation adds an entry, so that there is a new checkpoint to send.)
        let (url, got) = http_witness(500);
        let mint = |extra: &[&str]| {
            let mut a = vec![
                "token",
                "create",
                "--principal",
                "b",
                "--role",
                "dpo",
                "--agency",
                &agency,
            ];
            a.extend_from_slice(extra);
            i.run(&a)
        };
        assert!(mint(&["--witness-syslog", "off"]).status.success());
        let o = mint(&["--witness-syslog", "off", "--witness-url", &url]);
        got.join().unwrap();
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("HTTP witness answered 500"),
            "{}",
            stderr(&o)
        );
        assert!(
            !stderr(&o).contains("/witness/checkpoints"),
            "{}",
            stderr(&o)
        );
        let missing = i.data.with_file_name("no-such.sock");
        let o = mint(&["--witness-syslog", missing.to_str().unwrap()]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("syslog"), "{}", stderr(&o));
        let o = i.run(&["audit", "checkpoint", "--witness-url", "ftp://x"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("http:// or https://"), "{}", stderr(&o));
    }
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_role_table_of_docs_policies_is_the_one_the_default_policies_give() {
    let o = run(&["policy", "table"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("| counsellor | file of their caseload |"),
        "{table}"
    );
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/policies.md"
    ))
    .unwrap();
    assert!(
        doc.contains(&table),
        "docs/policies.md's role table differs from `rempart policy table`; paste the command's output into docs/policies.md:\n{table}"
    );
    // `policy default` prints the file the table comes from, and it validates.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("default.cedar");
    std::fs::write(&f, stdout(&run(&["policy", "default"]))).unwrap();
    let o = run(&["policy", "validate", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("valid against the schema"));
    let o = run(&["policy", "table", "--policies", f.to_str().unwrap()]);
    assert_eq!(stdout(&o), table);
}

#[test]
fn a_bad_policy_file_stops_start_up_with_its_line_and_reason() {
    let i = Install::new();
    let f = i._dir.path().join("site.cedar");
    std::fs::write(
        &f,
        "// our rules\npermit (principal, action, resource)\nwhen { principal.grade == \"boss\" };\n",
    )
    .unwrap();
    let mut child = crate::util::rempart()
        .args(i.args(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policies",
            f.to_str().unwrap(),
        ]))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = None;
    for _ in 0..200 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let Some(status) = status else {
        child.kill().unwrap();
        panic!("the server started with an invalid policy file");
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("site.cedar:3:") && err.contains("grade"),
        "{err}"
    );
    let o = run(&["policy", "validate", f.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("site.cedar:3:"));
    let missing = i._dir.path().join("nowhere.cedar");
    let o = i.run(&[
        "policy",
        "check",
        "--policies",
        missing.to_str().unwrap(),
        "--principal",
        "x",
        "--role",
        "dpo",
        "--agency",
        "ML-1",
        "--person",
        "p",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere.cedar"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn policy_check_explains_which_policy_decided() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let id = {
        let s = i.serve();
        let r = s.post(
            Some(&t),
            "/v1/persons",
            &serde_json::json!({
                "agency": "ML-075-13",
                "identity": {"last_name": "Martin", "first_names": "Léa", "birth_date": "2006-04-17", "sex": "F"},
                "nir": "2060475113042 33",
                "followup": {"counsellor": "c.durand"}
            }),
        );
        assert_eq!(r.status, 201);
        r.json["id"].as_str().unwrap().to_string()
    };
    let check = |who: &[&str]| {
        let mut args = vec!["policy", "check", "--person", &id];
        args.extend_from_slice(who);
        let o = i.run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let out = check(&[
        "--principal",
        "c.durand",
        "--role",
        "counsellor",
        "--agency",
        "ML-075-13",
    ]);
    assert!(
        out.contains("counsellor c.durand") || out.contains("c.durand (counsellor"),
        "{out}"
    );
    let line = |name: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_string()
    };
    assert!(
        line("social_security").contains("DENY")
            && line("social_security")
                .contains("forbidden by nir-masked-except-payment-and-legal-obligation")
    );
    assert!(
        line("nir_last_digits").contains("ALLOW")
            && line("nir_last_digits").contains("counsellor-caseload")
    );
    assert!(
        line("identity").contains("permitted by counsellor-agency-directory, counsellor-caseload")
    );
    assert!(
        !out.contains("Martin") && !out.contains("2060475113042"),
        "no personal data: {out}"
    );
    let out = check(&[
        "--principal",
        "c.b",
        "--role",
        "counsellor",
        "--agency",
        "ML-093-01",
    ]);
    assert!(
        out.contains("refused by default") && !out.contains("ALLOW"),
        "{out}"
    );
    // Each explanation read the file's access facts, and is recorded as such.
    let o = i.run(&["audit", "export"]);
    let explained: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["entry"].take())
        .filter(|e| e["action"] == "explain")
        .collect();
    assert_eq!(explained.len(), 2, "{explained:?}");
    assert_eq!(explained[1]["persons"][0], id.as_str());
    assert_eq!(explained[1]["principal"], "cli");
    assert!(explained[1]["detail"]
        .as_str()
        .unwrap()
        .contains("principal=c.b role=counsellor agency=ML-093-01 act=read"));
    let out = check(&[
        "--principal",
        "c.durand",
        "--role",
        "counsellor",
        "--agency",
        "ML-075-13",
        "--action",
        "erase",
    ]);
    assert!(
        out.contains("(whole file)")
            && out.contains("ALLOW")
            && out.contains("counsellor-creates-and-files"),
        "{out}"
    );
    let o = i.run(&[
        "policy",
        "check",
        "--person",
        &id,
        "--principal",
        "x",
        "--role",
        "king",
        "--agency",
        "ML-1",
    ]);
    assert!(!o.status.success() && stderr(&o).contains("--role"));
}

embedded_only! {
    #[test]
    fn audit_verify_checks_the_log_against_a_checkpoint_kept_outside() {
        let i = Install::new();
        i.synth_import(5, 1, 3);
        let o = i.run(&["audit", "checkpoint"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let kept = i.data.with_file_name("kept-checkpoint.json");
        std::fs::write(&kept, &o.stdout).unwrap();
        let kept_arg = kept.to_str().unwrap();
        let o = i.run(&["audit", "verify", "--from-checkpoint", kept_arg]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("audit log intact"), "{}", stderr(&o));

        // The log cut back behind it, with its checkpoints and the witness: only the kept one tells.
        let db = rusqlite::Connection::open(i.sqlite_dir().join("audit.db")).unwrap();
        db.execute_batch("DELETE FROM audit_log WHERE seq > 0; DELETE FROM audit_checkpoints;")
            .unwrap();
        drop(db);
        std::fs::write(i.data.with_file_name("data.witness"), "").unwrap();
        let o = i.run(&["audit", "verify"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = i.run(&["audit", "verify", "--from-checkpoint", kept_arg]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("the checkpoint file holds a checkpoint of size"),
            "{}",
            stderr(&o)
        );

        std::fs::write(&kept, "not json").unwrap();
        let o = i.run(&["audit", "verify", "--from-checkpoint", kept_arg]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("is not a checkpoint"), "{}", stderr(&o));
        let o = i.run(&[
            "audit",
            "verify",
            "--from-checkpoint",
            "/nonexistent/cp.json",
        ]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("reading /nonexistent/cp.json"),
            "{}",
            stderr(&o)
        );
    }
}

embedded_only! {
    /// The witness deleted and the log cut back together with its checkpoints: what remains agrees
    /// with itself, so a missing witness must not count as an empty one.
    #[test]
    fn audit_verify_fails_when_the_witness_is_deleted_and_the_log_cut_back() {
        let i = Install::new();
        let files = i.synth_import(5, 1, 3);
        let cut = {
            let db = rusqlite::Connection::open(i.sqlite_dir().join("audit.db")).unwrap();
            db.query_row("SELECT MAX(size) FROM audit_checkpoints", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        };
        i.token("c", "counsellor", &files[0].agency);
        let o = i.run(&["audit", "checkpoint"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let db = rusqlite::Connection::open(i.sqlite_dir().join("audit.db")).unwrap();
        db.execute_batch(&format!(
            "DELETE FROM audit_log WHERE seq > {cut}; DELETE FROM audit_checkpoints WHERE size > {cut};"
        ))
        .unwrap();
        drop(db);
        let o = i.run(&["audit", "verify"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));

        let witness = i.data.with_file_name("data.witness");
        std::fs::remove_file(&witness).unwrap();
        let o = i.run(&["audit", "verify"]);
        assert!(!o.status.success(), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("audit log not verified"), "{e}");
        assert!(
            e.contains(&format!("the witness {} does not exist", witness.display())),
            "{e}"
        );
        assert!(e.contains("--no-witness"), "{e}");
        // Emptied rather than deleted: the same.
        std::fs::write(&witness, "").unwrap();
        let o = i.run(&["audit", "verify"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("holds no checkpoint"), "{}", stderr(&o));
        std::fs::remove_file(&witness).unwrap();

        // Said explicitly: verified against the database's checkpoints alone, and said so.
        let o = i.run(&["audit", "verify", "--no-witness"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("audit log intact"), "{e}");
        assert!(
            e.contains("the witness was NOT checked (--no-witness)"),
            "{e}"
        );
        assert!(!witness.exists(), "verify creates no witness");
    }
}

#[test]
fn serve_warns_when_the_witness_is_missing_while_the_log_has_checkpoints() {
    let i = Install::new();
    i.synth_import(3, 1, 3);
    let (s, before) = i.serve_logged();
    drop(s);
    assert!(!before.iter().any(|l| l.contains("witness")), "{before:?}");
    std::fs::remove_file(i.data.with_file_name("data.witness")).unwrap();
    let (s, before) = i.serve_logged();
    drop(s);
    let warning = before
        .iter()
        .find(|l| l.starts_with("rempart: warning: the witness file"))
        .unwrap_or_else(|| panic!("no warning in {before:?}"));
    assert!(warning.contains("is missing or empty"), "{warning}");
    assert!(
        before
            .iter()
            .any(|l| l.contains("WARN") && l.contains("audit witness file is missing")),
        "the log has it too: {before:?}"
    );
}

embedded_only! {
    #[test]
    fn audit_verify_finds_a_per_person_index_edited_by_hand_and_reindex_repairs_it() {
        let i = Install::new();
        i.synth_import(5, 1, 3);
        let o = i.run(&["audit", "reindex"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("entries indexed"), "{}", stderr(&o));
        // Recorded in the log, as the local administrator.
        let o = i.run(&["audit", "export"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let line = out
            .lines()
            .find(|l| l.contains("\"audit_reindex\""))
            .unwrap_or_else(|| panic!("no audit_reindex entry in {out}"));
        assert!(line.contains("\"principal\":\"cli\""), "{line}");
        let o = i.run(&["audit", "verify"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("per-person index matches the log"),
            "{}",
            stderr(&o)
        );
        let index = rusqlite::Connection::open(i.sqlite_dir().join("audit-index.db")).unwrap();
        let (person, seq): (String, i64) = index
            .query_row("SELECT person_id, seq FROM persons LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        index
            .execute(
                "DELETE FROM persons WHERE person_id = ?1 AND seq = ?2",
                rusqlite::params![person, seq],
            )
            .unwrap();
        drop(index);
        let o = i.run(&["audit", "verify"]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains(&format!("disagrees with the log at entry {seq}")),
            "{}",
            stderr(&o)
        );
        assert!(
            !stderr(&o).contains(&person),
            "no person id printed: {}",
            stderr(&o)
        );
        let o = i.run(&["audit", "reindex"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = i.run(&["audit", "verify"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn tokens_are_listed_revoked_and_principals_suspended_and_restored_from_the_command_line() {
    let i = Install::new();
    i.token("c.a", "counsellor", "ML-075-13");
    i.token("c.b", "counsellor", "ML-075-13");
    let list = |i: &Install| {
        let o = i.run(&["token", "list"]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let out = list(&i);
    assert!(
        out.starts_with("id\tprincipal\trole\tagency\tcreated\texpires\tstate\n"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.ends_with("\tactive")).count(),
        2,
        "{out}"
    );
    assert!(!out.contains("rmp_"), "a listing never shows a secret");
    let b_id = out
        .lines()
        .find(|l| l.contains("\tc.b\t"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    let o = i.run(&["token", "revoke", &b_id]);
    assert!(
        o.status.success() && stderr(&o).contains("revoked"),
        "{}",
        stderr(&o)
    );
    assert!(!i.run(&["token", "revoke", "tok_nope"]).status.success());
    let o = i.run(&["principal", "suspend", "c.a"]);
    assert!(
        o.status.success() && stderr(&o).contains("suspended"),
        "{}",
        stderr(&o)
    );
    let out = list(&i);
    assert!(
        out.lines()
            .any(|l| l.contains("\tc.a\t") && l.ends_with("\tsuspended")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("\tc.b\t") && l.ends_with("\trevoked")),
        "{out}"
    );
    let o = i.run(&[
        "token",
        "create",
        "--principal",
        "c.a",
        "--role",
        "counsellor",
        "--agency",
        "ML-075-13",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("suspended"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&["principal", "restore", "c.a", "--justification", "short"]);
    assert!(!o.status.success());
    let o = i.run(&[
        "principal",
        "restore",
        "c.a",
        "--justification",
        "account owner verified by phone",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(list(&i)
        .lines()
        .any(|l| l.contains("\tc.a\t") && l.ends_with("\tactive")));
    // The lifetime is capped by configuration.
    let o = i.run(&[
        "token",
        "create",
        "--principal",
        "c.c",
        "--role",
        "dpo",
        "--agency",
        "ML-075-13",
        "--expires",
        "120d",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("max-lifetime"),
        "{}",
        stderr(&o)
    );
    let o = i.run(&[
        "token",
        "create",
        "--principal",
        "c.c",
        "--role",
        "dpo",
        "--agency",
        "ML-075-13",
        "--expires",
        "120d",
        "--max-lifetime",
        "180d",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Each act is in the log.
    let o = i.run(&["audit", "export"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = String::from_utf8(o.stdout).unwrap();
    for action in ["token_revoke", "principal_suspend", "principal_restore"] {
        assert!(log.contains(&format!("\"{action}\"")), "{action}");
    }
}

/// README's first command: the demo starts, and the calls it prints answer as their comments
/// say (the listing, a read, another agency's 404, the partner's read).
#[test]
fn the_demo_starts_and_its_example_calls_answer_as_printed() {
    use std::io::{BufRead, BufReader};
    let mut child = rempart()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let ok = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("Listening on ") => break true,
            Some(Ok(l)) => printed.push(l),
            _ => break false,
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let status = child.try_wait().unwrap();
    assert!(ok, "the demo did not start ({status:?}): {printed:?}");
    let token = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("export T="))
        .unwrap()
        .to_string();
    let client = reqwest::blocking::Client::new();
    let mut checked = 0;
    for line in printed
        .iter()
        .filter(|l| l.trim().starts_with("curl -s -H \"Authorization"))
    {
        if line.contains(" -d ") || line.contains("X-Break-Glass") {
            continue;
        }
        let bearer = line
            .split("Bearer ")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let bearer = if bearer == "$T" {
            token.as_str()
        } else {
            bearer
        };
        let url = line.split('\'').nth(1).unwrap();
        let expected = if line.contains("# another agency: 404") {
            404
        } else {
            200
        };
        let r = client.get(url).bearer_auth(bearer).send().unwrap();
        assert_eq!(r.status().as_u16(), expected, "{line}");
        checked += 1;
    }
    assert!(checked >= 5, "{printed:?}");
    assert!(!printed.iter().any(|l| l.contains("/ID?")), "{printed:?}");
    // The containment example: the loop answers as its comment says, and the alert is there.
    let stolen = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("export S="))
        .expect("the stolen token")
        .to_string();
    let lp = printed
        .iter()
        .find(|l| l.trim().starts_with("for id in "))
        .expect("the containment loop");
    assert!(lp.contains("# 200 five times (a new token's budget outside its caseload), 429 twice, then 403: suspended"), "{lp}");
    let ids: Vec<&str> = lp
        .trim()
        .strip_prefix("for id in ")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(ids.len(), 10, "{lp}");
    let url = lp
        .split('"')
        .find(|p| p.contains("/v1/persons/$id"))
        .unwrap();
    let statuses: Vec<u16> = ids
        .iter()
        .map(|id| {
            client
                .get(url.replace("$id", id))
                .bearer_auth(&stolen)
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 429, 429, 403, 403, 403],
        "{lp}"
    );
    let alerts_line = printed
        .iter()
        .find(|l| l.contains("/v1/alerts'"))
        .expect("the alerts call");
    let operator = alerts_line
        .split("Bearer ")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let alerts: serde_json::Value = client
        .get(alerts_line.split('\'').nth(1).unwrap())
        .bearer_auth(operator)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(alerts[0]["people"].as_array().unwrap().len(), 5, "{alerts}");
    assert_eq!(alerts[0]["trip"], "refusals");

    // The breach: its console commands run as printed, in one shell.
    let start = printed
        .iter()
        .position(|l| l.starts_with("Breach response"))
        .expect("the breach section");
    let section: Vec<&str> = printed[start + 1..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.is_empty())
        .collect();
    let script: Vec<&str> = section
        .iter()
        .copied()
        .filter(|l| !l.starts_with("ls ") && !l.starts_with("curl "))
        .collect();
    assert_eq!(script.len(), 7, "{section:?}");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_rempart"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("sh")
        .args(["-e", "-c", &script.join("\n")])
        .env("PATH", path)
        .env_remove("REMPART_CONFIG")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("\"people\""), "the impact: {out}");
    assert!(out.contains("Notification initiale"), "the draft: {out}");
    assert!(out.contains("\"per_agency\""), "the impact: {out}");
    let impact_people = out.matches("\"id\":").count();
    assert_eq!(impact_people, 5, "exactly the five people read: {out}");
    let mailbox = section
        .iter()
        .find_map(|l| l.strip_prefix("ls "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let notices: Vec<String> = std::fs::read_dir(mailbox)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        notices.len() >= 5,
        "one notice per person read, and their representatives"
    );
    assert!(
        out.contains(&format!("{} sent", notices.len())),
        "the delivery: {out}"
    );
    let verify = section.iter().find(|l| l.starts_with("curl ")).unwrap();
    let url = verify
        .split_whitespace()
        .find(|w| w.ends_with("/v1/verify"))
        .unwrap();
    // Within the verification page's rate limit (10 a minute per address).
    for n in notices.iter().take(5) {
        // Quoted-printable: soft line breaks joined again.
        let text = n.replace("=\r\n", "").replace("=\n", "");
        let at = text.find("le code ").expect("a code") + "le code ".len();
        let code = &text[at..at + 14];
        let r: serde_json::Value = client
            .post(url)
            .json(&serde_json::json!({"code": code}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(r["genuine"], true, "{code}: {r}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_top_level_help_describes_the_product_and_where_to_start() {
    let o = run(&["--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "Missions locales",
        "audit log",
        "rempart serve --demo",
        "rempart init",
        "docs/operations.md",
        "serve",
        "token",
        "audit",
    ] {
        assert!(
            help.contains(expected),
            "--help lacks {expected:?}:\n{help}"
        );
    }
    // `-h` gives the short form: the first paragraph only.
    let short = String::from_utf8_lossy(&run(&["-h"]).stdout).to_string();
    assert!(short.contains("Missions locales") && !short.contains("docs/operations.md"));
}
