//! The handlers of the `/v1` endpoints (docs/api.md).

use crate::body::json;
use crate::extract::{RawBody, P, Q};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use rempart_domain::{Category, PersonInput, Purpose, SearchTerm};
use rempart_store::Reads;
use rempart_vault::{Principal, Vault, VaultError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The bearer token of a request (`Authorization: Bearer TOKEN`); missing is a 401 at once.
/// It is checked by [`Caller::run`] in the same blocking task as the operation it guards, so
/// that one request costs one trip to the blocking pool. `Debug` shows nothing.
pub struct Caller {
    token: String,
    client: Option<String>,
    request_id: String,
    /// `X-Break-Glass`: a written justification to read past the caseload.
    break_glass: Option<Result<String, &'static str>>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Caller(<redacted>, {})", self.request_id)
    }
}

/// A caller-supplied request id is kept if it is short and plain; otherwise one is made.
fn request_id(parts: &Parts) -> String {
    parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string())
            .ok_or(ApiError::Vault(VaultError::Unauthenticated))?;
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let break_glass = parts.headers.get("x-break-glass").map(|v| {
            std::str::from_utf8(v.as_bytes())
                .map_err(|_| "the break-glass justification must be UTF-8 text")
                .and_then(rempart_vault::justification)
        });
        Ok(Caller {
            token,
            client,
            request_id: request_id(parts),
            break_glass,
        })
    }
}

