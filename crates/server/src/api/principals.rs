//! Principals as records, for operators (`/v1/principals…`): listing them, asking to create one,
//! raise its role or move it, approving or refusing such a request (a second operator: never
//! the one who asked), and disabling one at once.

use super::params::rfc3339;
use super::Caller;
use crate::body::json;
use crate::extract::{RawBody, P, Q};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rempart_domain::{Agency, Role};
use rempart_vault::{AccountInfo, AccountRequest, RequestKind};
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/principals", get(list))
        .route("/v1/principals/requests", get(requests).post(request))
        .route("/v1/principals/requests/{id}/approve", post(approve))
        .route("/v1/principals/requests/{id}/refuse", post(refuse))
        .route("/v1/principals/{name}", get(show))
        .route("/v1/principals/{name}/disable", post(disable))
}

/// A principal as a record.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PrincipalResponse {
    /// Its name.
    name: String,
    /// Its agency.
    agency: String,
    /// Its role.
    role: String,
    /// `active`, `probation` (created, raised or moved lately: containment's probation
    /// budgets), `suspended`, `disabled`, or `invalid` (its row does not verify).
    state: String,
    /// Who asked for it.
    created_by: String,
    /// Who approved its current role and agency.
    approved_by: String,
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    approved_at: String,
}

impl From<AccountInfo> for PrincipalResponse {
    fn from(a: AccountInfo) -> Self {
        let r = a.record;
        PrincipalResponse {
            state: a.state.as_str().into(),
            approved_at: rfc3339(r.approved_at),
            name: r.name,
            agency: r.agency,
            role: r.role,
            created_by: r.created_by,
            approved_by: r.approved_by,
        }
    }
}

/// A request to create, raise or move a principal.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RequestResponse {
    /// Id (`req_…`).
    id: String,
    /// `create`, `role` or `move`.
    kind: String,
    /// The principal.
    name: String,
    /// Its role once approved.
    role: String,
    /// Its agency once approved.
    agency: String,
    /// Who asked.
    requested_by: String,
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    requested_at: String,
    /// `pending`, `approved` or `refused`.
    state: String,
    /// Who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    decided_by: Option<String>,
}

impl From<AccountRequest> for RequestResponse {
    fn from(q: AccountRequest) -> Self {
        RequestResponse {
            state: match q.approved {
                Some(true) => "approved",
                Some(false) => "refused",
                None => "pending",
            }
            .into(),
            requested_at: rfc3339(q.requested_at),
            id: q.id,
            kind: q.kind,
            name: q.name,
            role: q.role,
            agency: q.agency,
            requested_by: q.requested_by,
            decided_by: q.decided_by,
        }
    }
}

/// Body of `POST /v1/principals/requests`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRequest {
    /// `create`, `role` or `move`.
    kind: String,
    /// The principal's name: 1 to 64 letters, digits, `.`, `-`, `_` or `@`.
    name: String,
    /// Its role once approved.
    role: String,
    /// Its agency once approved.
    agency: String,
}

/// Query of the request list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestsQuery {
    /// `true`: only the requests awaiting a decision.
    #[param(value_type = Option<bool>)]
    pending: Option<String>,
}

fn request_id(id: &str) -> Result<String, ApiError> {
    super::params::public_id(id, "req_", "id", "a request id")
}

fn name(raw: &str) -> Result<String, ApiError> {
    rempart_vault::principal_name(raw).map_err(|e| ApiError::field("name", e.to_string()))
}

