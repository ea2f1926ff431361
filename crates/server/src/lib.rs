//! Rempart's HTTP API (docs/api.md): the only crate that knows HTTP and JSON bodies.
//!
//! [`router`] builds the axum application over a [`rempart_vault::Vault`]; [`serve`] runs it
//! on a listener until shutdown. Every vault call runs on the blocking pool. Errors are
//! `application/problem+json`; a file of another agency is a 404 exactly like a missing one.
//! Logs carry the method, the route template, the status and the latency — never a body, a
//! token or a query value.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod api;
mod auth;
mod body;
mod breach;
mod extract;
mod limit;
mod metrics;
mod openapi;
mod problem;
mod serve;

pub use auth::SignIn;
pub use body::parse_json;
pub use breach::Breach;
pub use limit::{Decision, Limiter, RateLimit};
pub use problem::{ApiError, Problem, ERRORS_REPORTED, PROBLEM_BASE};
pub use serve::{tls_config, ServeOptions, TlsError};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use rempart_vault::Vault;
use std::sync::Arc;
use std::time::Instant;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    vault: Arc<Vault>,
    metrics: Arc<metrics::Metrics>,
    /// One permit per request being answered ([`ServeOptions::max_in_flight`]).
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Time a request body may take to arrive whole ([`ServeOptions::idle_timeout`]).
    body_timeout: std::time::Duration,
    /// Served over TLS: responses say so (`Strict-Transport-Security`).
    tls: bool,
    /// Breach response: the organisation, templates and channels ([`ServeOptions::breach`]).
    breach: Arc<Breach>,
    /// Attempts at verifying a code, per client address ([`ServeOptions::verify`]).
    verify_limit: Arc<Limiter>,
    /// Questions "was I affected?", per client address ([`ServeOptions::affected`]).
    affected_limit: Arc<Limiter>,
    /// The contacts answered today.
    answered: Arc<api::affected::Answered>,
    /// The server's address as clients reach it ([`ServeOptions::public_url`]).
    public_url: Option<Arc<str>>,
    /// Rempart's own sign-in at the identity provider ([`ServeOptions::sign_in`]).
    sign_in: Option<Arc<SignIn>>,
    /// Reverse proxies whose `X-Forwarded-For` is believed ([`ServeOptions::trusted_proxies`]).
    trusted_proxies: Arc<Vec<std::net::IpAddr>>,
}

/// Largest accepted body (a file with many events stays far below).
const BODY_LIMIT: usize = 1024 * 1024;

/// Threads of the blocking pool, where vault calls run: twice the cores, at least 4.
///
/// Fewer threads means fewer reader connections in turn, each used again sooner. Every audit
/// commit changes the database, and a connection whose next transaction finds it changed
/// starts from an empty page cache (and, memory-mapped, remaps the file): a connection used
/// again within a few commits often finds nothing changed. The blocking pool also runs the
/// writes, which wait for their fsync, and a file's reads do not wait on any I/O.
pub fn blocking_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
        .max(4)
}

/// The application, with the default [`ServeOptions`].
pub fn router(vault: Arc<Vault>) -> Router {
    router_with(vault, &ServeOptions::default())
}

/// The application, with the request limits of `options` (in-flight cap, body timeout,
/// `Strict-Transport-Security` under TLS).
pub fn router_with(vault: Arc<Vault>, options: &ServeOptions) -> Router {
    let state = AppState {
        vault,
        metrics: Arc::new(metrics::Metrics::default()),
        in_flight: Arc::new(tokio::sync::Semaphore::new(options.max_in_flight.max(1))),
        body_timeout: options.idle_timeout,
        tls: options.tls.is_some(),
        breach: options.breach.clone(),
        verify_limit: Arc::new(Limiter::new(options.verify)),
        affected_limit: Arc::new(Limiter::new(options.affected)),
        answered: Arc::default(),
        public_url: options
            .public_url
            .as_deref()
            .map(|u| Arc::from(u.trim_end_matches('/'))),
        sign_in: options.sign_in.clone(),
        trusted_proxies: Arc::new(options.trusted_proxies.clone()),
    };
    api::router()
        .merge(auth::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_in_flight,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::Vault(rempart_vault::VaultError::NotFound)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Records each request by method, route template and status. Only the standard methods and
/// the application's routes name a label: any other method, and any path no route matches,
/// is `other`, so that made-up methods and paths cannot grow the metrics or the logs.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = metrics::method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| metrics::OTHER.into());
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    s.metrics
        .record(method, &route, resp.status().as_u16(), elapsed);
    tracing::info!(method = %method, route = %route, status = resp.status().as_u16(), micros = elapsed.as_micros() as u64, "request");
    resp
}

/// At most [`ServeOptions::max_in_flight`] requests are answered at once; the next get a `503`
/// with `Retry-After` at once rather than queueing.
async fn limit_in_flight(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.in_flight.clone().try_acquire_owned() {
        Ok(permit) => {
            let resp = next.run(req).await;
            drop(permit);
            resp
        }
        Err(_) => ApiError::Busy.into_response(),
    }
}

/// Headers of every response: `X-Content-Type-Options: nosniff`; `Cache-Control: no-store` on
/// the API (`/v1/…`, where personal data is answered); `Strict-Transport-Security` under TLS.
async fn security_headers(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = path == "/v1" || path.starts_with("/v1/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if s.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// Serves the application on `listener` with the default [`ServeOptions`] until `shutdown`
/// completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    vault: Arc<Vault>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, vault, ServeOptions::default(), shutdown).await
}

/// Serves the application on `listener` until `shutdown` completes, with the connection
/// limits, timeouts and TLS of `options`; then lets the requests under way finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    vault: Arc<Vault>,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router_with(vault, &options);
    serve::run(listener, app, options, shutdown).await
}
