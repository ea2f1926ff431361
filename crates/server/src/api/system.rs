//! What is not personal data: health, metrics and the API's own description.

use crate::AppState;
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

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn openapi_json() -> impl IntoResponse {
    Json(crate::openapi::document())
}
