//! Errors as `application/problem+json` (RFC 9457), mapped from vault errors in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rempart_domain::FieldError;
use rempart_store::StoreError;
use rempart_vault::VaultError;
use serde::Serialize;

/// Base of the problem type URIs; the last segment names the problem.
pub const PROBLEM_BASE: &str = "https://rempart.invalid/problems/";

/// A problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI naming the problem; ends with `/suspended` for a suspended principal.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Explanation (never personal data or secrets).
    pub detail: String,
    /// For validation: the invalid fields, the first [`ERRORS_REPORTED`] (50) of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>, max_items = 50)]
    pub errors: Vec<FieldError>,
    /// For validation: how many invalid fields there are in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_errors: Option<usize>,
    /// For validation: whether `errors` lists fewer than `total_errors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// The most invalid fields a validation problem lists; `total_errors` counts them all.
pub const ERRORS_REPORTED: usize = 50;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// From the vault.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A malformed body or query, every field named.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// A blocking task failed.
    #[error("internal task failed")]
    Join,
    /// The body is larger than the server accepts.
    #[error("body too large")]
    TooLarge,
    /// The request could not be read.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The route exists, not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Too many requests in progress: try again shortly.
    #[error("server busy")]
    Busy,
    /// A feature this installation has not configured (said which, the same for every caller).
    #[error("{0}")]
    NotConfigured(&'static str),
    /// Too many attempts from this client address at a public endpoint.
    #[error("too many attempts from this address")]
    RateLimited {
        /// Seconds until an attempt is allowed.
        retry_after: u64,
    },
}

impl ApiError {
    /// A single-field validation error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: String,
    errors: Vec<FieldError>,
) -> Response {
    let body = Problem {
        kind: format!("{PROBLEM_BASE}{kind}"),
        title: title.into(),
        status: status.as_u16(),
        detail,
        errors,
        total_errors: None,
        truncated: None,
    };
    problem_response(status, body)
}

fn problem_response(status: StatusCode, body: Problem) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// A 422 naming every invalid field.
/// A 422 naming the invalid fields: the first [`ERRORS_REPORTED`], and how many in all.
fn validation(title: &str, mut errors: Vec<FieldError>) -> Response {
    let total = errors.len();
    let truncated = total > ERRORS_REPORTED;
    errors.truncate(ERRORS_REPORTED);
    let detail = if truncated {
        format!("{total} invalid field(s), the first {ERRORS_REPORTED} listed")
    } else {
        format!("{total} invalid field(s)")
    };
    let body = Problem {
        kind: format!("{PROBLEM_BASE}validation"),
        title: title.into(),
        status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
        detail,
        errors,
        total_errors: Some(total),
        truncated: Some(truncated),
    };
    problem_response(StatusCode::UNPROCESSABLE_ENTITY, body)
}

