//! A file: create, read, change, erase (`/v1/persons`, `/v1/persons/{id}`).

use super::params::{categories, purpose};
use super::Caller;
use crate::body::json;
use crate::extract::{RawBody, P, Q};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use rempart_domain::{PersonInput, Purpose};
use rempart_vault::PersonView;
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/persons", axum::routing::post(create))
        .route("/v1/persons/{id}", get(read).patch(update).delete(erase))
}

/// Query of reads.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadQuery {
    /// Why the data is read (required).
    #[param(required = true, schema_with = super::params::purpose_schema)]
    purpose: Option<String>,
    /// Comma-separated categories to return (all visible ones when absent).
    #[param(schema_with = super::params::categories_schema)]
    categories: Option<String>,
}

/// Query of writes: the purpose, `accompaniment` when absent.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteQuery {
    /// Why the file is changed (default `accompaniment`).
    #[param(schema_with = super::params::purpose_schema)]
    purpose: Option<String>,
}

/// `{"id": …}`
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Created {
    /// Pseudonymous id of the new file.
    id: String,
}

/// A file as returned: its id and the categories the caller may see (others absent).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PersonResponse {
    /// Pseudonymous id.
    id: String,
    /// The visible categories.
    #[serde(flatten)]
    file: PersonInput,
}

impl From<PersonView> for PersonResponse {
    fn from(v: PersonView) -> Self {
        PersonResponse {
            id: v.id,
            file: v.record,
        }
    }
}

/// `POST /v1/persons`
#[utoipa::path(post, path = "/v1/persons", request_body = PersonInput, tag = "persons",
    responses((status = 201, body = Created), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(s): State<AppState>,
    c: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let id = c
        .run_checked(&s.vault, body, |v, p, body| {
            // Whether the caller may create in this agency is decided before the body is parsed
            // whole and validated: a refused caller costs a decision, not a validation.
            let head = CreateHead::of(&body);
            v.may_create(
                &p,
                head.agency.as_deref(),
                head.followup.and_then(|f| f.counsellor).as_deref(),
            )?;
            let input = json::<PersonInput>(&body)?;
            Ok(v.create(&p, input)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// What a creation body says of where the file goes, read without the rest of it (the other
/// fields are skipped, not kept).
#[derive(Default, Deserialize)]
struct CreateHead {
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    followup: Option<CreateHeadFollowup>,
}

#[derive(Default, Deserialize)]
struct CreateHeadFollowup {
    #[serde(default)]
    counsellor: Option<String>,
}

impl CreateHead {
    /// Empty when the body is not JSON of that shape (its validation then says why).
    fn of(body: &[u8]) -> CreateHead {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

/// `GET /v1/persons/{id}`
#[utoipa::path(get, path = "/v1/persons/{id}", params(("id" = String, Path), ReadQuery), tag = "persons",
    responses((status = 200, body = PersonResponse), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    Q(q): Q<ReadQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| {
        let q = q?;
        let p = purpose(q.purpose.as_deref())?;
        Ok((id, p, categories(q.categories.as_deref())?))
    });
    // No log, no data: the file leaves the vault as a `Disclosure`, released once its audit
    // entry is durable. Waiting here holds no thread of the blocking pool.
    let view = c
        .run_read(
            &s.vault,
            checked,
            move |v, reads, p, (id, purpose, cats)| {
                v.disclose_read_in(reads, &p, &id, purpose, cats.as_deref())
            },
        )
        .await?
        .release()
        .await?;
    Ok(Json(PersonResponse::from(view)))
}

/// `PATCH /v1/persons/{id}`: the categories present replace the stored ones.
#[utoipa::path(patch, path = "/v1/persons/{id}", params(("id" = String, Path), WriteQuery), request_body = PersonInput, tag = "persons",
    responses((status = 200, body = PersonResponse), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    Q(q): Q<WriteQuery>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| {
        let purpose = match q?.purpose.as_deref() {
            None => Purpose::Accompaniment,
            Some(p) => purpose(Some(p))?,
        };
        Ok((id, purpose, json::<PersonInput>(&body?)?))
    });
    let view = c
        .run(&s.vault, checked, move |v, p, (id, purpose, patch)| {
            v.disclose_update(&p, &id, purpose, patch)
        })
        .await?
        .release()
        .await?;
    Ok(Json(PersonResponse::from(view)))
}

/// `DELETE /v1/persons/{id}`: erasure by destroying the file's key.
#[utoipa::path(delete, path = "/v1/persons/{id}", params(("id" = String, Path)), tag = "persons",
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn erase(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    c.run(&s.vault, id, move |v, p, id| v.erase(&p, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
