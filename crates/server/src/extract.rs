//! Extractors that never reject: a query, a path or a body that cannot be read becomes an
//! [`ApiError`] that the handler hands to [`crate::api::Caller`] with the request's
//! other checks, so that it is reported (as `application/problem+json`) only once the caller
//! is authenticated. An unauthenticated request always gets its 401 first.

use crate::problem::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::convert::Infallible;

/// The query string as `T`, or why it could not be read (never the value).
pub(crate) struct Q<T>(pub(crate) Result<T, ApiError>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        // The query decoder replaces bytes that are not UTF-8; they are refused instead.
        let utf8 = parts.uri.query().is_none_or(|q| {
            percent_encoding::percent_decode_str(q)
                .decode_utf8()
                .is_ok()
        });
        let query = Query::<T>::from_request_parts(parts, state).await;
        Ok(Q(query
            .ok()
            .filter(|_| utf8)
            .map(|Query(q)| q)
            .ok_or_else(|| {
                ApiError::field(
                    "query",
                    "could not be read: only the route's parameters, each at most once, percent-encoded UTF-8",
                )
            })))
    }
}

/// The path parameters as `T`, or why they could not be read (never the value).
pub(crate) struct P<T>(pub(crate) Result<T, ApiError>);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(P(Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| p)
            .map_err(|_| {
                ApiError::field("path", "could not be read: percent-encoded UTF-8 expected")
            })))
    }
}

/// The request body, or why it could not be read: too large (413), cut short or too slow
/// (400).
pub(crate) struct RawBody(pub(crate) Result<Bytes, ApiError>);

impl FromRequest<AppState> for RawBody {
    type Rejection = Infallible;

    /// The body must arrive whole within the idle timeout ([`crate::ServeOptions`]).
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Infallible> {
        let read = tokio::time::timeout(state.body_timeout, Bytes::from_request(req, state));
        Ok(RawBody(match read.await {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(r)) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::TooLarge),
            Ok(Err(_)) => Err(ApiError::BadRequest("the body could not be read")),
            Err(_) => Err(ApiError::BadRequest("the body did not arrive in time")),
        }))
    }
}