/// A 500 that says nothing about its cause (which is logged).
fn internal() -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "internal error".into(),
        vec![],
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(errors) => validation("Invalid request", errors),
            ApiError::Join => {
                tracing::error!("blocking task failed");
                internal()
            }
            ApiError::TooLarge => problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Body too large",
                format!("the body must be at most {} bytes", crate::BODY_LIMIT),
                vec![],
            ),
            ApiError::BadRequest(why) => problem(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad request",
                why.into(),
                vec![],
            ),
            ApiError::MethodNotAllowed => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not take this method".into(),
                vec![],
            ),
            ApiError::Busy => {
                let mut r = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "Server busy",
                    "too many requests in progress; try again shortly".into(),
                    vec![],
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            ApiError::NotConfigured(why) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-configured",
                "Not configured",
                why.into(),
                vec![],
            ),
            ApiError::RateLimited { retry_after } => {
                let mut r = problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many attempts",
                    format!("too many attempts from this address; try again in {retry_after} s"),
                    vec![],
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            ApiError::Vault(e) => match e {
                VaultError::Unauthenticated => {
                    let mut r = problem(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "Unauthenticated",
                        e.to_string(),
                        vec![],
                    );
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(
                            "Bearer, DPoP algs=\"ES256 ES384 EdDSA RS256 PS256 RS384\"",
                        ),
                    );
                    r
                }
                VaultError::Suspended => problem(
                    StatusCode::FORBIDDEN,
                    "suspended",
                    "Principal suspended",
                    e.to_string(),
                    vec![],
                ),
                VaultError::Forbidden(why) => problem(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "Forbidden",
                    why.into(),
                    vec![],
                ),
                VaultError::Rejected(why) => problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rejected",
                    "Rejected",
                    why.into(),
                    vec![],
                ),
                VaultError::State(why) => problem(
                    StatusCode::CONFLICT,
                    "state",
                    "Not in this state",
                    why.into(),
                    vec![],
                ),
                VaultError::NotFound | VaultError::NotInLog => problem(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Not found",
                    e.to_string(),
                    vec![],
                ),
                VaultError::Invalid(v) => validation("Invalid file", v.0),
                VaultError::MalformedCode(why) => validation(
                    "Invalid request",
                    vec![FieldError {
                        field: "code".into(),
                        message: why.to_string(),
                    }],
                ),
                VaultError::Integrity => {
                    tracing::error!(error = %e, "integrity failure");
                    problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "integrity",
                        "Integrity failure",
                        e.to_string(),
                        vec![],
                    )
                }
                VaultError::Contained { retry_after } => {
                    let mut r = problem(
                        StatusCode::TOO_MANY_REQUESTS,
                        "contained",
                        "Too many people",
                        e.to_string(),
                        vec![],
                    );
                    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    r
                }
                VaultError::ContainmentUnavailable => {
                    let mut r = problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "containment-unavailable",
                        "Containment unavailable",
                        e.to_string(),
                        vec![],
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    r
                }
                VaultError::Locked { retry_after } => {
                    let mut r = problem(
                        StatusCode::TOO_MANY_REQUESTS,
                        "locked",
                        "Too many failed credentials",
                        e.to_string(),
                        vec![],
                    );
                    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    r
                }
                VaultError::SecondFactor => {
                    let mut r = problem(
                        StatusCode::UNAUTHORIZED,
                        "second-factor",
                        "Second factor required",
                        e.to_string(),
                        vec![],
                    );
                    // RFC 9470: step-up authentication.
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(
                            "Bearer error=\"insufficient_user_authentication\", acr_values=\"eidas2\"",
                        ),
                    );
                    r
                }
                VaultError::Store(StoreError::Conflict(_)) => {
                    let mut r = problem(
                        StatusCode::CONFLICT,
                        "conflict",
                        "Conflict",
                        e.to_string(),
                        vec![],
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    r
                }
                other => {
                    tracing::error!(error = %other, "internal error");
                    internal()
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn errors(n: usize) -> Vec<FieldError> {
        (0..n)
            .map(|i| FieldError {
                field: format!("followup.events[{i}].date"),
                message: "is required".into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_write_that_lost_a_race_is_a_409_naming_what_changed() {
        let r =
            ApiError::Vault(VaultError::Store(StoreError::Conflict("the file"))).into_response();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let v = body_of(r).await;
        assert_eq!(v["status"], 409);
        assert!(v["detail"]
            .as_str()
            .unwrap()
            .contains("the file changed meanwhile"));
    }

    #[tokio::test]
    async fn a_validation_problem_lists_the_first_50_errors_and_counts_them_all() {
        let r = ApiError::Invalid(errors(1_500)).into_response();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let v = body_of(r).await;
        assert_eq!(v["errors"].as_array().unwrap().len(), ERRORS_REPORTED);
        assert_eq!(v["errors"][49]["field"], "followup.events[49].date");
        assert_eq!(v["total_errors"], 1_500);
        assert_eq!(v["truncated"], true);

        let v = body_of(ApiError::Invalid(errors(3)).into_response()).await;
        assert_eq!(v["errors"].as_array().unwrap().len(), 3);
        assert_eq!(
            (v["total_errors"].clone(), v["truncated"].clone()),
            (3.into(), false.into())
        );

        let v = body_of(ApiError::Vault(VaultError::NotFound).into_response()).await;
        assert!(v.get("total_errors").is_none() && v.get("truncated").is_none());
    }
}