/// `GET /v1/principals`: the principals of the caller's agency; operators and the DPO.
#[utoipa::path(get, path = "/v1/principals", tag = "principals",
    responses((status = 200, body = Vec<PrincipalResponse>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    c: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let all = c.run(&s.vault, Ok(()), |v, p, ()| v.accounts(&p)).await?;
    Ok(Json(
        all.into_iter()
            .map(PrincipalResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// `GET /v1/principals/{name}`: one principal of the caller's agency, or the caller itself.
#[utoipa::path(get, path = "/v1/principals/{name}", params(("name" = String, Path)), tag = "principals",
    responses((status = 200, body = PrincipalResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    c: Caller,
    P(n): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = n.and_then(|n| name(&n));
    let a = c
        .run(&s.vault, checked, |v, p, n| v.account(&p, &n))
        .await?;
    Ok(Json(PrincipalResponse::from(a)))
}

/// `GET /v1/principals/requests`: requests concerning the caller's agency, newest first;
/// operators and the DPO.
#[utoipa::path(get, path = "/v1/principals/requests", params(RequestsQuery), tag = "principals",
    responses((status = 200, body = Vec<RequestResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn requests(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<RequestsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = q.and_then(|q| match q.pending.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::field("pending", "must be true or false")),
    });
    let all = c
        .run(&s.vault, checked, |v, p, pending| {
            v.account_requests(&p, pending)
        })
        .await?;
    Ok(Json(
        all.into_iter()
            .map(RequestResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// `POST /v1/principals/requests`: asks to create a principal, give it another role, or move it
/// to another agency. Nothing changes until a second operator approves. Operators of the agency
/// concerned only; recorded, with an alert.
#[utoipa::path(post, path = "/v1/principals/requests", request_body = NewRequest, tag = "principals",
    responses((status = 201, body = RequestResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn request(
    State(s): State<AppState>,
    c: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = body.and_then(|b| {
        let r = json::<NewRequest>(&b)?;
        let kind = RequestKind::parse(&r.kind)
            .ok_or_else(|| ApiError::field("kind", "must be create, role or move"))?;
        let role = Role::parse(&r.role).ok_or_else(|| {
            ApiError::field(
                "role",
                "must be counsellor, partner, operator, dpo or service",
            )
        })?;
        let agency = Agency::parse(&r.agency)
            .map_err(|_| ApiError::field("agency", "must be an agency code"))?;
        Ok((kind, name(&r.name)?, role, agency))
    });
    let q = c
        .run(&s.vault, checked, |v, p, (kind, n, role, agency)| {
            v.request_account(&p, kind, &n, role, &agency)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(RequestResponse::from(q))))
}

async fn decide(
    s: AppState,
    c: Caller,
    id: Result<String, ApiError>,
    approve: bool,
) -> Result<Json<RequestResponse>, ApiError> {
    let checked = id.and_then(|id| request_id(&id));
    let q = c
        .run(&s.vault, checked, move |v, p, id| {
            v.decide_account(&p, &id, approve)
        })
        .await?;
    Ok(Json(RequestResponse::from(q)))
}

/// `POST /v1/principals/requests/{id}/approve`: a second operator approves: never the one who
/// asked, nor the principal itself, nor an operator on probation; an operator of the agency
/// the principal goes to. The principal starts on containment's probation. Recorded, with an
/// alert.
#[utoipa::path(post, path = "/v1/principals/requests/{id}/approve", params(("id" = String, Path, pattern = r"^req_[0-9a-f]{16}$")), tag = "principals",
    responses((status = 200, body = RequestResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    decide(s, c, id, true).await
}

/// `POST /v1/principals/requests/{id}/refuse`: refuses (or, by the one who asked, withdraws) a
/// request. Recorded, with an alert.
#[utoipa::path(post, path = "/v1/principals/requests/{id}/refuse", params(("id" = String, Path, pattern = r"^req_[0-9a-f]{16}$")), tag = "principals",
    responses((status = 200, body = RequestResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn refuse(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    decide(s, c, id, false).await
}

/// `POST /v1/principals/{name}/disable`: disables a principal of the caller's agency at once:
/// it authenticates no more, whatever its credential. Operators; recorded.
#[utoipa::path(post, path = "/v1/principals/{name}/disable", params(("name" = String, Path)), tag = "principals",
    responses((status = 200, body = PrincipalResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn disable(
    State(s): State<AppState>,
    c: Caller,
    P(n): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = n.and_then(|n| name(&n));
    let a = c
        .run(&s.vault, checked, |v, p, n| {
            v.disable_account(&p, &n)?;
            v.account(&p, &n)
        })
        .await?;
    Ok(Json(PrincipalResponse::from(a)))
}
