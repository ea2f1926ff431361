//! Authentication's security properties, at the vault: principals made only by two operators,
//! no guessing (the eleventh guess refused even when right), and tokens bound to their scopes,
//! networks and DPoP key.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rempart_crypto::Keyring;
use rempart_domain::{Agency, FranceTravailPattern, Role};
use rempart_store::{AccountStore, AlertStore, AuditLog, Reads};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{
    AccountState, FixedClock, GuessPolicy, Presented, Principal, RequestKind, TokenBounds, Vault,
    VaultError,
};
use sha2::Digest;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_790_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    vault: Vault,
    store: Arc<SqliteStore>,
    clock: Arc<FixedClock>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::at(NOW));
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let keys = Arc::new(SqliteKeyStore::open(dir.path()).unwrap());
    let vault = Vault::new(
        store.clone(),
        keys,
        Arc::new(Keyring::generate()),
        clock.clone(),
        FranceTravailPattern::default(),
        Arc::new(rempart_policy::Policies::default_policies().unwrap()),
    )
    .with_guesses(GuessPolicy {
        backoff_base: Duration::from_millis(1),
        ..GuessPolicy::default()
    });
    Fixture {
        _dir: dir,
        vault,
        store,
        clock,
    }
}

fn agency(a: &str) -> Agency {
    Agency::parse(a).unwrap()
}

fn console() -> Principal {
    Principal::local(agency("LOCAL"))
}

fn operator(name: &str) -> Principal {
    Principal::described(name, Role::Operator, agency("ML-1"))
}

