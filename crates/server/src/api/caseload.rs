//! Who follows a person: the caller's listing, the assigned counsellor, the enrolments with
//! partners (`GET /v1/persons`, `/v1/persons/{id}/counsellor`, `/v1/persons/{id}/enrolments`).

use super::params::{bounded, purpose};
use super::search::Hit;
use super::Caller;
use crate::body::json;
use crate::extract::{RawBody, P, Q};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use rempart_vault::{Page, VaultError};
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/persons", get(list))
        .route("/v1/persons/{id}/counsellor", put(assign))
        .route("/v1/persons/{id}/enrolments", post(enrol))
        .route("/v1/persons/{id}/enrolments/{partner}", delete(unenrol))
}

/// Query of the caseload listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Why the data is read (required).
    #[param(required = true, schema_with = super::params::purpose_schema)]
    purpose: Option<String>,
    /// Cursor returned by the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// A page of the caseload.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PageResponse {
    /// Files.
    items: Vec<Hit>,
    /// Cursor of the next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

impl From<Page> for PageResponse {
    fn from(p: Page) -> Self {
        PageResponse {
            items: p.items.into_iter().map(Hit::from).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// `GET /v1/persons`: the caller's caseload, paginated.
#[utoipa::path(get, path = "/v1/persons", params(ListQuery), tag = "persons",
    responses((status = 200, body = PageResponse), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = q.and_then(|q| {
        let p = purpose(q.purpose.as_deref())?;
        let limit = bounded("limit", q.limit.as_deref(), 50, (1, 200))?;
        Ok((p, limit, q.cursor))
    });
    let page = c
        .run(&s.vault, checked, |v, p, (purpose, limit, cursor)| {
            v.disclose_list(&p, purpose, cursor.as_deref(), limit)
        })
        .await?
        .release()
        .await?;
    Ok(Json(PageResponse::from(page)))
}

/// Body of `PUT /v1/persons/{id}/counsellor`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assignment {
    /// The counsellor's login; `null` to leave the file unassigned. Required: a body without
    /// it is refused rather than read as `null`.
    #[serde(deserialize_with = "required_nullable")]
    #[schema(required = true)]
    counsellor: Option<String>,
}

/// A field that must be present and may be `null`.
fn required_nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::deserialize(d)
}

/// `PUT /v1/persons/{id}/counsellor`: assigns the file to a counsellor's caseload (the
/// follow-up category's `counsellor` changes with it); audited.
#[utoipa::path(put, path = "/v1/persons/{id}/counsellor", params(("id" = String, Path)), request_body = Assignment, tag = "persons",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn assign(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| Ok((id, json::<Assignment>(&body?)?)));
    c.run(&s.vault, checked, move |v, p, (id, a)| {
        v.assign(&p, &id, a.counsellor.as_deref())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/persons/{id}/enrolments`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Enrolment {
    /// The partner organisation's code (the agency of its tokens), e.g. `AFPA-75`.
    #[schema(pattern = r"^\s*[A-Za-z]{2,5}(-[A-Za-z0-9]{1,8}){0,4}\s*$")]
    partner: String,
}

fn partner(code: &str) -> Result<rempart_domain::Agency, ApiError> {
    rempart_domain::Agency::parse(code).map_err(|_| {
        ApiError::field(
            "partner",
            "must be an organisation code of letters, digits and dashes",
        )
    })
}

/// `POST /v1/persons/{id}/enrolments`: enrols the person with a partner organisation, whose
/// principals then see what the policy gives partners; `201`, or `200` if already enrolled.
#[utoipa::path(post, path = "/v1/persons/{id}/enrolments", params(("id" = String, Path)), request_body = Enrolment, tag = "persons",
    responses((status = 201), (status = 200), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn enrol(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| {
        let e = json::<Enrolment>(&body?)?;
        Ok((id, partner(&e.partner)?))
    });
    let new = c
        .run(&s.vault, checked, move |v, p, (id, partner)| {
            v.enrol(&p, &id, &partner, true)
        })
        .await?;
    Ok(if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// `DELETE /v1/persons/{id}/enrolments/{partner}`: ends an enrolment; `404` if there was none.
#[utoipa::path(delete, path = "/v1/persons/{id}/enrolments/{partner}", params(("id" = String, Path), ("partner" = String, Path, pattern = r"^\s*[A-Za-z]{2,5}(-[A-Za-z0-9]{1,8}){0,4}\s*$")), tag = "persons",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn unenrol(
    State(s): State<AppState>,
    c: Caller,
    P(path): P<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = path.and_then(|(id, code)| Ok((id, partner(&code)?)));
    let ended = c
        .run(&s.vault, checked, move |v, p, (id, partner)| {
            v.enrol(&p, &id, &partner, false)
        })
        .await?;
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Vault(VaultError::NotFound))
    }
}
