//! The audit log as clients see it: a file's access history, the break-glass review, signed
//! checkpoints and proofs (`/v1/persons/{id}/accesses`, `/v1/audit/…`).
//!
//! Times are RFC 3339 text in UTC (`time`), with the Unix seconds beside them (`time_unix`):
//! a checkpoint's signature covers the Unix seconds.

use super::params::{bounded, number, rfc3339};
use super::Caller;
use crate::extract::{P, Q};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use rempart_audit::{AuditEntry, Checkpoint, ConsistencyProof, InclusionProof};
use rempart_vault::{Access, BreakGlassUse, VaultError};
use serde::{Deserialize, Serialize};

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/persons/{id}/accesses", get(accesses))
        .route("/v1/audit/break-glass", get(break_glass))
        .route("/v1/audit/checkpoint", get(checkpoint))
        .route("/v1/audit/proof/inclusion", get(inclusion_proof))
        .route("/v1/audit/proof/consistency", get(consistency_proof))
}

/// The name serde gives a unit variant (`read`, `allowed`…).
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Query of the access history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessQuery {
    /// Most entries returned, newest first, 1 to 1000 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// One access to a file.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AccessResponse {
    /// Position in the audit log.
    seq: u64,
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    time: String,
    /// When, Unix seconds.
    time_unix: i64,
    /// Who.
    principal: String,
    /// Their role.
    role: String,
    /// Their agency.
    agency: String,
    /// read, search, list, create, update, erase, import, read_accesses…
    action: String,
    /// Categories returned or changed.
    categories: Vec<String>,
    /// Declared purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<String>,
    /// allowed or denied.
    outcome: String,
}

impl From<Access> for AccessResponse {
    fn from(a: Access) -> Self {
        AccessResponse {
            seq: a.seq,
            time: rfc3339(a.time),
            time_unix: a.time,
            principal: a.principal,
            role: a.role,
            agency: a.agency,
            action: name(&a.action),
            categories: a.categories,
            purpose: a.purpose,
            outcome: name(&a.outcome),
        }
    }
}

