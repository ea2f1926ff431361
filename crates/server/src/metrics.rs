//! Prometheus metrics: request counts and latency sums by method, route template and status.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// (method, route template, status).
type Key = (String, String, u16);

#[derive(Default)]
pub(crate) struct Metrics {
    /// Count and total seconds per key.
    requests: Mutex<BTreeMap<Key, (u64, f64)>>,
}

impl Metrics {
    pub(crate) fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut m = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let e = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
