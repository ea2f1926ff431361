//! Who is asking: the bearer token, the client address, the request id and a break-glass
//! justification, checked in the same blocking task as the act they guard.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rempart_store::Reads;
use rempart_vault::{Presented, Principal, Vault, VaultError};
use std::net::IpAddr;
use std::sync::Arc;

/// The credential of a request (`Authorization: Bearer TOKEN`, or `DPoP TOKEN` with its
/// `DPoP` proof); missing is a 401 at once. It is checked by [`Caller::run`] in the same
/// blocking task as the operation it guards, so that one request costs one trip to the
/// blocking pool. `Debug` shows nothing of it.
pub struct Caller {
    token: String,
    dpop_scheme: bool,
    proof: Option<String>,
    method: String,
    url: String,
    scope: &'static str,
    peer: Option<IpAddr>,
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

/// The scope a route needs of a token limited to scopes ([`rempart_vault::SCOPES`]).
fn scope_of(method: &axum::http::Method, path: &str) -> &'static str {
    let read = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    if path.starts_with("/v1/exports") {
        "exports"
    } else if path.starts_with("/v1/audit") || path.ends_with("/accesses") {
        "audit"
    } else if path.starts_with("/v1/incidents") {
        "incidents"
    } else if path.starts_with("/v1/alerts")
        || path.starts_with("/v1/principals")
        || path.starts_with("/v1/sessions")
    {
        "admin"
    } else if read || path.starts_with("/v1/search") {
        "persons:read"
    } else {
        "persons:write"
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

/// The client's address: the connection's peer; or, when the peer is a trusted reverse proxy
/// ([`crate::ServeOptions::trusted_proxies`]), the rightmost address of `X-Forwarded-For` that
/// is not one of them (what a client wrote further left is not believed).
fn client_of(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer(&parts.extensions)?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut forwarded: Vec<IpAddr> = Vec::new();
    for v in parts.headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else { return Some(peer) };
        for a in v.split(',') {
            match a.trim().parse::<IpAddr>() {
                Ok(ip) => forwarded.push(ip),
                // A header the proxy did not write cleanly: the proxy is the client.
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

/// The origin a DPoP proof must name when no public address is configured: the scheme served
/// and the address of this server that the connection reached (an IPv4 address reached over a
/// dual-stack socket written as IPv4, an IPv6 scope dropped). Never the `Host` header: a proof
/// made for another server, whose name the thief would write there, must not pass here. A
/// request that reached no socket (a router served without the accept loop) gets a reserved
/// name (RFC 6761), which a proof names only if its client is told to.
fn server_origin(tls: bool, extensions: &axum::http::Extensions) -> String {
    let scheme = if tls { "https" } else { "http" };
    match extensions
        .get::<crate::serve::LocalAddr>()
        .and_then(|l| l.0)
    {
        Some(addr) => match addr.ip() {
            IpAddr::V4(ip) => format!("{scheme}://{ip}:{}", addr.port()),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => format!("{scheme}://{v4}:{}", addr.port()),
                None => format!("{scheme}://[{ip}]:{}", addr.port()),
            },
        },
        None => format!("{scheme}://unknown.invalid"),
    }
}

/// The client address of a request without a token, for the rate limits of the public
/// endpoints: the connection's peer, as [`Caller`] records it; the unspecified address when
/// none was recorded (a router served without the accept loop), all such requests counted as
/// one client.
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            client_of(parts, &state.trusted_proxies)
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, dpop_scheme) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                let dpop = if scheme.eq_ignore_ascii_case("bearer") {
                    false
                } else if scheme.eq_ignore_ascii_case("dpop") {
                    true
                } else {
                    return None;
                };
                Some((rest.trim().to_string(), dpop))
            })
            .filter(|(t, _)| !t.is_empty())
            .ok_or(ApiError::Vault(VaultError::Unauthenticated))?;
        // One proof at most (RFC 9449 section 4.3).
        let mut proofs = parts.headers.get_all("dpop").iter();
        let proof = proofs
            .next()
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        if proofs.next().is_some() {
            return Err(ApiError::Vault(VaultError::Unauthenticated));
        }
        let peer = client_of(parts, &state.trusted_proxies);
        let client = peer.map(|ip| ip.to_string());
        let break_glass = parts.headers.get("x-break-glass").map(|v| {
            std::str::from_utf8(v.as_bytes())
                .map_err(|_| "the break-glass justification must be UTF-8 text")
                .and_then(rempart_vault::justification)
        });
        let path = parts.uri.path().to_string();
        let base = match &state.public_url {
            Some(u) => u.to_string(),
            None => server_origin(state.tls, &parts.extensions),
        };
        let matched = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| path.clone());
        Ok(Caller {
            token,
            dpop_scheme,
            proof,
            method: parts.method.as_str().to_string(),
            url: format!("{base}{path}"),
            scope: scope_of(&parts.method, &matched),
            peer,
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
        let peer = self.peer;
        let out = tokio::task::spawn_blocking(move || {
            let snapshot = v.snapshot()?;
            let p = self.principal(&v, &*snapshot)?;
            let args = checked?;
            f(&v, &*snapshot, p, args).map_err(ApiError::from)
        })
        .await
        .map_err(|_| ApiError::Join)?;
        backoff(vault, peer, out).await
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
        let peer = self.peer;
        let out = tokio::task::spawn_blocking(move || {
            let p = self.principal(&v, v.reads())?;
            let args = checked?;
            f(&v, p, args)
        })
        .await
        .map_err(|_| ApiError::Join)?;
        backoff(vault, peer, out).await
    }

    /// The caller's principal, authenticated through `reads`, with the request's facts.
    fn principal(self, v: &Vault, reads: &dyn Reads) -> Result<Principal, ApiError> {
        let p = v.authenticate_request(
            reads,
            &Presented {
                token: &self.token,
                dpop_scheme: self.dpop_scheme,
                proof: self.proof.as_deref(),
                method: &self.method,
                url: &self.url,
                client: self.peer,
                scope: self.scope,
            },
        )?;
        let break_glass = self
            .break_glass
            .transpose()
            .map_err(|m| ApiError::field("x-break-glass", m))?;
        Ok(p.with_request(self.client, Some(self.request_id), break_glass))
    }
}