/// `GET /v1/persons/{id}/accesses`: who accessed this file, when, which categories, why. For
/// the DPO of the file's agency; anyone else of the agency gets 403 (and the attempt is logged).
#[utoipa::path(get, path = "/v1/persons/{id}/accesses", params(("id" = String, Path), AccessQuery), tag = "audit",
    responses((status = 200, body = Vec<AccessResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn accesses(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    Q(q): Q<AccessQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| {
        let limit = bounded("limit", q?.limit.as_deref(), 100, (1, 1000))?;
        Ok((id, limit))
    });
    let list = c
        .run(&s.vault, checked, move |v, p, (id, limit)| {
            v.accesses(&p, &id, limit)
        })
        .await?;
    Ok(Json(
        list.into_iter()
            .map(AccessResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Query of the break-glass review.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinceQuery {
    /// Unix seconds (default 0: all).
    #[param(value_type = Option<i64>)]
    since: Option<String>,
}

/// One break-glass read, for the DPO's review.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct BreakGlassResponse {
    /// Position in the audit log.
    seq: u64,
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    time: String,
    /// When, Unix seconds.
    time_unix: i64,
    /// Who.
    principal: String,
    /// What (`read`…).
    action: String,
    /// Which files.
    persons: Vec<String>,
    /// Which categories were returned.
    categories: Vec<String>,
    /// allowed or denied.
    outcome: String,
    /// Why, in the counsellor's words.
    justification: String,
}

impl From<BreakGlassUse> for BreakGlassResponse {
    fn from(u: BreakGlassUse) -> Self {
        BreakGlassResponse {
            seq: u.seq,
            time: rfc3339(u.time),
            time_unix: u.time,
            principal: u.principal,
            action: name(&u.action),
            persons: u.persons,
            categories: u.categories,
            outcome: name(&u.outcome),
            justification: u.justification,
        }
    }
}

/// `GET /v1/audit/break-glass`: the break-glass reads of the DPO's agency, with their
/// justifications, for review; the DPO only.
#[utoipa::path(get, path = "/v1/audit/break-glass", params(SinceQuery), tag = "audit",
    responses((status = 200, body = Vec<BreakGlassResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn break_glass(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<SinceQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let since = q.and_then(|q| match q.since.as_deref() {
        None => Ok(0),
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ApiError::field("since", "must be Unix seconds")),
    });
    let uses = c
        .run(&s.vault, since, |v, p, since| v.break_glass_uses(&p, since))
        .await?;
    Ok(Json(
        uses.into_iter()
            .map(BreakGlassResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// A signed checkpoint of the audit log.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CheckpointResponse {
    /// Entries covered.
    size: u64,
    /// Merkle root (RFC 9162), hex.
    root: String,
    /// When it was signed, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    time: String,
    /// When it was signed, Unix seconds (what the signature covers).
    time_unix: i64,
    /// Ed25519 signature of `rempart-audit-checkpoint/v1\n{size}\n{root}\n{time_unix}\n`,
    /// base64.
    signature: String,
}

impl From<Checkpoint> for CheckpointResponse {
    fn from(c: Checkpoint) -> Self {
        CheckpointResponse {
            size: c.size,
            root: c.root,
            time: rfc3339(c.time),
            time_unix: c.time,
            signature: c.signature,
        }
    }
}

/// `GET /v1/audit/checkpoint`: the latest signed checkpoint of the audit log.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, body = CheckpointResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn checkpoint(
    State(s): State<AppState>,
    c: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let cp = c
        .run(&s.vault, Ok(()), |v, p, ()| v.checkpoint_for(&p))
        .await?;
    let cp = cp.ok_or(ApiError::Vault(VaultError::NotInLog))?;
    Ok(Json(CheckpointResponse::from(cp)))
}

/// An audit entry as a proof shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EntryResponse {
    /// When, RFC 3339 (UTC).
    #[schema(format = DateTime)]
    time: String,
    /// When, Unix seconds (what the canonical bytes hold).
    time_unix: i64,
    /// Who (`<redacted>` in a redacted proof).
    principal: String,
    /// Their token's id (`<redacted>` in a redacted proof).
    token_id: String,
    /// Their agency.
    agency: String,
    /// Their role.
    role: String,
    /// What was done.
    action: String,
    /// The files concerned (empty in a redacted proof).
    persons: Vec<String>,
    /// Categories returned or changed.
    categories: Vec<String>,
    /// Declared purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<String>,
    /// Client address.
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    /// Request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// allowed or denied.
    outcome: String,
    /// Non-personal detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl From<AuditEntry> for EntryResponse {
    fn from(e: AuditEntry) -> Self {
        EntryResponse {
            time: rfc3339(e.time),
            time_unix: e.time,
            principal: e.principal,
            token_id: e.token_id,
            agency: e.agency,
            role: e.role,
            action: name(&e.action),
            persons: e.persons,
            categories: e.categories,
            purpose: e.purpose,
            client: e.client,
            request_id: e.request_id,
            outcome: name(&e.outcome),
            detail: e.detail,
        }
    }
}

/// That an entry is in a signed checkpoint; checked offline by `rempart audit check-proof`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InclusionProofResponse {
    /// Entry number (1-based).
    seq: u64,
    /// The entry, readable.
    entry: EntryResponse,
    /// The entry's canonical bytes (what the leaf hashes), hex; absent from a redacted proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    canonical: Option<String>,
    /// The entry's leaf, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    leaf: Option<String>,
    /// Who made the entry is not shown to this caller.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
    /// Audit path, hex, leaf to root.
    path: Vec<String>,
    /// The signed checkpoint the path leads to.
    checkpoint: CheckpointResponse,
}

impl From<InclusionProof> for InclusionProofResponse {
    fn from(p: InclusionProof) -> Self {
        InclusionProofResponse {
            seq: p.seq,
            entry: p.entry.into(),
            canonical: p.canonical,
            leaf: p.leaf,
            redacted: p.redacted,
            path: p.path,
            checkpoint: p.checkpoint.into(),
        }
    }
}

/// That the older checkpoint is a prefix of the newer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsistencyProofResponse {
    /// The older checkpoint.
    first: CheckpointResponse,
    /// The newer checkpoint.
    second: CheckpointResponse,
    /// Consistency path, hex.
    path: Vec<String>,
}

impl From<ConsistencyProof> for ConsistencyProofResponse {
    fn from(p: ConsistencyProof) -> Self {
        ConsistencyProofResponse {
            first: p.first.into(),
            second: p.second.into(),
            path: p.path,
        }
    }
}

/// Query of an inclusion proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionQuery {
    /// Entry number (1-based).
    #[param(required = true, value_type = u64, minimum = 0)]
    seq: Option<String>,
    /// Size of a recorded checkpoint (the latest when absent).
    #[param(value_type = Option<u64>, minimum = 0)]
    size: Option<String>,
}

/// Query of a consistency proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    /// Size of the older recorded checkpoint.
    #[param(required = true, value_type = u64, minimum = 0)]
    first: Option<String>,
    /// Size of the newer recorded checkpoint.
    #[param(required = true, value_type = u64, minimum = 0)]
    second: Option<String>,
}

/// `GET /v1/audit/proof/inclusion`: entry `seq` and its path to a signed checkpoint; operators
/// and the DPO only.
#[utoipa::path(get, path = "/v1/audit/proof/inclusion", params(InclusionQuery), tag = "audit",
    responses((status = 200, body = InclusionProofResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn inclusion_proof(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<InclusionQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = q.and_then(|q| {
        let seq = number("seq", q.seq.as_deref())?;
        let size = q
            .size
            .as_deref()
            .map(|v| number("size", Some(v)))
            .transpose()?;
        Ok((seq, size))
    });
    let proof = c
        .run(&s.vault, checked, |v, p, (seq, size)| {
            v.inclusion_proof(&p, seq, size)
        })
        .await?;
    Ok(Json(InclusionProofResponse::from(proof)))
}

/// `GET /v1/audit/proof/consistency`: that checkpoint `first` is a prefix of `second`;
/// operators and the DPO only.
#[utoipa::path(get, path = "/v1/audit/proof/consistency", params(ConsistencyQuery), tag = "audit",
    responses((status = 200, body = ConsistencyProofResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn consistency_proof(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<ConsistencyQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = q.and_then(|q| {
        Ok((
            number("first", q.first.as_deref())?,
            number("second", q.second.as_deref())?,
        ))
    });
    let proof = c
        .run(&s.vault, checked, |v, p, (a, b)| {
            v.consistency_proof(&p, a, b)
        })
        .await?;
    Ok(Json(ConsistencyProofResponse::from(proof)))
}