impl Caller {
    /// Authenticates, then runs `f` for the principal, on the blocking pool. Errors of the
    /// request itself (`checked`) are reported only after authentication, so an
    /// unauthenticated caller always gets a 401.
    pub(crate) async fn run<T, A, F>(
        self,
        vault: &Arc<Vault>,
        checked: Result<A, ApiError>,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        A: Send + 'static,
        F: FnOnce(&Vault, Principal, A) -> Result<T, VaultError> + Send + 'static,
    {
        self.run_in(vault, checked, move |v, p, a| {
            f(v, p, a).map_err(ApiError::from)
        })
        .await
    }

    /// As [`Caller::run`], for an act whose own checks (after authentication) may fail as a
    /// request error.
    pub(crate) async fn run_checked<T, A, F>(
        self,
        vault: &Arc<Vault>,
        checked: Result<A, ApiError>,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        A: Send + 'static,
        F: FnOnce(&Vault, Principal, A) -> Result<T, ApiError> + Send + 'static,
    {
        self.run_in(vault, checked, f).await
    }

    /// As [`Caller::run`], for an act that only reads: authentication and the act read one
    /// snapshot of the database ([`Vault::snapshot`]), which the act is given.
    pub(crate) async fn run_read<T, A, F>(
        self,
        vault: &Arc<Vault>,
        checked: Result<A, ApiError>,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        A: Send + 'static,
        F: FnOnce(&Vault, &dyn Reads, Principal, A) -> Result<T, VaultError> + Send + 'static,
    {
        let v = vault.clone();
        tokio::task::spawn_blocking(move || {
            let snapshot = v.snapshot()?;
            let p = self.principal(&v, &*snapshot)?;
            let args = checked?;
            f(&v, &*snapshot, p, args).map_err(ApiError::from)
        })
        .await
        .map_err(|_| ApiError::Join)?
    }

    async fn run_in<T, A, F>(
        self,
        vault: &Arc<Vault>,
        checked: Result<A, ApiError>,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        A: Send + 'static,
        F: FnOnce(&Vault, Principal, A) -> Result<T, ApiError> + Send + 'static,
    {
        let v = vault.clone();
        tokio::task::spawn_blocking(move || {
            let p = self.principal(&v, v.reads())?;
            let args = checked?;
            f(&v, p, args)
        })
        .await
        .map_err(|_| ApiError::Join)?
    }

    /// The caller's principal, authenticated through `reads`, with the request's facts.
    fn principal(self, v: &Vault, reads: &dyn Reads) -> Result<Principal, ApiError> {
        let p = v.authenticate_in(reads, &self.token)?;
        let break_glass = self
            .break_glass
            .transpose()
            .map_err(|m| ApiError::field("x-break-glass", m))?;
        Ok(p.with_request(self.client, Some(self.request_id), break_glass))
    }
}

/// Query of reads.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReadQuery {
    /// Why the data is read (required).
    purpose: Option<String>,
    /// Comma-separated categories to return (all visible ones when absent).
    categories: Option<String>,
}

/// Query of writes: the purpose, `accompaniment` when absent.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WriteQuery {
    /// Why the file is changed (default `accompaniment`).
    purpose: Option<String>,
}

/// Query of the caseload listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Why the data is read (required).
    purpose: Option<String>,
    /// Cursor returned by the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<String>,
}

fn purpose(p: Option<&str>) -> Result<Purpose, ApiError> {
    match p {
        None | Some("") => Err(ApiError::field(
            "purpose",
            format!("is required: one of {}", Purpose::expected()),
        )),
        Some(s) => Purpose::parse(s).ok_or_else(|| {
            ApiError::field("purpose", format!("must be one of {}", Purpose::expected()))
        }),
    }
}

fn categories(s: Option<&str>) -> Result<Option<Vec<Category>>, ApiError> {
    let Some(s) = s else { return Ok(None) };
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            Category::parse(c).ok_or_else(|| {
                ApiError::field(
                    "categories",
                    format!("unknown category; expected {}", Category::expected()),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `{"id": …}`
#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    /// Pseudonymous id of the new file.
    pub id: String,
}

/// A file as returned: its id and the categories the caller may see (others absent).
#[derive(Serialize, utoipa::ToSchema)]
pub struct PersonResponse {
    /// Pseudonymous id.
    pub id: String,
    /// The visible categories.
    #[serde(flatten)]
    pub file: PersonInput,
}

/// A search or listing hit.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// Pseudonymous id.
    pub id: String,
    /// Identity fields.
    pub identity: Option<rempart_domain::Identity>,
}

/// A page of the caseload.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PageResponse {
    /// Files.
    pub items: Vec<Hit>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// Last name and birth date, for `name_birth` search.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBirth {
    /// Last name (accents and case ignored).
    last_name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
}

/// Exact search: a purpose and exactly one key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Why the search is made.
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

/// `POST /v1/persons`
#[utoipa::path(post, path = "/v1/persons", request_body = PersonInput, tag = "persons",
    responses((status = 201, body = Created), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
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
pub async fn read(
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
    Ok(Json(view))
}

/// `PATCH /v1/persons/{id}`: the categories present replace the stored ones.
#[utoipa::path(patch, path = "/v1/persons/{id}", params(("id" = String, Path)), request_body = PersonInput, tag = "persons",
    responses((status = 200, body = PersonResponse), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
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
    Ok(Json(view))
}

/// Body of `PUT /v1/persons/{id}/counsellor`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The counsellor's login; `null` to leave the file unassigned.
    counsellor: Option<String>,
}

/// `PUT /v1/persons/{id}/counsellor`: assigns the file to a counsellor's caseload (the
/// follow-up category's `counsellor` changes with it); audited.
#[utoipa::path(put, path = "/v1/persons/{id}/counsellor", params(("id" = String, Path)), request_body = Assignment, tag = "persons",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn assign(
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
pub struct Enrolment {
    /// The partner organisation's code (the agency of its tokens), e.g. `AFPA-75`.
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
pub async fn enrol(
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
#[utoipa::path(delete, path = "/v1/persons/{id}/enrolments/{partner}", params(("id" = String, Path), ("partner" = String, Path)), tag = "persons",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn unenrol(
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

/// Query of the break-glass review.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SinceQuery {
    /// Unix seconds (default 0: all).
    since: Option<String>,
}

/// `GET /v1/audit/break-glass`: the break-glass reads of the DPO's agency, with their
/// justifications, for review; the DPO only.
#[utoipa::path(get, path = "/v1/audit/break-glass", params(SinceQuery), tag = "audit",
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn break_glass(
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
    Ok(Json(uses))
}

/// `DELETE /v1/persons/{id}`: erasure by destroying the file's key.
#[utoipa::path(delete, path = "/v1/persons/{id}", params(("id" = String, Path)), tag = "persons",
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn erase(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
) -> Result<impl IntoResponse, ApiError> {
    c.run(&s.vault, id, move |v, p, id| v.erase(&p, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
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
pub async fn search(
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
    Ok(Json(hits))
}

/// Query of the access history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AccessQuery {
    /// Most entries returned, newest first, 1 to 1000 (default 100).
    limit: Option<String>,
}

/// One access to a file.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessResponse {
    /// Position in the audit log.
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    /// Who.
    pub principal: String,
    /// Their role.
    pub role: String,
    /// Their agency.
    pub agency: String,
    /// read, search, list, create, update, erase, import, read_accesses…
    pub action: String,
    /// Categories returned or changed.
    pub categories: Vec<String>,
    /// Declared purpose.
    pub purpose: Option<String>,
    /// allowed or denied.
    pub outcome: String,
}

/// `GET /v1/persons/{id}/accesses`: who accessed this file, when, which categories, why. For
/// the DPO of the file's agency; anyone else of the agency gets 403 (and the attempt is logged).
#[utoipa::path(get, path = "/v1/persons/{id}/accesses", params(("id" = String, Path), AccessQuery), tag = "persons",
    responses((status = 200, body = Vec<AccessResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn accesses(
    State(s): State<AppState>,
    c: Caller,
    P(id): P<String>,
    Q(q): Q<AccessQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = id.and_then(|id| {
        let limit = match q?.limit.as_deref() {
            None => 100,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| ApiError::field("limit", "must be between 1 and 1000"))?,
        };
        Ok((id, limit))
    });
    let list = c
        .run(&s.vault, checked, move |v, p, (id, limit)| {
            v.accesses(&p, &id, limit)
        })
        .await?;
    Ok(Json(list))
}

/// A signed checkpoint of the audit log.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckpointResponse {
    /// Entries covered.
    pub size: u64,
    /// Merkle root (RFC 9162), hex.
    pub root: String,
    /// Unix seconds.
    pub time: i64,
    /// Ed25519 signature of `rempart-audit-checkpoint/v1\n{size}\n{root}\n{time}\n`, base64.
    pub signature: String,
}

/// `GET /v1/audit/checkpoint`: the latest signed checkpoint of the audit log.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, body = CheckpointResponse), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn checkpoint(
    State(s): State<AppState>,
    c: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let cp = c
        .run(&s.vault, Ok(()), |v, p, ()| v.checkpoint_for(&p))
        .await?;
    let cp = cp.ok_or(ApiError::Vault(VaultError::NotFound))?;
    Ok(Json(CheckpointResponse {
        size: cp.size,
        root: cp.root,
        time: cp.time,
        signature: cp.signature,
    }))
}

/// Query of an inclusion proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InclusionQuery {
    /// Entry number (1-based).
    seq: Option<String>,
    /// Size of a recorded checkpoint (the latest when absent).
    size: Option<String>,
}

/// Query of a consistency proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    /// Size of the older recorded checkpoint.
    first: Option<String>,
    /// Size of the newer recorded checkpoint.
    second: Option<String>,
}

fn number(field: &str, v: Option<&str>) -> Result<u64, ApiError> {
    v.and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::field(field, "must be a whole number"))
}

