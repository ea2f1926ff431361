//! The HTTP half of authentication: the relying party's sign-in (`GET /auth/login`, then the
//! identity provider sends the agent back to `GET /auth/callback`), which ends with a session
//! token of the principal's role and agency. The checks of every request's credential are in
//! the vault ([`rempart_vault::Vault::authenticate_request`]), asked by
//! [`crate::api::Caller`].

use crate::api::ClientIp;
use crate::problem::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rempart_vault::rempart_oidc::rp::{self, Client, Pending};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sign-in begun: what checks its answer, when, and the SHA-256 of its browser's cookie.
type Begun = (Pending, Instant, [u8; 32]);

/// The cookie binding a sign-in to the browser that began it.
const COOKIE: &str = "rempart_signin";

/// The value of the sign-in cookie a request brings, if any.
fn binder(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(COOKIE)?
                .strip_prefix('=')
                .map(String::from)
        })
}

/// How long a sign-in may take between `/auth/login` and the callback.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Sign-ins begun and not finished, at most (past it, the oldest are dropped).
const PENDING_MAX: usize = 10_000;

/// Rempart as a client of the identity provider, for its own sign-in. `Debug` shows the
/// client's id alone.
pub struct SignIn {
    /// The client.
    pub client: Client,
    /// How long a session lasts (s).
    pub session_secs: i64,
    /// Sign-ins begun, by `state`: what checks the answer, when it began, and the SHA-256 of
    /// the cookie that binds it to the browser that began it.
    pending: Mutex<HashMap<String, Begun>>,
    limit: crate::Limiter,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignIn({})", self.client.id)
    }
}

impl SignIn {
    /// Sign-in as `client`, sessions lasting `session_secs`.
    pub fn new(client: Client, session_secs: i64) -> SignIn {
        SignIn {
            client,
            session_secs,
            pending: Mutex::new(HashMap::new()),
            limit: crate::Limiter::new(crate::RateLimit {
                per_minute: 10,
                per_day: 200,
                ..crate::RateLimit::default()
            }),
        }
    }

    fn keep(&self, p: Pending, binder: &str) {
        if let Ok(mut m) = self.pending.lock() {
            m.retain(|_, (_, at, _)| at.elapsed() < PENDING_TTL);
            if m.len() >= PENDING_MAX {
                if let Some(oldest) = m
                    .iter()
                    .min_by_key(|(_, (_, at, _))| *at)
                    .map(|(k, _)| k.clone())
                {
                    m.remove(&oldest);
                }
            }
            let h: [u8; 32] = Sha256::digest(binder.as_bytes()).into();
            m.insert(p.state.clone(), (p, Instant::now(), h));
        }
    }

    /// The sign-in `state` names, once, if the browser presents the cookie it was given: a
    /// state seen before, unknown, too old, or brought by another browser is refused (and
    /// spent).
    fn take(&self, state: &str, binder: Option<&str>) -> Option<Pending> {
        let mut m = self.pending.lock().ok()?;
        let (p, at, h) = m.remove(state)?;
        let presented: [u8; 32] = Sha256::digest(binder?.as_bytes()).into();
        (at.elapsed() < PENDING_TTL && presented == h).then_some(p)
    }
}

/// The routes of sign-in.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
}

fn configured(s: &AppState) -> Result<&SignIn, ApiError> {
    s.sign_in
        .as_deref()
        .filter(|_| s.vault.oidc().is_some())
        .ok_or(ApiError::NotConfigured(
            "no identity provider is configured for sign-in ([oidc] client_id, client_secret, redirect_uri)",
        ))
}

