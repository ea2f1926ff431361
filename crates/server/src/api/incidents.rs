//! Breach response over HTTP, for the DPO and operators of an agency: incidents and exactly
//! who lost what (`/v1/incidents…`).

use super::params::{public_id, rfc3339};
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
use rempart_vault::{Impact, IncidentEvent, IncidentRecord, IncidentScope, IncidentSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/incidents", post(open))
        .route("/v1/incidents/{id}", get(show))
        .route("/v1/incidents/{id}/impact", get(impact))
}

/// Body of `POST /v1/incidents`: what the incident covers (at least one principal, token or
/// client address), within `[since, until)`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenIncident {
    /// Compromised principals (logins).
    #[serde(default)]
    principals: Vec<String>,
    /// Compromised tokens, by id (`tok_…`).
    #[serde(default)]
    tokens: Vec<String>,
    /// Client addresses the attacker used.
    #[serde(default)]
    clients: Vec<String>,
    /// From, Unix seconds (default: the beginning of the log).
    since: Option<i64>,
    /// To (exclusive), Unix seconds (default: no end).
    until: Option<i64>,
    /// When the breach was discovered, Unix seconds (default: now): the 72-hour clock of
    /// art. 33 runs from it.
    discovered_at: Option<i64>,
    /// What happened, without personal data (at most 2,000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    summary: String,
}

/// One step of an incident's timeline.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Step {
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    at: String,
    /// Who.
    by: String,
    /// What was done.
    what: String,
}

/// An incident: what it covers and its timeline (the register of art. 33(5) GDPR).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IncidentResponse {
    /// Id (`inc_…`).
    id: String,
    /// `open` or `closed`.
    status: String,
    /// `access` (principals, tokens, client addresses) or `stolen` (a key or a copy of the
    /// database, opened at the console).
    kind: String,
    /// When the breach was discovered, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    discovered_at: String,
    /// The 72-hour deadline of art. 33, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    deadline: String,
    /// What happened, in its author's words.
    summary: String,
    /// When it was opened, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    opened_at: String,
    /// Who opened it.
    opened_by: String,
    /// The agency whose entries it covers.
    agency: String,
    /// Principals it covers.
    principals: Vec<String>,
    /// Tokens it covers.
    tokens: Vec<String>,
    /// Client addresses it covers.
    clients: Vec<String>,
    /// From, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
    /// To, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
    /// What was done and when, oldest first.
    timeline: Vec<Step>,
}

impl From<(IncidentRecord, Vec<IncidentEvent>)> for IncidentResponse {
    fn from((i, events): (IncidentRecord, Vec<IncidentEvent>)) -> Self {
        IncidentResponse {
            opened_at: rfc3339(i.opened_at),
            discovered_at: rfc3339(i.discovered_at),
            deadline: rfc3339(i.discovered_at.saturating_add(72 * 3600)),
            kind: i.kind,
            summary: i.summary,
            since: (i.since != i64::MIN).then_some(i.since),
            until: i.until,
            timeline: events
                .into_iter()
                .map(|e| Step {
                    at: rfc3339(e.at),
                    by: e.by,
                    what: e.what,
                })
                .collect(),
            id: i.id,
            status: i.status,
            opened_by: i.opened_by,
            agency: i.agency,
            principals: i.principals,
            tokens: i.tokens,
            clients: i.clients,
        }
    }
}

/// One person whose data left.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ImpactPerson {
    /// Pseudonymous id.
    id: String,
    /// Categories exposed, by their names in the policies.
    categories: Vec<String>,
}

/// Exactly who lost what within an incident.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ImpactResponse {
    /// The people whose data was served within the incident, in id order.
    people: Vec<ImpactPerson>,
    /// People exposed per category.
    per_category: BTreeMap<String, usize>,
    /// People exposed per agency of their file.
    per_agency: BTreeMap<String, usize>,
    /// Minors among them (their notices go to their legal representatives too).
    minors: usize,
}

impl From<Impact> for ImpactResponse {
    fn from(i: Impact) -> Self {
        ImpactResponse {
            per_category: i.per_category(),
            per_agency: i.per_agency(),
            minors: i.minors(),
            people: i
                .people
                .into_values()
                .map(|x| ImpactPerson {
                    id: x.id,
                    categories: x.categories.into_iter().collect(),
                })
                .collect(),
        }
    }
}

fn incident_id(id: &str) -> Result<String, ApiError> {
    public_id(id, "inc_", "id", "an incident id")
}

/// `POST /v1/incidents`: opens an incident covering the caller's agency's entries of the given
/// principals, tokens or client addresses. DPO and operators.
#[utoipa::path(post, path = "/v1/incidents", request_body = OpenIncident, tag = "incidents",
    responses((status = 201, body = IncidentResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn open(
    State(s): State<AppState>,
    c: Caller,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = body.and_then(|b| {
        let o = json::<OpenIncident>(&b)?;
        if o.principals.is_empty() && o.tokens.is_empty() && o.clients.is_empty() {
            return Err(ApiError::field(
                "body",
                "an incident covers at least one principal, token or client address",
            ));
        }
        if o.principals.len() + o.tokens.len() + o.clients.len() > 100 {
            return Err(ApiError::field(
                "body",
                "at most 100 principals, tokens and client addresses",
            ));
        }
        Ok(o)
    });
    let made = c
        .run(&s.vault, checked, |v, p, o| {
            let spec = IncidentSpec {
                scope: IncidentScope {
                    principals: o.principals,
                    tokens: o.tokens,
                    clients: o.clients,
                    since: o.since.unwrap_or(i64::MIN),
                    until: o.until,
                    agency: Some(p.agency().as_str().to_string()),
                },
                discovered_at: o.discovered_at,
                summary: o.summary,
                ..IncidentSpec::default()
            };
            let i = v.open_incident(&p, &spec)?;
            v.incident(&p, &i.id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(IncidentResponse::from(made))))
}

/// `GET /v1/incidents/{id}`: an incident of the caller's agency and its timeline.
#[utoipa::path(get, path = "/v1/incidents/{id}", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), tag = "incidents",
    responses((status = 200, body = IncidentResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| incident_id(&id));
    let i = c
        .run(&s.vault, checked, |v, p, id| v.incident(&p, &id))
        .await?;
    Ok(Json(IncidentResponse::from(i)))
}

/// `GET /v1/incidents/{id}/impact`: exactly the people whose data was served within the
/// incident, per person the categories (decoys left out); recorded, and a step of the
/// incident's timeline.
#[utoipa::path(get, path = "/v1/incidents/{id}/impact", params(("id" = String, Path, pattern = r"^inc_[0-9a-f]{16}$")), tag = "incidents",
    responses((status = 200, body = ImpactResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn impact(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| incident_id(&id));
    let i = c
        .run(&s.vault, checked, |v, p, id| v.incident_impact(&p, &id))
        .await?;
    Ok(Json(ImpactResponse::from(i)))
}