/// `GET /v1/audit/proof/inclusion`: entry `seq` and its path to a signed checkpoint; operators
/// and the DPO only.
#[utoipa::path(get, path = "/v1/audit/proof/inclusion", params(InclusionQuery), tag = "audit",
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn inclusion_proof(
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
    Ok(Json(proof))
}

/// `GET /v1/audit/proof/consistency`: that checkpoint `first` is a prefix of `second`;
/// operators and the DPO only.
#[utoipa::path(get, path = "/v1/audit/proof/consistency", params(ConsistencyQuery), tag = "audit",
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn consistency_proof(
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
    Ok(Json(proof))
}

/// `GET /v1/persons`: the caller's caseload, paginated.
#[utoipa::path(get, path = "/v1/persons", params(ListQuery), tag = "persons",
    responses((status = 200, body = PageResponse), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    c: Caller,
    Q(q): Q<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let checked = q.and_then(|q| {
        let p = purpose(q.purpose.as_deref())?;
        let limit = match q.limit.as_deref() {
            None => 50,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| ApiError::field("limit", "must be between 1 and 200"))?,
        };
        Ok((p, limit, q.cursor))
    });
    let page = c
        .run(&s.vault, checked, |v, p, (purpose, limit, cursor)| {
            v.disclose_list(&p, purpose, cursor.as_deref(), limit)
        })
        .await?
        .release()
        .await?;
    Ok(Json(page))
}
