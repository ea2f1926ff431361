//! What is not personal data: health, metrics and the API's own description.

use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::render))
        .route("/openapi.json", get(openapi_json))
}

/// Liveness, and where containment keeps its counts: `"degraded"` while its shared counts
/// cannot be reached (responses with personal data are refused meanwhile). Still a `200`: the
/// node answers, and taking it out of a load balancer would not bring Redis back.
async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let vault = s.vault.clone();
    let guard = tokio::task::spawn_blocking(move || vault.containment_state())
        .await
        .unwrap_or(rempart_vault::ContainmentState::Unreachable);
    let status = if guard == rempart_vault::ContainmentState::Unreachable {
        "degraded"
    } else {
        "ok"
    };
    Json(serde_json::json!({"status": status, "guard": guard.as_str()}))
}

async fn openapi_json() -> impl IntoResponse {
    Json(crate::openapi::document())
}