#[test]
fn one_operator_alone_cannot_create_an_active_principal_nor_raise_a_role() {
    let f = fixture();
    let v = &f.vault;
    let ops = v
        .bootstrap_operators(&console(), &["op.a".into(), "op.b".into()], &agency("ML-1"))
        .unwrap();
    assert_eq!(ops.len(), 2);
    assert!(
        matches!(
            v.bootstrap_operators(&console(), &["op.c".into()], &agency("ML-1")),
            Err(VaultError::State(_))
        ),
        "bootstrap only on an installation without principals"
    );
    let a = operator("op.a");
    let b = operator("op.b");
    let alerts_before = f.store.alerts(None, 200).unwrap().len();

    let q = v
        .request_account(
            &a,
            RequestKind::Create,
            "c.new",
            Role::Counsellor,
            &agency("ML-1"),
        )
        .unwrap();
    assert!(
        f.store.account("c.new").unwrap().is_none(),
        "nothing until approved"
    );
    assert!(
        matches!(
            v.decide_account(&a, &q.id, true),
            Err(VaultError::Forbidden(_))
        ),
        "the one who asked does not approve"
    );
    let counsellor = Principal::described("c.other", Role::Counsellor, agency("ML-1"));
    assert!(matches!(
        v.decide_account(&counsellor, &q.id, true),
        Err(VaultError::Forbidden(_))
    ));
    let elsewhere = Principal::described("op.z", Role::Operator, agency("ML-2"));
    assert!(matches!(
        v.decide_account(&elsewhere, &q.id, true),
        Err(VaultError::NotFound)
    ));
    assert!(
        v.request_account(
            &b,
            RequestKind::Create,
            "c.new",
            Role::Counsellor,
            &agency("ML-1")
        )
        .is_err(),
        "one pending request per principal"
    );
    v.decide_account(&b, &q.id, true).unwrap();
    let made = v.account(&a, "c.new").unwrap();
    assert_eq!(
        made.state,
        AccountState::Probation,
        "a new principal starts on probation"
    );
    assert_eq!(
        (
            made.record.created_by.as_str(),
            made.record.approved_by.as_str()
        ),
        ("op.a", "op.b")
    );
    assert!(
        matches!(v.decide_account(&b, &q.id, true), Err(VaultError::State(_))),
        "decided once"
    );

    // Raising a role: nothing changes until a second operator approves.
    let raise = v
        .request_account(
            &a,
            RequestKind::Role,
            "c.new",
            Role::Operator,
            &agency("ML-1"),
        )
        .unwrap();
    assert_eq!(
        f.store.account("c.new").unwrap().unwrap().role,
        "counsellor"
    );
    assert!(matches!(
        v.decide_account(&a, &raise.id, true),
        Err(VaultError::Forbidden(_))
    ));
    // The principal itself cannot approve its own raise, even as an operator elsewhere.
    let itself = Principal::described("c.new", Role::Operator, agency("ML-1"));
    assert!(matches!(
        v.decide_account(&itself, &raise.id, true),
        Err(VaultError::Forbidden(_))
    ));
    // A principal still on probation approves nothing.
    f.clock.advance(60);
    let q2 = v
        .request_account(
            &a,
            RequestKind::Create,
            "c.third",
            Role::Counsellor,
            &agency("ML-1"),
        )
        .unwrap();
    v.decide_account(&b, &raise.id, true).unwrap();
    let raised = Principal::described("c.new", Role::Operator, agency("ML-1"));
    assert!(
        matches!(
            v.decide_account(&raised, &q2.id, true),
            Err(VaultError::Forbidden(_))
        ),
        "on probation"
    );
    assert_eq!(f.store.account("c.new").unwrap().unwrap().role, "operator");
    assert_eq!(
        v.account(&a, "c.new").unwrap().state,
        AccountState::Probation,
        "raised: probation again"
    );

    // The console is one operator too: what it asks, it does not approve.
    let q3 = v
        .request_account(
            &console(),
            RequestKind::Create,
            "c.console",
            Role::Counsellor,
            &agency("ML-1"),
        )
        .unwrap();
    assert!(matches!(
        v.decide_account(&console(), &q3.id, true),
        Err(VaultError::Forbidden(_))
    ));
    v.decide_account(&a, &q3.id, true).unwrap();

    // Every request and decision raised an alert, recorded closed (nothing is suspended).
    let alerts = f.store.alerts(None, 200).unwrap();
    assert_eq!(alerts.len() - alerts_before, 7);
    assert!(alerts.iter().all(|x| x.restored_at.is_some()));
    // A request refused leaves no principal; an expired one cannot be approved.
    let q4 = v
        .request_account(
            &a,
            RequestKind::Create,
            "c.late",
            Role::Counsellor,
            &agency("ML-1"),
        )
        .unwrap();
    f.clock.advance(rempart_vault::REQUEST_TTL_SECS);
    assert!(matches!(
        v.decide_account(&b, &q4.id, true),
        Err(VaultError::State(_))
    ));
    assert!(f.store.account("c.late").unwrap().is_none());
}

