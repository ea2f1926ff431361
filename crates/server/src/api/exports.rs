//! Exports of an agency's files to a recipient organisation, and the second operator's
//! approval a large one needs (`/v1/exports…`).

use super::params::{public_id, purpose, rfc3339};
use super::persons::PersonResponse;
use super::Caller;
use crate::body::json;
use crate::extract::{RawBody, P};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rempart_vault::ExportRecord;
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/exports", post(request))
        .route("/v1/exports/{id}", get(show))
        .route("/v1/exports/{id}/approve", post(approve))
        .route("/v1/exports/{id}/run", post(run))
}

/// Body of `POST /v1/exports`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportRequest {
    /// The recipient organisation's code (a partner), e.g. `AFPA-75`.
    #[schema(pattern = r"^\s*[A-Za-z]{2,5}(-[A-Za-z0-9]{1,8}){0,4}\s*$")]
    recipient: String,
    /// Why the recipient reads the files (`partner_service`…).
    #[schema(schema_with = super::params::purpose_schema)]
    purpose: String,
}

/// An export.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExportResponse {
    /// Id (`exp_…`).
    id: String,
    /// The recipient organisation.
    recipient: String,
    /// The purpose.
    purpose: String,
    /// Who asked for it.
    requester: String,
    /// People it holds: the people of the agency enrolled with the recipient.
    people: u64,
    /// `awaiting_approval` (more people than the four-eyes threshold: a second operator or
    /// DPO of the agency approves it), `ready` (its recipient runs it, once) or `done`.
    state: String,
    /// The second operator who approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    /// When it was asked for, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<ExportRecord> for ExportResponse {
    fn from(x: ExportRecord) -> Self {
        ExportResponse {
            created_at: rfc3339(x.created_at),
            id: x.id,
            recipient: x.recipient,
            purpose: x.purpose,
            requester: x.requester,
            people: x.people,
            state: x.state,
            approver: x.approver,
        }
    }
}

/// An export id, checked before any lookup.
fn export_id(id: &str) -> Result<String, ApiError> {
    public_id(id, "exp_", "id", "an export id")
}

/// `POST /v1/exports`: asks for an export of the people of the caller's agency enrolled with
/// the recipient, each with the categories the recipient's own principals may read for the
/// purpose; `ready` at once, or `awaiting_approval` above the four-eyes threshold. Operators,
/// the DPO and services of the agency.
#[utoipa::path(post, path = "/v1/exports", request_body = ExportRequest, tag = "exports",
    responses((status = 201, body = ExportResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn request(
    State(s): State<AppState>,
    c: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = body.and_then(|b| {
        let r = json::<ExportRequest>(&b)?;
        let recipient = rempart_domain::Agency::parse(&r.recipient).map_err(|_| {
            ApiError::field(
                "recipient",
                "must be an organisation code of letters, digits and dashes",
            )
        })?;
        Ok((recipient, purpose(Some(&r.purpose))?))
    });
    let x = c
        .run(&s.vault, checked, |v, p, (recipient, purpose)| {
            v.request_export(&p, &recipient, purpose)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(ExportResponse::from(x))))
}

/// `GET /v1/exports/{id}`: an export of the caller's agency, or one for the caller's
/// organisation.
#[utoipa::path(get, path = "/v1/exports/{id}", params(("id" = String, Path, pattern = r"^exp_[0-9a-f]{16}$")), tag = "exports",
    responses((status = 200, body = ExportResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| export_id(&id));
    let x = c
        .run(&s.vault, checked, |v, p, id| v.export_record(&p, &id))
        .await?;
    Ok(Json(ExportResponse::from(x)))
}

/// `POST /v1/exports/{id}/approve`: a second operator or DPO of the agency, never the one who
/// asked, approves an export awaiting it. Recorded.
#[utoipa::path(post, path = "/v1/exports/{id}/approve", params(("id" = String, Path, pattern = r"^exp_[0-9a-f]{16}$")), tag = "exports",
    responses((status = 200, body = ExportResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| export_id(&id));
    let x = c
        .run(&s.vault, checked, |v, p, id| v.approve_export(&p, &id))
        .await?;
    Ok(Json(ExportResponse::from(x)))
}

/// `POST /v1/exports/{id}/run`: runs a ready export, once, within a day of its request, for
/// its recipient (a principal of the recipient organisation): the people it was asked for that
/// are still enrolled; the files leave once the `export` entry naming every person is durable.
#[utoipa::path(post, path = "/v1/exports/{id}/run", params(("id" = String, Path, pattern = r"^exp_[0-9a-f]{16}$")), tag = "exports",
    responses((status = 200, body = Vec<PersonResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn run(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| export_id(&id));
    let files = c
        .run(&s.vault, checked, |v, p, id| v.run_export(&p, &id))
        .await?
        .release()
        .await?;
    Ok(Json(
        files
            .into_iter()
            .map(PersonResponse::from)
            .collect::<Vec<_>>(),
    ))
}
