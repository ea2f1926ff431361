//! Who is asking: the bearer token, the client address, the request id and a break-glass
//! justification, checked in the same blocking task as the act they guard.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rempart_store::Reads;
use rempart_vault::{Principal, Vault, VaultError};
use std::net::IpAddr;
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

/// The address of the connection's peer, as the accept loop recorded it (`ConnectInfo`).
fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client address of a request without a token, for the rate limits of the public
/// endpoints: the connection's peer, as [`Caller`] records it; the unspecified address when
/// none was recorded (a router served without the accept loop), all such requests counted as
/// one client.
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            peer(&parts.extensions).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        ))
    }
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
        let client = peer(&parts.extensions).map(|ip| ip.to_string());
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
