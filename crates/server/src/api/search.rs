//! Exact search through the blind indexes (`POST /v1/persons/search`).

use super::params::purpose;
use super::Caller;
use crate::body::json;
use crate::extract::RawBody;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Json, Router};
use rempart_domain::{Identity, Purpose, SearchTerm};
use rempart_vault::SearchHit;
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/persons/search", axum::routing::post(search))
}

/// A search or listing hit: what a person needs to pick a file.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Hit {
    /// Pseudonymous id.
    id: String,
    /// Identity fields, absent when the caller may not read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<Identity>,
}

impl From<SearchHit> for Hit {
    fn from(h: SearchHit) -> Self {
        Hit {
            id: h.id,
            identity: h.identity,
        }
    }
}

/// Last name and birth date, for `name_birth` search.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameBirth {
    /// Last name (accents and case ignored).
    last_name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
}

/// Exact search: a purpose and exactly one key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchRequest {
    /// Why the search is made.
    #[schema(required = true, schema_with = super::params::purpose_schema)]
    purpose: Option<String>,
    /// Email address.
    email: Option<String>,
    /// Phone number.
    phone: Option<String>,
    /// NIR.
    nir: Option<String>,
    /// France Travail identifier.
    france_travail_id: Option<String>,
    /// Last name and birth date.
    name_birth: Option<NameBirth>,
}

impl std::fmt::Debug for SearchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchRequest(<redacted>)")
    }
}

fn search_term(
    req: &SearchRequest,
    rules: &rempart_domain::ValidationRules,
) -> Result<(Purpose, SearchTerm), ApiError> {
    let purpose = purpose(req.purpose.as_deref())?;
    let mut terms: Vec<(&str, Result<SearchTerm, String>)> = Vec::new();
    if let Some(e) = &req.email {
        terms.push(("email", SearchTerm::email(e)));
    }
    if let Some(e) = &req.phone {
        terms.push(("phone", SearchTerm::phone(e)));
    }
    if let Some(e) = &req.nir {
        terms.push(("nir", SearchTerm::nir(e)));
    }
    if let Some(e) = &req.france_travail_id {
        terms.push(("france_travail_id", SearchTerm::france_travail_id(e, rules)));
    }
    if let Some(nb) = &req.name_birth {
        terms.push((
            "name_birth",
            SearchTerm::name_birth(&nb.last_name, &nb.birth_date),
        ));
    }
    if terms.len() != 1 {
        return Err(ApiError::field(
            "body",
            "give exactly one of email, phone, nir, france_travail_id, name_birth",
        ));
    }
    let (field, term) = terms.remove(0);
    Ok((purpose, term.map_err(|m| ApiError::field(field, m))?))
}

/// `POST /v1/persons/search`
#[utoipa::path(post, path = "/v1/persons/search", request_body = SearchRequest, tag = "persons",
    responses((status = 200, body = Vec<Hit>), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn search(
    State(s): State<AppState>,
    c: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let rules = s.vault.rules();
    let checked = body.and_then(|body| search_term(&json::<SearchRequest>(&body)?, &rules));
    let hits = c
        .run(&s.vault, checked, |v, p, (purpose, term)| {
            v.disclose_search(&p, purpose, &term)
        })
        .await?
        .release()
        .await?;
    Ok(Json(hits.into_iter().map(Hit::from).collect::<Vec<_>>()))
}
