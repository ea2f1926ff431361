use crate::util::{files_under, Install};

embedded_only! {
    /// Imports 1,000 synthetic files, then searches every file of the data directory (database,
    /// WAL, key store) byte for byte for every name, email, phone, NIR and street of those files.
    #[test]
    fn a_thousand_imported_files_leave_no_plaintext_in_the_data_directory() {
        let i = Install::new();
        let files = i.synth_import(1000, 3, 77);
        // Exercise reads and an update too, so the WAL has seen more than inserts.
        // The counsellor who follows the first file.
        let t = i.token(&files[0].counsellor, "counsellor", &files[0].agency);
        {
            let s = i.serve();
            let r = s.post(
                Some(&t),
                "/v1/persons/search",
                &serde_json::json!({"purpose": "accompaniment", "email": files[0].email}),
            );
            let id = r.json[0]["id"].as_str().unwrap().to_string();
            assert_eq!(
                s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"))
                    .status,
                200
            );
            let r = s.patch(
                Some(&t),
                &format!("/v1/persons/{id}"),
                &serde_json::json!({"situation": {"housing": "foyer de jeunes travailleurs"}}),
            );
            assert_eq!(r.status, 200);
        }
        let mut needles: Vec<String> = Vec::new();
        for f in &files {
            for name in [&f.last_name, &f.first_names] {
                // Short names are looked for as they would be serialised (quoted): a bare 3-byte
                // needle would match random ciphertext by chance.
                needles.push(format!("\"{name}\""));
                if name.len() >= 6 {
                    needles.push(name.clone());
                }
            }
            needles.push(f.email.clone());
            needles.push(f.email.to_lowercase());
            needles.push(f.phone.clone());
            needles.push(format!("+33{}", &f.phone.replace(" ", "")[1..]));
            needles.push(f.nir.clone());
            needles.push(f.nir.replace(' ', ""));
            needles.push(f.address_line1.clone());
            if !f.france_travail_id.is_empty() {
                needles.push(f.france_travail_id.clone());
            }
        }
        needles.push("foyer de jeunes travailleurs".into());
        needles.sort();
        needles.dedup();
        let files_on_disk = files_under(i.sqlite_dir());
        let names: Vec<String> = files_on_disk
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            ["vault.db", "audit.db", "keys.db"]
                .iter()
                .all(|n| names.contains(&n.to_string())),
            "{names:?}"
        );
        let matcher = aho_corasick::AhoCorasick::new(&needles).unwrap();
        // The matcher does find a plaintext value when one is there.
        assert!(matcher
            .find(format!("\x00{}\x00", files[500].nir.replace(' ', "")).as_bytes())
            .is_some());
        let mut scanned = 0usize;
        for path in &files_on_disk {
            let bytes = std::fs::read(path).unwrap();
            scanned += bytes.len();
            if let Some(m) = matcher.find(&bytes) {
                panic!(
                    "plaintext found in {} at byte {} (needle #{})",
                    path.display(),
                    m.start(),
                    m.pattern().as_usize()
                );
            }
        }
        assert!(
            scanned > 500_000,
            "the scan covered the stored data ({scanned} bytes)"
        );
        assert!(needles.len() > 5000);
        // The key file is not in the data directory.
        assert!(!i.key.starts_with(&i.data));
    }
}