#[test]
fn an_account_row_written_without_the_key_does_not_authenticate_nor_approve() {
    let f = fixture();
    let v = &f.vault;
    v.bootstrap_operators(&console(), &["op.a".into()], &agency("ML-1"))
        .unwrap();
    let mut forged = f.store.account("op.a").unwrap().unwrap();
    forged.name = "mallory".into();
    forged.tag = Some(vec![0; 32]);
    let e = f.store.audit_len().unwrap();
    f.store
        .put_account(
            &forged,
            None,
            &rempart_audit::AuditEntry {
                time: NOW,
                principal: "x".into(),
                token_id: "-".into(),
                agency: "ML-1".into(),
                role: "operator".into(),
                action: rempart_audit::Action::PrincipalApprove,
                persons: vec![],
                categories: vec![],
                purpose: None,
                client: None,
                request_id: None,
                outcome: rempart_audit::Outcome::Allowed,
                detail: None,
            },
        )
        .unwrap();
    assert!(f.store.audit_len().unwrap() > e);
    assert_eq!(
        v.account(&operator("op.a"), "mallory").unwrap().state,
        AccountState::Invalid
    );
    let q = v
        .request_account(
            &operator("op.a"),
            RequestKind::Create,
            "c.x",
            Role::Counsellor,
            &agency("ML-1"),
        )
        .unwrap();
    let mallory = Principal::described("mallory", Role::Operator, agency("ML-1"));
    assert!(
        v.decide_account(&mallory, &q.id, true).is_err(),
        "a forged operator approves nothing"
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn from(token: &str, client: &str) -> Presented<'static> {
    let token: &'static str = Box::leak(token.to_string().into_boxed_str());
    Presented {
        client: Some(ip(client)),
        ..Presented::bearer(token)
    }
}

#[test]
fn the_eleventh_guess_is_refused_even_when_right() {
    let f = fixture();
    let v = &f.vault;
    let ml = agency("ML-1");
    let (tok, rec) = v
        .create_token(&console(), "c.durand", Role::Counsellor, &ml, 3600)
        .unwrap();
    let right = tok.reveal_once().to_string();
    assert!(v
        .authenticate_request(v.reads(), &from(&right, "192.0.2.1"))
        .is_ok());
    let before = f.store.audit_len().unwrap();
    let wrong = format!("rmp_{}.{}", rec.id, "A".repeat(43));
    for n in 1..=10 {
        let r = v.authenticate_request(v.reads(), &from(&wrong, "198.51.100.7"));
        if n < 10 {
            assert!(matches!(r, Err(VaultError::Unauthenticated)), "guess {n}");
        } else {
            assert!(
                matches!(r, Err(VaultError::Locked { .. })),
                "the tenth locks"
            );
        }
    }
    // The eleventh, right this time, from the same address: locked.
    assert!(matches!(
        v.authenticate_request(v.reads(), &from(&right, "198.51.100.7")),
        Err(VaultError::Locked { .. })
    ));
    // From anywhere else: the principal is suspended, with an alert.
    assert!(matches!(
        v.authenticate_request(v.reads(), &from(&right, "192.0.2.1")),
        Err(VaultError::Suspended)
    ));
    let alert = f
        .store
        .alerts(None, 10)
        .unwrap()
        .into_iter()
        .find(|a| a.trip == "lockout")
        .unwrap();
    assert_eq!(alert.principal, "c.durand");
    assert_eq!(
        v.auth_counts()
            .failures
            .load(std::sync::atomic::Ordering::Relaxed),
        11
    );
    // Each failure is in the log, without the secret presented.
    let mut failures = 0;
    let mut lockouts = 0;
    let mut entries = Vec::new();
    f.store
        .audit_visit(before, &mut |_, bytes, _| {
            entries.push(rempart_audit::AuditEntry::parse(bytes).unwrap());
            true
        })
        .unwrap();
    for e in entries {
        let detail = e.detail.clone().unwrap_or_default();
        assert!(!detail.contains(&"A".repeat(20)) && !detail.contains(&right[20..]));
        match e.action {
            rempart_audit::Action::AuthFailure => {
                failures += 1;
                assert!(
                    detail.contains("reason=wrong_secret") || detail.contains("reason=suspended"),
                    "{detail}"
                );
                assert!(e.client.is_some());
            }
            rempart_audit::Action::AuthLockout => lockouts += 1,
            _ => {}
        }
    }
    assert_eq!((failures, lockouts), (11, 1));
    // The lockout ends; the principal stays suspended until restored.
    f.clock.advance(901);
    assert!(matches!(
        v.authenticate_request(v.reads(), &from(&right, "198.51.100.7")),
        Err(VaultError::Suspended)
    ));
    v.restore_principal(
        &console(),
        "c.durand",
        "tokens checked with the agent, not theirs",
    )
    .unwrap();
    assert!(v
        .authenticate_request(v.reads(), &from(&right, "198.51.100.7"))
        .is_ok());
}

#[test]
fn a_token_s_scopes_and_networks_bind_it() {
    let f = fixture();
    let v = &f.vault;
    let ml = agency("ML-1");
    let bounds = TokenBounds::new(&["persons:read".into()], &["10.0.0.0/8".into()], None).unwrap();
    let (tok, _) = v
        .create_bounded_token(&console(), "sync", Role::Service, &ml, 3600, &bounds, true)
        .unwrap();
    let t = tok.reveal_once().to_string();
    assert!(v
        .authenticate_request(v.reads(), &from(&t, "10.1.2.3"))
        .is_ok());
    assert!(
        matches!(
            v.authenticate_request(v.reads(), &from(&t, "192.0.2.1")),
            Err(VaultError::Unauthenticated)
        ),
        "outside its networks"
    );
    let write = Presented {
        scope: "persons:write",
        ..from(&t, "10.1.2.3")
    };
    assert!(matches!(
        v.authenticate_request(v.reads(), &write),
        Err(VaultError::Forbidden(_))
    ));
    // People's tokens are not made once agents sign in at the identity provider.
    assert!(matches!(
        v.create_bounded_token(
            &console(),
            "c.x",
            Role::Counsellor,
            &ml,
            3600,
            &TokenBounds::default(),
            true
        ),
        Err(VaultError::Forbidden(_))
    ));
}

#[test]
fn a_token_rotates_with_an_overlap() {
    let f = fixture();
    let v = &f.vault;
    let (old, rec) = v
        .create_token(
            &console(),
            "sync",
            Role::Service,
            &agency("ML-1"),
            30 * 86_400,
        )
        .unwrap();
    let (new, _) = v
        .rotate_token(&console(), &rec.id, 30 * 86_400, 3600)
        .unwrap();
    assert!(
        v.authenticate(old.reveal_once()).is_ok(),
        "both work during the overlap"
    );
    assert!(v.authenticate(new.reveal_once()).is_ok());
    f.clock.advance(3600);
    assert!(
        v.authenticate(old.reveal_once()).is_err(),
        "the old one expires"
    );
    assert!(v.authenticate(new.reveal_once()).is_ok());
}

/// A client's key, and the DPoP proofs it signs.
struct Client {
    key: EncodingKey,
    jwk: Jwk,
}

impl Client {
    fn new() -> Client {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let sk = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = sk.to_pkcs8_der().unwrap();
        let key = EncodingKey::from_ed_der(der.as_bytes());
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": B64URL.encode(sk.verifying_key().as_bytes()),
        }))
        .unwrap();
        Client { key, jwk }
    }

    fn jkt(&self) -> String {
        rempart_oidc_jkt(&self.jwk)
    }

    fn proof(&self, method: &str, url: &str, token: &str, iat: i64) -> String {
        let mut h = Header::new(Algorithm::EdDSA);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(self.jwk.clone());
        let claims = serde_json::json!({
            "jti": uuid_like(),
            "htm": method,
            "htu": url,
            "iat": iat,
            "ath": B64URL.encode(sha2::Sha256::digest(token.as_bytes())),
        });
        jsonwebtoken::encode(&h, &claims, &self.key).unwrap()
    }
}