/// `GET /auth/login`: sends the agent to the identity provider (authorisation code with PKCE,
/// `state` and `nonce` of 43 characters).
pub(crate) async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
) -> Result<Response, ApiError> {
    let sign_in = configured(&s)?;
    // Sign-ins begun are kept until they come back: a client address begins a few at a time.
    if let crate::Decision::Refuse { retry_after } = sign_in.limit.check(ip) {
        return Err(ApiError::RateLimited { retry_after });
    }
    let oidc = s
        .vault
        .oidc()
        .ok_or(ApiError::NotConfigured("no identity provider"))?;
    let (url, pending) = rp::begin(&oidc.jwks, &sign_in.client);
    // The sign-in is bound to this browser: the callback must bring this cookie back.
    let binder = rp::random_text();
    sign_in.keep(pending, &binder);
    let mut r = StatusCode::SEE_OTHER.into_response();
    let cookie = format!(
        "{COOKIE}={binder}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={}{}",
        PENDING_TTL.as_secs(),
        if s.tls { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    let location = HeaderValue::from_str(&url).map_err(|_| {
        ApiError::NotConfigured("the identity provider's authorisation endpoint is not a valid URL")
    })?;
    r.headers_mut().insert(header::LOCATION, location);
    Ok(r)
}

/// What the identity provider sends back.
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A session, shown once.
#[derive(Serialize)]
pub(crate) struct Session {
    /// The principal signed in.
    principal: String,
    /// Its role.
    role: String,
    /// Its agency.
    agency: String,
    /// The session's id (`tok_…`), to list and revoke it.
    session: String,
    /// The session token, for `Authorization: Bearer`; shown once, only its hash is kept.
    token: String,
    /// When it expires, Unix seconds.
    expires_at: i64,
}

/// `GET /auth/callback`: the code exchanged (with the PKCE verifier and the client's secret),
/// the ID token checked (signature, issuer, audience, expiry, `nonce`), the agent admitted as
/// an access token would be (a principal that exists as a record, the second factor its role
/// needs), and a session token returned once. A `state` is used once, and only by the browser
/// holding its cookie: a replayed callback is refused, and so is a code the provider saw before.
pub(crate) async fn callback(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let sign_in = configured(&s)?;
    // The counts may be shared by the nodes (a database or Redis call): off the runtime.
    let v = s.vault.clone();
    let locked = tokio::task::spawn_blocking(move || v.locked_for(ip))
        .await
        .map_err(|_| ApiError::Join)?;
    if let Some(retry_after) = locked {
        return Err(ApiError::Vault(rempart_vault::VaultError::Locked {
            retry_after,
        }));
    }
    if q.error.is_some() {
        return Err(ApiError::Vault(rempart_vault::VaultError::Unauthenticated));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(ApiError::field(
            "code",
            "the identity provider's answer needs code and state",
        ));
    };
    let pending = sign_in.take(&state, binder(&headers).as_deref());
    let vault = s.vault.clone();
    let client = sign_in.client.clone();
    let ttl = sign_in.session_secs;
    let out = tokio::task::spawn_blocking(move || {
        // A state unknown, used or too old is a failed credential, counted and recorded.
        let pending = pending.ok_or_else(|| {
            ApiError::Vault(vault.refuse_sign_in(Some(ip), "state_unknown_or_used"))
        })?;
        let oidc = vault
            .oidc()
            .cloned()
            .ok_or(ApiError::NotConfigured("no identity provider"))?;
        let now = chrono::Utc::now().timestamp();
        let signed = rp::finish(&oidc.jwks, &client, &pending, &code, oidc.rules.leeway, now)
            .map_err(|e| {
                tracing::warn!(error = %e, "a sign-in was refused");
                ApiError::Vault(vault.refuse_sign_in(Some(ip), "code_or_id_token"))
            })?;
        let (token, rec) = vault.sign_in(&signed.agent, Some(ip), ttl)?;
        Ok::<_, ApiError>(Session {
            principal: rec.principal,
            role: rec.role,
            agency: rec.agency,
            session: rec.id,
            token: token.reveal_once().to_string(),
            expires_at: rec.expires_at,
        })
    })
    .await
    .map_err(|_| ApiError::Join)??;
    let mut r = Json(out).into_response();
    // The session token is shown once: kept by no cache.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
