//! Agents sign in through a real OpenID Connect provider (npm `oidc-provider`, started from
//! `scripts/oidc-provider`): access tokens checked against its keys (rotation followed), the
//! second factor, the audience, expiry, claims mapped by the configuration only, a principal
//! that exists as a record, DPoP-bound tokens, and Rempart's own sign-in (a replayed callback or
//! code refused).

use crate::util::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const SECRET: &str = "rp-secret-for-the-test";
const AGENCY: &str = "ML-075-13";
const SIRET: &str = "00000000000001";

/// The provider, stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
    http: reqwest::blocking::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/oidc-provider")
}

impl Provider {
    fn start(redirect: &str, ttl: u32) -> Provider {
        let dir = peer_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the OIDC provider of these tests is not installed: run `npm ci --prefix scripts/oidc-provider` (Node.js 20.18 or later; .ci/run does it)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .args(["--port", "0", "--audience", "rempart"])
            .args(["--client", &format!("rp:{SECRET}:{redirect}")])
            .args(["--access-token-ttl", &ttl.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is needed for the OIDC provider of this test (Node.js 20.18 or later)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("the OIDC provider did not start: {line:?}"));
        Provider {
            child,
            issuer: v["issuer"].as_str().unwrap().to_string(),
            // A new connection per request: one the provider (Node, a few seconds of
            // keep-alive) closes just as it is reused would reset the request on a slow run.
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    fn profile(&self, p: Value) {
        let r = self
            .http
            .post(format!("{}/_test/profile", self.issuer))
            .json(&p)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }

    fn rotate(&self, keep_old: bool) -> String {
        let r: Value = self
            .http
            .post(format!("{}/_test/rotate", self.issuer))
            .json(&json!({ "keep_old": keep_old }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["kid"].as_str().unwrap().to_string()
    }

    /// Follows the redirects of an authorisation request (keeping the interaction's cookies)
    /// until the provider sends the agent back to `redirect`; returns that URL.
    fn authorise(&self, start: &str, redirect: &str) -> String {
        let mut url = start.to_string();
        let mut cookies: Vec<String> = Vec::new();
        for _ in 0..10 {
            if url.starts_with(redirect) {
                return url;
            }
            let r = self
                .http
                .get(&url)
                .header("cookie", cookies.join("; "))
                .send()
                .unwrap();
            for c in r.headers().get_all("set-cookie") {
                let c = c.to_str().unwrap();
                cookies.push(c.split(';').next().unwrap().to_string());
            }
            let loc = r
                .headers()
                .get("location")
                .unwrap_or_else(|| panic!("no redirect from {url}: {}", r.status()))
                .to_str()
                .unwrap()
                .to_string();
            url = if loc.starts_with('/') {
                format!("{}{loc}", self.issuer)
            } else {
                loc
            };
        }
        panic!("the provider did not send the agent back")
    }

    /// An access token for the current profile, through the code flow with PKCE; with `dpop`,
    /// bound to that key.
    fn access_token(&self, redirect: &str, dpop: Option<&DpopKey>) -> String {
        let verifier = B64URL.encode([7u8; 32]);
        let challenge = B64URL.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let start = format!(
            "{}/auth?response_type=code&client_id=rp&redirect_uri={}&scope=openid%20email%20profile&state={}&nonce={}&code_challenge={challenge}&code_challenge_method=S256",
            self.issuer,
            urlencode(redirect),
            "s".repeat(43),
            "n".repeat(43),
        );
        let back = self.authorise(&start, redirect);
        let code = query(&back, "code");
        let mut req = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth("rp", Some(SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ]);
        if let Some(k) = dpop {
            req = req.header(
                "dpop",
                k.proof("POST", &format!("{}/token", self.issuer), None),
            );
        }
        let r: Value = req.send().unwrap().json().unwrap();
        r["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {r}"))
            .to_string()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn query(url: &str, key: &str) -> String {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {url}"))
        .to_string()
}

/// A client's DPoP key (Ed25519).
pub(crate) struct DpopKey {
    key: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl DpopKey {
    pub(crate) fn new() -> DpopKey {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let sk = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        DpopKey {
            key: jsonwebtoken::EncodingKey::from_ed_der(sk.to_pkcs8_der().unwrap().as_bytes()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(sk.verifying_key().as_bytes())}),
        }
    }

    /// Its RFC 7638 thumbprint, as `token create --dpop-jkt` takes it.
    pub(crate) fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            self.jwk["x"].as_str().unwrap()
        );
        B64URL.encode(sha2::Sha256::digest(canonical.as_bytes()))
    }

    pub(crate) fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        let mut claims = json!({
            "jti": uuid_text(),
            "htm": method,
            "htu": url,
            "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        });
        if let Some(t) = token {
            claims["ath"] = json!(B64URL.encode(sha2::Sha256::digest(t.as_bytes())));
        }
        jsonwebtoken::encode(&h, &claims, &self.key).unwrap()
    }
}

fn uuid_text() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64URL.encode(b)
}

fn profile(email: &str, acr: Option<&str>, amr: &[&str], role: Option<&str>) -> Value {
    let mut claims =
        json!({"email": email, "given_name": "Agent", "usual_name": "Test", "siret": SIRET});
    if let Some(r) = role {
        claims["rempart_role"] = json!(r);
    }
    json!({
        "sub": format!("sub-{email}"),
        "acr": acr,
        "amr": if amr.is_empty() { Value::Null } else { json!(amr) },
        "claims": claims,
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(i: &Install, issuer: &str, port: u16, audience: &str) -> String {
    let path = i.data.with_file_name("oidc.toml");
    std::fs::write(
        &path,
        format!(
            r#"[guard]
office_hours = [0, 24]

[auth]
backoff_ms = 1
backoff_max_ms = 2
# This test fails on purpose many times from one address: counted over 2 s only, so that the
# address is not locked (the lockout has a test of its own).
failure_window = 2

[oidc]
issuer = "{issuer}"
audience = "{audience}"
client_id = "rp"
client_secret = "{SECRET}"
redirect_uri = "http://127.0.0.1:{port}/auth/callback"
principal_claim = "email"
agency_claim = "siret"
agencies = {{ "{SIRET}" = "{AGENCY}" }}
role_claim = "rempart_role"
roles = {{ "conseiller" = "counsellor", "admin" = "operator" }}
leeway = 0
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn serve(i: &Install, config: &str, port: u16) -> Server {
    let listen = format!("127.0.0.1:{port}");
    serve_command(rempart().args(i.args(&["--config", config, "serve", "--listen", &listen]))).0
}

fn get_with(s: &Server, token: &str, path: &str, scheme: &str, proof: Option<String>) -> u16 {
    let mut r = s
        .client
        .get(format!("{}{path}", s.base))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        r = r.header("dpop", p);
    }
    r.send().unwrap().status().as_u16()
}

#[test]
fn agents_sign_in_through_a_real_provider_with_a_second_factor() {
    let i = Install::new();
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/auth/callback");
    let idp = Provider::start(&redirect, 5);
    let cfg = config(&i, &idp.issuer, port, "rempart");

    // The first operators, then an agent asked for at the console and approved by one of them,
    // signed in through the provider.
    let o = i.run(&[
        "principal",
        "bootstrap",
        "--agency",
        AGENCY,
        "op.a@ml.fr",
        "op.b@ml.fr",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = i.run(&[
        "principal",
        "request",
        "create",
        "agent-1@ml-paris.fr",
        "--role",
        "counsellor",
        "--agency",
        AGENCY,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let request = String::from_utf8(o.stdout).unwrap().trim().to_string();
    // With an identity provider, no API token is made for people.
    let o = i.run(&[
        "--config",
        &cfg,
        "token",
        "create",
        "--principal",
        "c.x",
        "--role",
        "counsellor",
        "--agency",
        AGENCY,
    ]);
    assert!(
        !o.status.success(),
        "a person's API token was made beside the identity provider"
    );

    let s = serve(&i, &cfg, port);
    idp.profile(profile("op.b@ml.fr", Some("eidas2"), &["pwd", "otp"], None));
    let op_b = idp.access_token(&redirect, None);
    let r = s.post(
        Some(&op_b),
        &format!("/v1/principals/requests/{request}/approve"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.json);

    let me = "/v1/principals/agent-1@ml-paris.fr";
    idp.profile(profile(
        "agent-1@ml-paris.fr",
        Some("eidas2"),
        &[],
        Some("conseiller"),
    ));
    let t = idp.access_token(&redirect, None);
    let r = s.get(Some(&t), me);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["state"], "probation",
        "a new principal starts on probation"
    );

    // A second factor shown by amr alone.
    idp.profile(profile("agent-1@ml-paris.fr", None, &["pwd", "otp"], None));
    assert_eq!(
        s.get(Some(&idp.access_token(&redirect, None)), me).status,
        200
    );
    // No second factor: refused, saying so.
    idp.profile(profile(
        "agent-1@ml-paris.fr",
        Some("eidas1"),
        &["pwd"],
        None,
    ));
    let r = s.get(Some(&idp.access_token(&redirect, None)), me);
    assert_eq!(
        (
            r.status,
            r.json["type"]
                .as_str()
                .unwrap_or("")
                .ends_with("second-factor")
        ),
        (401, true),
        "{}",
        r.json
    );
    // A role the operator did not map, or one that is not the principal's.
    idp.profile(profile(
        "agent-1@ml-paris.fr",
        Some("eidas2"),
        &[],
        Some("directeur"),
    ));
    assert_eq!(
        s.get(Some(&idp.access_token(&redirect, None)), me).status,
        401
    );
    idp.profile(profile(
        "agent-1@ml-paris.fr",
        Some("eidas2"),
        &[],
        Some("admin"),
    ));
    assert_eq!(
        s.get(Some(&idp.access_token(&redirect, None)), me).status,
        401,
        "a mapped role that is not the principal's"
    );
    // Another subject of the provider claiming the agent's email: the principal is bound to
    // the subject of its first sign-in.
    let mut impostor = profile("agent-1@ml-paris.fr", Some("eidas2"), &[], None);
    impostor["sub"] = json!("someone-else");
    idp.profile(impostor);
    assert_eq!(
        s.get(Some(&idp.access_token(&redirect, None)), me).status,
        401,
        "another subject with the same email"
    );
    // An agent without a principal.
    idp.profile(profile("stranger@ml-paris.fr", Some("eidas3"), &[], None));
    assert_eq!(
        s.get(
            Some(&idp.access_token(&redirect, None)),
            "/v1/principals/stranger@ml-paris.fr"
        )
        .status,
        401
    );

    // The provider rotates its keys: the new key is fetched, and the old one is kept while
    // the provider publishes it.
    idp.profile(profile("agent-1@ml-paris.fr", Some("eidas2"), &[], None));
    let before = idp.access_token(&redirect, None);
    idp.rotate(true);
    // Rempart fetches the keys again at most once a second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let after = idp.access_token(&redirect, None);
    assert_ne!(header_kid(&before), header_kid(&after));
    let r = s.get(Some(&after), me);
    if r.status != 200 {
        let o = i.run(&["audit", "export", "--format", "jsonl"]);
        let log = String::from_utf8_lossy(&o.stdout).to_string();
        let last: Vec<&str> = log.lines().filter(|l| l.contains("auth_failure")).collect();
        panic!("rotation not followed: {:?}", last.last());
    }
    assert_eq!(s.get(Some(&before), me).status, 200);
    // Expired (5 s lifetime, no leeway).
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(s.get(Some(&after), me).status, 401, "expired");
    // A forged signature, and an ID-token-shaped token, are refused.
    let token = idp.access_token(&redirect, None);
    let at = token.rfind('.').unwrap() + 10;
    let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
    assert_eq!(s.get(Some(&forged), me).status, 401);

    // A DPoP-bound access token: without its key, it reads nothing.
    let key = DpopKey::new();
    let bound = idp.access_token(&redirect, Some(&key));
    let url = format!("{}{me}", s.base);
    assert_eq!(
        get_with(&s, &bound, me, "Bearer", None),
        401,
        "replayed as a bearer token"
    );
    assert_eq!(
        get_with(&s, &bound, me, "DPoP", None),
        401,
        "without a proof"
    );
    let thief = DpopKey::new();
    assert_eq!(
        get_with(
            &s,
            &bound,
            me,
            "DPoP",
            Some(thief.proof("GET", &url, Some(&bound)))
        ),
        401,
        "a proof by another key"
    );
    // A proof its client made for another server, sent here by a thief who names that server
    // in `Host`: the URL a proof must name is this server's address, never the `Host` header.
    let elsewhere = format!("http://other.example{me}");
    let status = s
        .client
        .get(format!("{}{me}", s.base))
        .header("host", "other.example")
        .header("authorization", format!("DPoP {bound}"))
        .header("dpop", key.proof("GET", &elsewhere, Some(&bound)))
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 401, "a proof for another server");
    let proof = key.proof("GET", &url, Some(&bound));
    assert_eq!(
        get_with(&s, &bound, me, "DPoP", Some(proof.clone())),
        200,
        "with its key"
    );
    assert_eq!(
        get_with(&s, &bound, me, "DPoP", Some(proof)),
        401,
        "a proof replayed"
    );

    // Rempart's own sign-in: the callback gives a session token, once.
    let no_redirect = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let begin = |c: &reqwest::blocking::Client| {
        let r = c.get(format!("{}/auth/login", s.base)).send().unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        let state = query(&to, "state");
        let nonce = query(&to, "nonce");
        assert!(
            state.len() >= 32 && nonce.len() >= 32,
            "state and nonce of at least 32 characters"
        );
        // The sign-in is bound to this browser by a cookie.
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        (to, cookie.split(';').next().unwrap().to_string())
    };
    let callback =
        |url: &str, cookie: &str| s.client.get(url).header("cookie", cookie).send().unwrap();
    // The failures above are counted over 2 s: let them age out before those below.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (first, first_cookie) = begin(&no_redirect);
    let (second, second_cookie) = begin(&no_redirect);
    // A callback brought by another browser (the code and state of a sign-in, without its
    // cookie) is refused, and spends the state.
    let (third, _) = begin(&no_redirect);
    let stolen = idp.authorise(&third, &redirect);
    assert_eq!(
        callback(&stolen, &second_cookie).status().as_u16(),
        401,
        "another browser's cookie"
    );
    let back = idp.authorise(&first, &redirect);
    let r = callback(&back, &first_cookie);
    assert_eq!(r.status().as_u16(), 200);
    let session: Value = r.json().unwrap();
    assert_eq!(session["principal"], "agent-1@ml-paris.fr");
    let st = session["token"].as_str().unwrap();
    assert_eq!(s.get(Some(st), me).status, 200, "the session token works");
    // The owner sees its sessions, and revokes one.
    let mine = s.get(Some(st), "/v1/sessions");
    assert_eq!(mine.status, 200);
    let id = session["session"].as_str().unwrap();
    assert!(mine
        .json
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id && t["state"] == "active"));
    let other = {
        let (to, cookie) = begin(&no_redirect);
        let back = idp.authorise(&to, &redirect);
        let v: Value = callback(&back, &cookie).json().unwrap();
        v
    };
    let other_token = other["token"].as_str().unwrap();
    let r = s
        .client
        .delete(format!(
            "{}/v1/sessions/{}",
            s.base,
            other["session"].as_str().unwrap()
        ))
        .bearer_auth(st)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        s.get(Some(other_token), me).status,
        401,
        "a revoked session"
    );
    assert_eq!(
        callback(&back, &first_cookie).status().as_u16(),
        401,
        "a callback replayed"
    );
    // The same code under the other sign-in's state: the provider refuses a code used before
    // (and this state's PKCE verifier is not the one the code was issued for).
    let code = query(&back, "code");
    let other_state = query(&second, "state");
    let replay = format!("{}/auth/callback?code={code}&state={other_state}", s.base);
    assert_eq!(
        callback(&replay, &second_cookie).status().as_u16(),
        401,
        "a code replayed"
    );
    // The failures are in the log; none of them holds a token.
    drop(s);
    let o = i.run(&["audit", "export", "--format", "jsonl"]);
    let log = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(log.contains("\"auth_failure\""));
    assert!(log.contains("no_second_factor") && log.contains("unknown_agent"));
    assert!(log.contains("\"sign_in\""));
    assert!(!log.contains(&bound[..40]) && !log.contains(&st[st.len() - 20..]));

    // The wrong audience: the same provider's tokens, at a Rempart that expects another.
    let cfg2 = config(&i, &idp.issuer, port, "another-service");
    let s = serve(&i, &cfg2, port);
    idp.profile(profile("agent-1@ml-paris.fr", Some("eidas2"), &[], None));
    assert_eq!(
        s.get(Some(&idp.access_token(&redirect, None)), me).status,
        401,
        "another audience"
    );
}

fn header_kid(jwt: &str) -> String {
    let h = B64URL.decode(jwt.split('.').next().unwrap()).unwrap();
    let v: Value = serde_json::from_slice(&h).unwrap();
    v["kid"].as_str().unwrap_or("").to_string()
}