fn rempart_oidc_jkt(jwk: &Jwk) -> String {
    rempart_vault::rempart_oidc::jwk_thumbprint(jwk).unwrap()
}

fn uuid_like() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64URL.encode(b)
}

#[test]
fn a_stolen_dpop_bound_token_replayed_without_its_key_reads_nothing() {
    let f = fixture();
    let v = &f.vault;
    let client = Client::new();
    let bounds = TokenBounds::new(&[], &[], Some(&client.jkt())).unwrap();
    let (tok, _) = v
        .create_bounded_token(
            &console(),
            "sync",
            Role::Service,
            &agency("ML-1"),
            3600,
            &bounds,
            false,
        )
        .unwrap();
    let t = tok.reveal_once().to_string();
    let url = "https://rempart.example/v1/persons/x";
    let with = |proof: Option<String>, scheme: bool| {
        let proof: Option<&'static str> = proof.map(|p| &*Box::leak(p.into_boxed_str()));
        Presented {
            dpop_scheme: scheme,
            proof,
            url,
            ..from(&t, "192.0.2.1")
        }
    };
    let good = client.proof("GET", url, &t, NOW);
    assert!(v
        .authenticate_request(v.reads(), &with(Some(good.clone()), true))
        .is_ok());
    // The token alone, as a bearer token or without a proof.
    assert!(v
        .authenticate_request(v.reads(), &with(None, false))
        .is_err());
    assert!(v
        .authenticate_request(v.reads(), &with(None, true))
        .is_err());
    // A proof seen before (replayed as captured), for another URL or method, too old, or
    // signed by the thief's own key.
    assert!(
        v.authenticate_request(v.reads(), &with(Some(good), true))
            .is_err(),
        "a proof is used once"
    );
    let other_url = client.proof("GET", "https://rempart.example/v1/persons/y", &t, NOW);
    assert!(v
        .authenticate_request(v.reads(), &with(Some(other_url), true))
        .is_err());
    let other_method = client.proof("DELETE", url, &t, NOW);
    assert!(v
        .authenticate_request(v.reads(), &with(Some(other_method), true))
        .is_err());
    let old = client.proof("GET", url, &t, NOW - 3600);
    assert!(v
        .authenticate_request(v.reads(), &with(Some(old), true))
        .is_err());
    let thief = Client::new().proof("GET", url, &t, NOW);
    assert!(v
        .authenticate_request(v.reads(), &with(Some(thief), true))
        .is_err());
    let other_token = client.proof("GET", url, "rmp_tok_other.x", NOW);
    assert!(v
        .authenticate_request(v.reads(), &with(Some(other_token), true))
        .is_err());
    f.clock.advance(1);
    assert!(v
        .authenticate_request(
            v.reads(),
            &with(Some(client.proof("GET", url, &t, NOW + 1)), true)
        )
        .is_ok());
}

