//! Prometheus metrics: request counts and latency sums by method, route template and status.

use crate::AppState;
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::IntoResponse;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// (method, route template, status).
type Key = (&'static str, String, u16);

/// The label of a method or route outside the known ones.
pub(crate) const OTHER: &str = "other";

/// The label of a method: the standard ones by name, any other `other`.
pub(crate) fn method_label(m: &Method) -> &'static str {
    [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
    ]
    .into_iter()
    .find(|(k, _)| k == m)
    .map_or(OTHER, |(_, name)| name)
}

#[derive(Default)]
pub(crate) struct Metrics {
    /// Count and total seconds per key.
    requests: Mutex<BTreeMap<Key, (u64, f64)>>,
    /// Verifications of codes, by outcome.
    pub(crate) verify: crate::api::verify::VerifyCounts,
}

impl Metrics {
    pub(crate) fn record(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let mut m = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let e = m.entry((method, route.to_string(), status)).or_default();
        e.0 += 1;
        e.1 += elapsed.as_secs_f64();
    }
}

pub(crate) async fn render(State(s): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    out.push_str("# HELP rempart_http_requests_total HTTP requests by method, route and status.\n# TYPE rempart_http_requests_total counter\n");
    let snapshot = s
        .metrics
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for ((m, r, st), (n, _)) in &snapshot {
        let _ = writeln!(
            out,
            "rempart_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{st}\"}} {n}"
        );
    }
    out.push_str("# HELP rempart_http_request_seconds_sum Total time spent serving requests.\n# TYPE rempart_http_request_seconds_sum counter\n");
    for ((m, r, st), (_, secs)) in &snapshot {
        let _ = writeln!(out, "rempart_http_request_seconds_sum{{method=\"{m}\",route=\"{r}\",status=\"{st}\"}} {secs}");
    }
    let c = s.vault.containment_counts();
    out.push_str("# HELP rempart_containment_refusals_total Responses containment refused (429): a budget of distinct people would have been overrun.\n# TYPE rempart_containment_refusals_total counter\n");
    let _ = writeln!(out, "rempart_containment_refusals_total {}", c.refusals);
    out.push_str("# HELP rempart_containment_trips_total Principals containment suspended, by what tripped.\n# TYPE rempart_containment_trips_total counter\n");
    let _ = writeln!(
        out,
        "rempart_containment_trips_total{{trip=\"decoy\"}} {}",
        c.decoy_trips
    );
    let _ = writeln!(
        out,
        "rempart_containment_trips_total{{trip=\"refusals\"}} {}",
        c.refusal_trips
    );
    out.push_str("# HELP rempart_containment_suspensions_total Principals suspended by containment (every trip suspends).\n# TYPE rempart_containment_suspensions_total counter\n");
    let _ = writeln!(
        out,
        "rempart_containment_suspensions_total {}",
        c.decoy_trips + c.refusal_trips
    );
    let v = &s.metrics.verify;
    out.push_str("# HELP rempart_verifications_total Verification codes checked (POST /v1/verify, GET /verify), by result: genuine, not_genuine, malformed.\n# TYPE rempart_verifications_total counter\n");
    for (result, n) in [
        ("genuine", &v.genuine),
        ("not_genuine", &v.not_genuine),
        ("malformed", &v.malformed),
    ] {
        let _ = writeln!(
            out,
            "rempart_verifications_total{{result=\"{result}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    let a = s.vault.auth_counts();
    out.push_str("# HELP rempart_auth_failures_total Credentials refused (unknown, wrong secret, expired, revoked, outside their networks, a proof missing or wrong, an agent unknown or without a second factor).\n# TYPE rempart_auth_failures_total counter\n");
    let _ = writeln!(
        out,
        "rempart_auth_failures_total {}",
        a.failures.load(Relaxed)
    );
    out.push_str("# HELP rempart_auth_lockouts_total Client addresses locked and principals suspended after repeated failed credentials.\n# TYPE rempart_auth_lockouts_total counter\n");
    let _ = writeln!(
        out,
        "rempart_auth_lockouts_total {}",
        a.lockouts.load(Relaxed)
    );
    out.push_str("# HELP rempart_auth_locked_refusals_total Requests refused because their client address was locked.\n# TYPE rempart_auth_locked_refusals_total counter\n");
    let _ = writeln!(
        out,
        "rempart_auth_locked_refusals_total {}",
        a.locked_refusals.load(Relaxed)
    );
    out.push_str("# HELP rempart_rate_limit_refusals_total Attempts refused by a public endpoint's rate limit per client address (429).\n# TYPE rempart_rate_limit_refusals_total counter\n");
    let _ = writeln!(
        out,
        "rempart_rate_limit_refusals_total{{endpoint=\"verify\"}} {}",
        s.verify_limit.refused()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
