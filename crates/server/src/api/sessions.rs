//! Tokens and sessions, seen and revoked by their owner and by the operators of their agency
//! (`/v1/sessions…`). Never a secret nor a hash.

use super::params::{public_id, rfc3339};
use super::Caller;
use crate::extract::P;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use rempart_vault::TokenInfo;
use serde::Serialize;

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", get(list))
        .route("/v1/sessions/{id}", delete(revoke))
}

/// A token or session.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionResponse {
    /// Id (`tok_…`).
    id: String,
    /// Its principal.
    principal: String,
    /// Role.
    role: String,
    /// Agency.
    agency: String,
    /// When it was made, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it expires, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    expires_at: String,
    /// `active`, `expired`, `suspended`, `revoked` or `invalid`.
    state: String,
}

impl From<TokenInfo> for SessionResponse {
    fn from(t: TokenInfo) -> Self {
        SessionResponse {
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
            state: t.state.as_str().into(),
            id: t.id,
            principal: t.principal,
            role: t.role,
            agency: t.agency,
        }
    }
}

/// `GET /v1/sessions`: the caller's tokens and sessions; an operator's or the DPO's, every one
/// of its agency.
#[utoipa::path(get, path = "/v1/sessions", tag = "principals",
    responses((status = 200, body = Vec<SessionResponse>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    c: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let all = c
        .run(&s.vault, Ok(()), |v, p, ()| v.credentials(&p))
        .await?;
    Ok(Json(
        all.into_iter()
            .map(SessionResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// `DELETE /v1/sessions/{id}`: revokes one of them for good (recorded `token_revoke`).
#[utoipa::path(delete, path = "/v1/sessions/{id}", params(("id" = String, Path, pattern = r"^tok_[0-9a-f]{16}$")), tag = "principals",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| public_id(&id, "tok_", "id", "a token id"));
    c.run(&s.vault, checked, |v, p, id| v.revoke_credential(&p, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
