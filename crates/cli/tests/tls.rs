use crate::util::{stderr, Install};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate file, key file, the
/// certificate's DER).
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key, c.cert.der().to_vec())
}

/// A client that trusts only `der`.
fn client(der: &[u8]) -> ureq::Agent {
    let root = ureq::tls::Certificate::from_der(der).to_owned();
    ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into()
}

fn json(r: &mut ureq::http::Response<ureq::Body>) -> serde_json::Value {
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn https_with_a_self_signed_certificate_and_the_security_headers() {
    let i = Install::new();
    let t = i.token("c.durand", "counsellor", "ML-075-13");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "server");
    let s = i.serve_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let agent = client(&der);

    let mut r = agent.get(format!("{}/healthz", s.base)).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert!(r.body_mut().read_to_string().unwrap().contains("ok"));

    let body = serde_json::json!({
        "agency": "ML-075-13",
        "identity": {"last_name": "Martin", "first_names": "Léa", "birth_date": "2006-04-17"}
    });
    let mut r = agent
        .post(format!("{}/v1/persons", s.base))
        .header("authorization", &format!("Bearer {t}"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = json(&mut r)["id"].as_str().unwrap().to_string();
    let mut r = agent
        .get(format!("{}/v1/persons/{id}?purpose=accompaniment", s.base))
        .header("authorization", &format!("Bearer {t}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    let v = json(&mut r);
    assert_eq!(v["identity"]["last_name"], "Martin");

    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::blocking::Client::new()
        .get(format!("http://{}/healthz", s.addr()))
        .send();
    assert!(
        plain.map(|r| r.status().as_u16() != 200).unwrap_or(true),
        "plain HTTP answered"
    );
    // A client that does not trust the certificate does not get through.
    let (_, _, other) = self_signed(dir.path(), "other");
    assert!(client(&other)
        .get(format!("{}/healthz", s.base))
        .call()
        .is_err());
}

#[test]
fn missing_unreadable_or_invalid_certificate_and_key_files_are_named_without_their_content() {
    let i = Install::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path(), "server");
    let (_, other_key, _) = self_signed(dir.path(), "other");
    let missing = dir.path().join("missing.pem");
    let secret = "c2VjcmV0LWtleS1tYXRlcmlhbC1uZXZlci1wcmludGVk";
    let garbage = dir.path().join("garbage.key");
    std::fs::write(
        &garbage,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, secret).unwrap();
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_body: String = key_text.lines().nth(1).unwrap().to_string();

    let p = |p: &PathBuf| p.to_str().unwrap().to_string();
    for (c, k, expected) in [
        (
            p(&missing),
            p(&key),
            format!("cannot read the TLS certificate file {}", p(&missing)),
        ),
        (
            p(&cert),
            p(&missing),
            format!("cannot read the TLS key file {}", p(&missing)),
        ),
        (
            p(&not_pem),
            p(&key),
            format!(
                "the TLS certificate file {} holds no valid PEM certificate",
                p(&not_pem)
            ),
        ),
        (
            p(&cert),
            p(&garbage),
            format!(
                "the TLS key file {} holds no valid PEM private key",
                p(&garbage)
            ),
        ),
        (
            p(&cert),
            p(&not_pem),
            format!(
                "the TLS key file {} holds no valid PEM private key",
                p(&not_pem)
            ),
        ),
        (
            p(&cert),
            p(&other_key),
            "the TLS certificate and key cannot be used together".to_string(),
        ),
    ] {
        let o = i.run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &c,
            "--tls-key",
            &k,
        ]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{c} {k}");
        assert!(err.contains(&expected), "{err}");
        assert!(
            !err.contains(secret) && !err.contains(&key_body),
            "key material printed: {err}"
        );
    }
    let o = i.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", &p(&cert)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--tls-key"), "{}", stderr(&o));
}
