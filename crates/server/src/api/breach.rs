//! Breach response after the impact (`/v1/incidents/{id}/…`): the art. 33 draft, the
//! notifications made to the authority, the notices to people (prepared by the DPO or an
//! operator, approved by the DPO), closing; and `POST /v1/affected`, where anyone asks whether
//! they were affected and the answer goes to their contact on file, never to the asker.

use super::params::public_id;
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
use rempart_vault::DeliveryReport;
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/incidents/{id}/draft", get(draft))
        .route("/v1/incidents/{id}/filings", post(filed))
        .route("/v1/incidents/{id}/close", post(close))
        .route("/v1/incidents/{id}/notices", get(notices).post(prepare))
        .route("/v1/incidents/{id}/notices/approve", post(approve))
}

fn incident_id(id: &str) -> Result<String, ApiError> {
    public_id(id, "inc_", "id", "an incident id")
}

/// The art. 33 draft: every element of art. 33(3) and of the CNIL's form, the 72-hour clock,
/// initial or complementary (see docs/incidents.md for its fields).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct DraftResponse(serde_json::Value);

/// `GET /v1/incidents/{id}/draft`: the draft of the incident's next notification to the
/// authority; recorded, and a step of the timeline.
#[utoipa::path(get, path = "/v1/incidents/{id}/draft", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), tag = "incidents",
    responses((status = 200, body = DraftResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn draft(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| incident_id(&id));
    let breach = s.breach.clone();
    let d = c
        .run(&s.vault, checked, move |v, p, id| {
            v.incident_draft(&p, &id, &breach.organisation)
        })
        .await?;
    Ok(Json(DraftResponse(d.json())))
}

/// Body of `POST /v1/incidents/{id}/filings`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Filing {
    /// When it was made, Unix seconds (default: now).
    at: Option<i64>,
    /// The authority's reference for it.
    #[serde(default)]
    #[schema(max_length = 500)]
    reference: String,
    /// Why it came after the 72 hours (required then).
    #[schema(max_length = 500)]
    late_reason: Option<String>,
}

/// A notification recorded.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Filed {
    /// 1: the initial notification; then complementary ones.
    phase: u32,
    /// Whether it came after the 72 hours.
    late: bool,
}

/// `POST /v1/incidents/{id}/filings`: records that the next notification was made to the
/// authority. DPO and operators.
#[utoipa::path(post, path = "/v1/incidents/{id}/filings", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), request_body = Filing, tag = "incidents",
    responses((status = 201, body = Filed), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn filed(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id
        .and_then(|id| incident_id(&id))
        .and_then(|id| Ok((id, json::<Filing>(&body?)?)));
    let f = c
        .run(&s.vault, checked, |v, p, (id, f)| {
            v.file_incident(&p, &id, f.at, &f.reference, f.late_reason.as_deref())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Filed {
            phase: f.phase,
            late: f.late,
        }),
    ))
}

/// Body of `POST /v1/incidents/{id}/close`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Close {
    /// Why (10 to 500 characters, one line).
    #[schema(min_length = 10, max_length = 500)]
    reason: String,
}

/// `POST /v1/incidents/{id}/close`: closes the incident. DPO and operators.
#[utoipa::path(post, path = "/v1/incidents/{id}/close", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), request_body = Close, tag = "incidents",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn close(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id
        .and_then(|id| incident_id(&id))
        .and_then(|id| Ok((id, json::<Close>(&body?)?)));
    c.run(&s.vault, checked, |v, p, (id, b)| {
        v.close_incident(&p, &id, &b.reason)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where an incident's notices stand.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NoticesResponse {
    /// Messages in the batch.
    total: u64,
    /// Waiting for the DPO's approval.
    awaiting_approval: u64,
    /// Approved, to be sent (or waiting for a retry).
    ready: u64,
    /// Accepted by the relay or the gateway.
    sent: u64,
    /// Claimed by a delivery that stopped before knowing the outcome.
    uncertain: u64,
    /// Given up.
    failed: u64,
    /// People with no address or phone on file (when just prepared).
    unreachable: u64,
}

impl From<DeliveryReport> for NoticesResponse {
    fn from(r: DeliveryReport) -> Self {
        NoticesResponse {
            total: r.total,
            awaiting_approval: r.awaiting,
            ready: r.ready,
            sent: r.sent,
            uncertain: r.uncertain,
            failed: r.failed,
            unreachable: r.unreachable,
        }
    }
}

/// Body of `POST /v1/incidents/{id}/notices`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prepare {
    /// `fr` (default) or `en`.
    #[schema(pattern = "^(fr|en)$")]
    language: Option<String>,
}

/// `POST /v1/incidents/{id}/notices`: fixes the incident's people and prepares one message per
/// reachable recipient, awaiting the DPO's approval. DPO and operators.
#[utoipa::path(post, path = "/v1/incidents/{id}/notices", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), request_body = Prepare, tag = "incidents",
    responses((status = 201, body = NoticesResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn prepare(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let default = s.breach.language;
    let checked = id.and_then(|id| incident_id(&id)).and_then(|id| {
        let b = json::<Prepare>(&body?)?;
        let lang = match b.language.as_deref() {
            None => default,
            Some(l) => rempart_incident::Language::parse(l)
                .ok_or_else(|| ApiError::field("language", "fr or en"))?,
        };
        Ok((id, lang))
    });
    let r = c
        .run(&s.vault, checked, |v, p, (id, lang)| {
            v.prepare_notices(&p, &id, lang)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(NoticesResponse::from(r))))
}

/// `POST /v1/incidents/{id}/notices/approve`: the DPO approves the batch; nothing leaves
/// before. The DPO only.
#[utoipa::path(post, path = "/v1/incidents/{id}/notices/approve", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), tag = "incidents",
    responses((status = 200, body = NoticesResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| incident_id(&id));
    let r = c
        .run(&s.vault, checked, |v, p, id| v.approve_notices(&p, &id))
        .await?;
    Ok(Json(NoticesResponse::from(r)))
}

/// `GET /v1/incidents/{id}/notices`: where the incident's notices stand.
#[utoipa::path(get, path = "/v1/incidents/{id}/notices", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), tag = "incidents",
    responses((status = 200, body = NoticesResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn notices(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| incident_id(&id));
    let r = c
        .run(&s.vault, checked, |v, p, id| v.notice_report(&p, &id))
        .await?;
    Ok(Json(NoticesResponse::from(r)))
}
