//! Errors as `application/problem+json` (RFC 9457), mapped from vault errors in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rempart_domain::FieldError;
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
    /// For validation: every invalid field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

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
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// A 422 naming every invalid field.
fn validation(title: &str, errors: Vec<FieldError>) -> Response {
    let detail = format!("{} invalid field(s)", errors.len());
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        title,
        detail,
        errors,
    )
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
            ApiError::Vault(e) => match e {
                VaultError::Unauthenticated => {
                    let mut r = problem(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "Unauthenticated",
                        e.to_string(),
                        vec![],
                    );
                    r.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
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
                VaultError::NotFound => problem(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Not found",
                    e.to_string(),
                    vec![],
                ),
                VaultError::Invalid(v) => validation("Invalid file", v.0),
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
                other => {
                    tracing::error!(error = %other, "internal error");
                    internal()
                }
            },
        }
    }
}
