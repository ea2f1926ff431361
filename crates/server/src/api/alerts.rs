//! Containment's alerts for operators and the DPO: the principals suspended, why, and the
//! people their responses had shown; restoring one, with a written justification
//! (`/v1/alerts…`).

use super::params::{bounded, public_id, rfc3339};
use super::Caller;
use crate::body::json;
use crate::extract::{RawBody, P, Q};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rempart_vault::AlertRecord;
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/alerts", get(list))
        .route("/v1/alerts/{id}", get(show))
        .route("/v1/alerts/{id}/restore", post(restore))
}

/// Query of the alert list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    /// Alerts raised before this one (its id), for the next page.
    #[param(pattern = r"^alr_[0-9a-f]{16}$")]
    before: Option<String>,
    /// Most alerts returned, newest first, 1 to 200 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// A containment alert: a principal suspended.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AlertResponse {
    /// Id (`alr_…`).
    id: String,
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    time: String,
    /// When, Unix seconds.
    time_unix: i64,
    /// The principal suspended.
    principal: String,
    /// Its role.
    role: String,
    /// Its agency.
    agency: String,
    /// The token whose response tripped.
    token: String,
    /// What tripped: `decoy` (a decoy file read or found) or `refusals` (budgets overrun again
    /// and again).
    trip: String,
    /// The signals and counts at the trip (`action`, distinct people shown per minute, hour
    /// and day, and those outside the caseload).
    signals: std::collections::BTreeMap<String, String>,
    /// The people whose data its responses had shown over the last day (pseudonymous ids).
    people: Vec<String>,
    /// `open` while the principal is suspended, `restored` once an operator restored it.
    state: String,
    /// When it was restored, RFC 3339 (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    restored_at: Option<String>,
    /// Who restored it.
    #[serde(skip_serializing_if = "Option::is_none")]
    restored_by: Option<String>,
}

impl From<AlertRecord> for AlertResponse {
    fn from(a: AlertRecord) -> Self {
        AlertResponse {
            time: rfc3339(a.at),
            time_unix: a.at,
            signals: a
                .signals
                .split(' ')
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: if a.restored_at.is_some() {
                "restored"
            } else {
                "open"
            }
            .into(),
            restored_at: a.restored_at.map(rfc3339),
            id: a.id,
            principal: a.principal,
            role: a.role,
            agency: a.agency,
            token: a.token,
            trip: a.trip,
            people: a.people,
            restored_by: a.restored_by,
        }
    }
}

/// An alert id, checked before any lookup.
fn alert_id(id: &str) -> Result<String, ApiError> {
    public_id(id, "alr_", "id", "an alert id")
}

/// `GET /v1/alerts`: containment's alerts, newest first; operators and the DPO only.
#[utoipa::path(get, path = "/v1/alerts", params(AlertsQuery), tag = "containment",
    responses((status = 200, body = Vec<AlertResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<AlertsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = q.and_then(|q| {
        let limit = bounded("limit", q.limit.as_deref(), 50, (1, 200))?;
        let before = q
            .before
            .as_deref()
            .map(|b| public_id(b, "alr_", "before", "an alert id"))
            .transpose()?;
        Ok((before, limit))
    });
    let alerts = c
        .run(&s.vault, checked, |v, p, (before, limit)| {
            v.alerts(&p, before.as_deref(), limit)
        })
        .await?;
    Ok(Json(
        alerts
            .into_iter()
            .map(AlertResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// `GET /v1/alerts/{id}`: one alert; operators and the DPO only.
#[utoipa::path(get, path = "/v1/alerts/{id}", params(("id" = String, Path, pattern = r"^alr_[0-9a-f]{16}$")), tag = "containment",
    responses((status = 200, body = AlertResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| alert_id(&id));
    let alert = c
        .run(&s.vault, checked, |v, p, id| v.alert(&p, &id))
        .await?;
    Ok(Json(AlertResponse::from(alert)))
}

/// Body of `POST /v1/alerts/{id}/restore`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Restore {
    /// Why the principal may work again (10 to 500 characters): what was checked.
    #[schema(min_length = 10, max_length = 500)]
    justification: String,
}

/// What a restore did.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Restored {
    /// The principal restored.
    principal: String,
    /// Its tokens that work again.
    tokens: usize,
}

/// `POST /v1/alerts/{id}/restore`: restores the principal an open alert suspended, with a
/// written justification; its tokens that were not revoked work again, containment starts
/// afresh for it, and the restore is recorded. Operators and the DPO only.
#[utoipa::path(post, path = "/v1/alerts/{id}/restore", params(("id" = String, Path, pattern = r"^alr_[0-9a-f]{16}$")), request_body = Restore, tag = "containment",
    responses((status = 200, body = Restored), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn restore(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| {
        let r = json::<Restore>(&body?)?;
        Ok((alert_id(&id)?, r.justification))
    });
    let (principal, tokens) = c
        .run(&s.vault, checked, |v, p, (id, why)| {
            let alert = v.alert(&p, &id)?;
            let n = v.restore_alert(&p, &id, &why)?;
            Ok((alert.principal, n))
        })
        .await?;
    Ok(Json(Restored { principal, tokens }))
}
