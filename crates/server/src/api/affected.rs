//! `POST /v1/affected`: "was I affected?". Anyone gives an email address or a phone number;
//! the answer is sent to that contact when it is on file, after the response, which is the same
//! whatever the contact (same status, same body, returned before any lookup). Rate-limited per
//! client address, and one answer a day per contact.

use super::caller::ClientIp;
use crate::body::json;
use crate::extract::RawBody;
use crate::limit::Decision;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/affected", post(affected))
}

/// Contacts remembered for the one-answer-a-day rule, at most (a new contact beyond is not
/// answered that day; the response does not change).
const CONTACTS_MAX: usize = 100_000;

/// The contacts answered today, as salted hashes (the salt is drawn at start and never kept):
/// a memory dump does not give them.
pub(crate) struct Answered {
    salt: [u8; 32],
    seen: Mutex<(i64, HashMap<[u8; 32], ()>)>,
    /// Answers being made at once, at most: they never take the blocking pool from the API.
    working: Arc<tokio::sync::Semaphore>,
}

impl Default for Answered {
    fn default() -> Self {
        Answered {
            salt: rand::random(),
            seen: Mutex::new((0, HashMap::new())),
            working: Arc::new(tokio::sync::Semaphore::new(2)),
        }
    }
}

impl Answered {
    /// Whether `contact` (normalised) may be answered today (and it is now counted).
    fn first_today(&self, contact: &str) -> bool {
        let day = chrono::Utc::now().timestamp().div_euclid(86_400);
        let key: [u8; 32] = Sha256::new()
            .chain_update(self.salt)
            .chain_update(contact.as_bytes())
            .finalize()
            .into();
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.0 != day {
            *seen = (day, HashMap::new());
        }
        if seen.1.len() >= CONTACTS_MAX || seen.1.contains_key(&key) {
            return false;
        }
        seen.1.insert(key, ());
        true
    }
}

/// Body of `POST /v1/affected`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AffectedRequest {
    /// An email address or a phone number.
    #[schema(max_length = 254)]
    contact: String,
}

/// The one answer, whatever the contact.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AffectedResponse {
    /// `accepted`.
    status: &'static str,
    /// What happens next, in French and in English.
    message: &'static str,
}

const ACCEPTED: AffectedResponse = AffectedResponse {
    status: "accepted",
    message: "Si ce contact figure dans un dossier, la réponse lui sera envoyée ; elle n'est jamais affichée ici. If this contact is on file, the answer will be sent to it; it is never shown here.",
};

/// `POST /v1/affected`
#[utoipa::path(post, path = "/v1/affected", request_body = AffectedRequest, tag = "verification",
    responses(
        (status = 202, description = "Always the same body: the answer, if any, goes to the contact on file", body = AffectedResponse),
        (status = 422, description = "The body is not `{\"contact\": …}`", body = Problem),
        (status = 429, description = "Too many requests from this client address; `Retry-After` says when to try again", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "This installation sends no answers (no channel configured)", body = Problem)))]
pub(crate) async fn affected(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    if let Decision::Refuse { retry_after } = s.affected_limit.check(ip) {
        return Err(ApiError::RateLimited { retry_after });
    }
    let req: AffectedRequest = json(&body?)?;
    if req.contact.chars().count() > 254 {
        return Err(ApiError::field("contact", "at most 254 characters"));
    }
    let Some(courier) = s.breach.courier.clone() else {
        return Err(ApiError::NotConfigured(
            "this installation sends no answers: no channel is configured",
        ));
    };
    // Counted once normalised (the same phone written another way is the same contact);
    // what is not a contact is not counted and never answered.
    let normalised = rempart_vault::Recipient::parse(&req.contact).map(|r| r.address());
    let permit = s.answered.working.clone().try_acquire_owned().ok();
    if let (Some(contact), Some(permit)) = (normalised, permit) {
        if !s.answered.first_today(&contact) {
            return Ok((StatusCode::ACCEPTED, Json(ACCEPTED)));
        }
        // After the response, whatever happens: its time and body say nothing of the contact.
        let (vault, breach) = (s.vault.clone(), s.breach.clone());
        let client = Some(ip.to_string());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            if let Err(e) = vault.answer_affected(
                &req.contact,
                client,
                breach.language,
                rempart_vault::Sender {
                    templates: &breach.templates,
                    courier: &*courier,
                    options: &breach.options,
                },
            ) {
                tracing::warn!(error = %e, "an answer to \"was I affected?\" failed");
            }
        });
    }
    Ok((StatusCode::ACCEPTED, Json(ACCEPTED)))
}