/// A refused credential is answered after a delay that doubles with each failure from the
/// address (without holding a thread: the task sleeps).
async fn backoff<T>(
    vault: &Arc<Vault>,
    peer: Option<IpAddr>,
    out: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let (
        Err(ApiError::Vault(VaultError::Unauthenticated | VaultError::SecondFactor)),
        Some(ip),
    ) = (&out, peer)
    {
        // The counts may be shared by the nodes (a database or Redis call): off the runtime.
        let v = vault.clone();
        let delay = tokio::task::spawn_blocking(move || v.auth_delay(ip))
            .await
            .unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{client_of, scope_of};
    use axum::http::Method;
    use std::net::IpAddr;

    fn parts(peer: &str, forwarded: &[&str]) -> axum::http::request::Parts {
        let mut b = axum::http::Request::builder().extension(axum::extract::ConnectInfo(
            std::net::SocketAddr::new(peer.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])), 4000),
        ));
        for f in forwarded {
            b = b.header("x-forwarded-for", *f);
        }
        b.body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| unreachable!())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards_it() {
        let proxy = [IpAddr::from([10, 0, 0, 5])];
        // Not through the proxy: a client's own header is not believed.
        assert_eq!(
            client_of(&parts("192.0.2.1", &["198.51.100.9"]), &proxy),
            ip("192.0.2.1")
        );
        // Through it: the rightmost address that is not the proxy's.
        assert_eq!(
            client_of(&parts("10.0.0.5", &["203.0.113.7, 192.0.2.8"]), &proxy),
            ip("192.0.2.8")
        );
        assert_eq!(
            client_of(&parts("10.0.0.5", &["192.0.2.8", "10.0.0.5"]), &proxy),
            ip("192.0.2.8")
        );
        assert_eq!(client_of(&parts("10.0.0.5", &[]), &proxy), ip("10.0.0.5"));
        assert_eq!(
            client_of(&parts("10.0.0.5", &["not an address"]), &proxy),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn routes_need_their_scope() {
        assert_eq!(scope_of(&Method::GET, "/v1/persons/{id}"), "persons:read");
        assert_eq!(scope_of(&Method::POST, "/v1/search"), "persons:read");
        assert_eq!(
            scope_of(&Method::PATCH, "/v1/persons/{id}"),
            "persons:write"
        );
        assert_eq!(scope_of(&Method::POST, "/v1/persons"), "persons:write");
        assert_eq!(scope_of(&Method::GET, "/v1/persons/{id}/accesses"), "audit");
        assert_eq!(scope_of(&Method::POST, "/v1/exports/{id}/run"), "exports");
        assert_eq!(scope_of(&Method::GET, "/v1/principals"), "admin");
        assert_eq!(scope_of(&Method::GET, "/v1/incidents/{id}"), "incidents");
    }
}