#[test]
fn a_disabled_principal_stays_refused_even_if_its_row_is_deleted_by_hand() {
    let f = fixture();
    let v = &f.vault;
    v.bootstrap_operators(&console(), &["op.a".into(), "op.b".into()], &agency("ML-1"))
        .unwrap();
    let q = v
        .request_account(
            &operator("op.a"),
            RequestKind::Create,
            "c.d",
            Role::Counsellor,
            &agency("ML-1"),
        )
        .unwrap();
    v.decide_account(&operator("op.b"), &q.id, true).unwrap();
    let (tok, _) = v
        .create_token(&console(), "c.d", Role::Counsellor, &agency("ML-1"), 3600)
        .unwrap();
    assert!(v.authenticate(tok.reveal_once()).is_ok());
    v.disable_account(&operator("op.a"), "c.d").unwrap();
    assert!(v.authenticate(tok.reveal_once()).is_err());
    rusqlite::Connection::open(f._dir.path().join(rempart_store_sqlite::VAULT_FILE))
        .unwrap()
        .execute("DELETE FROM accounts WHERE name = 'c.d'", [])
        .unwrap();
    assert!(matches!(
        v.authenticate(tok.reveal_once()),
        Err(VaultError::Suspended)
    ));
}

#[test]
fn an_operator_without_a_record_approves_nothing_and_a_session_is_not_rotated() {
    let f = fixture();
    let v = &f.vault;
    v.bootstrap_operators(&console(), &["op.a".into()], &agency("ML-1"))
        .unwrap();
    let q = v
        .request_account(
            &console(),
            RequestKind::Create,
            "evil",
            Role::Operator,
            &agency("ML-1"),
        )
        .unwrap();
    // A token made at the console for a name without a record is no operator of the lifecycle.
    assert!(matches!(
        v.decide_account(&operator("ghost"), &q.id, true),
        Err(VaultError::Forbidden(_))
    ));
    assert!(matches!(
        v.request_account(
            &operator("ghost"),
            RequestKind::Create,
            "evil.2",
            Role::Operator,
            &agency("ML-1")
        ),
        Err(VaultError::Forbidden(_))
    ));
    assert!(f.store.account("evil").unwrap().is_none());
    // A session (of an agent signed in) is not rotated into a long-lived token.
    let session = TokenBounds {
        session: true,
        ..TokenBounds::default()
    };
    let (_, rec) = v
        .create_bounded_token(
            &console(),
            "op.a",
            Role::Operator,
            &agency("ML-1"),
            3600,
            &session,
            false,
        )
        .unwrap();
    assert!(matches!(
        v.rotate_token(&console(), &rec.id, 90 * 86_400, 3600),
        Err(VaultError::Forbidden(_))
    ));
}
