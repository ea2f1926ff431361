//! Connections: the accept loop, its limits and timeouts, TLS.
//!
//! Each connection is served by hyper (HTTP/1.1) over an [`Guarded`] stream that enforces the
//! timeouts of [`ServeOptions`]:
//!
//! - the head of a request must arrive whole within `header_timeout`, counted from the
//!   connection's opening (first request) or from its first byte (later ones);
//! - a kept-alive connection with no request under way is closed after `idle_timeout` without
//!   a byte of a new one;
//! - a response that the client stops reading is abandoned after `idle_timeout` without
//!   progress;
//! - the body of a request must arrive whole within `idle_timeout` (read by the handlers, see
//!   [`crate::extract::RawBody`]).
//!
//! While a request is being answered, nothing on the connection is timed: the vault's work has
//! its own bounds. At most `max_connections` connections are open at once (the next ones wait
//! in the kernel's backlog), and at most `max_in_flight` requests are answered at once (the
//! next ones get a `503` with `Retry-After`, see [`crate::in_flight`]).

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_rustls::rustls;
use tower::ServiceExt;

/// The address of this server that a connection reached (its socket's local address): what a
/// DPoP proof must name when no [`ServeOptions::public_url`] is set. Unlike the `Host` header,
/// the client cannot choose it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalAddr(pub(crate) Option<SocketAddr>);

/// How the server treats connections and requests.
#[derive(Clone)]
pub struct ServeOptions {
    /// Time allowed for the head of a request (default 10 s); also for a TLS handshake.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request, a request body may take,
    /// and a response may go without progress (default 60 s).
    pub idle_timeout: Duration,
    /// Connections open at once (default 512).
    pub max_connections: usize,
    /// Requests answered at once; more get `503` with `Retry-After` (default 256).
    pub max_in_flight: usize,
    /// TLS, when the server speaks HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Breach response: the organisation, templates and channels.
    pub breach: Arc<crate::Breach>,
    /// Attempts at verifying a code per client address (`/v1/verify`, `/verify`).
    pub verify: crate::RateLimit,
    /// Questions "was I affected?" per client address (`/v1/affected`): 3 a minute, 20 a day.
    pub affected: crate::RateLimit,
    /// The server's address as clients reach it (`https://rempart.example`), behind a reverse
    /// proxy: what DPoP proofs name (`htu`). Without it, the scheme served and the address of
    /// the server that the connection reached (`http://127.0.0.1:8080`), never the `Host`
    /// header, which the client writes.
    pub public_url: Option<String>,
    /// Rempart's own sign-in at the identity provider (`/auth/login`, `/auth/callback`).
    pub sign_in: Option<Arc<crate::SignIn>>,
    /// Reverse proxies in front of the server: from them, the client is the rightmost address
    /// of `X-Forwarded-For` that is not one of them (rate limits, lockouts, the audit log).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_in_flight: 256,
            tls: None,
            breach: Arc::default(),
            verify: crate::RateLimit::default(),
            affected: crate::RateLimit {
                per_minute: 3,
                per_day: 20,
                ..crate::RateLimit::default()
            },
            public_url: None,
            sign_in: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("header_timeout", &self.header_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_in_flight", &self.max_in_flight)
            .field("tls", &self.tls.is_some())
            .field("verify", &self.verify)
            .finish()
    }
}

/// Why the TLS certificate or key could not be used. Messages name the file and the reason,
/// never the content of the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error("the TLS certificate file {} holds no valid PEM certificate (BEGIN CERTIFICATE)", .0.display())]
    Certificate(PathBuf),
    /// The key file holds no PEM private key, or a malformed one.
    #[error("the TLS key file {} holds no valid PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", .0.display())]
    Key(PathBuf),
    /// rustls refused the pair (for instance, a key that is not the certificate's).
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Refused(String),
}

/// Loads a PEM certificate chain and private key into a TLS server configuration (rustls,
/// TLS 1.2 and 1.3, HTTP/1.1 announced by ALPN).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
    };
    let cert_pem = read("certificate", cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::Certificate(cert.to_path_buf()))?;
    if certs.is_empty() {
        return Err(TlsError::Certificate(cert.to_path_buf()));
    }
    let key_pem = zeroize::Zeroizing::new(read("key", key)?);
    let key_der =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Key(key.to_path_buf()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // A PEM block whose content is not a key rustls can use is named as such, not as a
    // mismatch.
    provider
        .key_provider
        .load_private_key(key_der.clone_key())
        .map_err(|_| TlsError::Key(key.to_path_buf()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| TlsError::Refused(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests under way
/// finish (idle connections are closed at once) and returns.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    // Every connection task holds a receiver: `closed` completes once they have all ended.
    let (signal_tx, signal_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, a connection reset before it was accepted…:
                    // the next accept may succeed; do not spin meanwhile.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let local = LocalAddr(tcp.local_addr().ok());
        let (app, options, tls, mut signal) =
            (app.clone(), options.clone(), tls.clone(), signal_rx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(tcp, remote, local, app, &options, &mut signal).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(options.header_timeout, acceptor.accept(tcp)).await;
                    match handshake {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, remote, local, app, &options, &mut signal)
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = signal_tx.send(true);
    drop(signal_rx);
    signal_tx.closed().await;
    Ok(())
}

async fn serve_connection<IO>(
    io: IO,
    remote: SocketAddr,
    local: LocalAddr,
    app: Router,
    options: &ServeOptions,
    signal: &mut watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState::new(options));
    let io = TokioIo::new(Guarded::new(io, state.clone(), options));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let guard = state.begin();
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(remote));
        req.extensions_mut().insert(local);
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await?;
            // The request counts as under way until its response body is sent whole.
            Ok::<Response<Body>, std::convert::Infallible>(resp.map(move |b| {
                Body::new(b.map_frame(move |f| {
                    let _ = &guard;
                    f
                }))
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    if *signal.borrow_and_update() {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            changed = signal.changed() => {
                conn.as_mut().graceful_shutdown();
                if changed.is_err() {
                    // The server is gone; finish this connection without waiting for more.
                    let _ = conn.as_mut().await;
                    break;
                }
            }
        }
    }
}

/// Where a connection is, for its read timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request under way and no byte of the next one, since this instant; `first` before
    /// the connection's first request.
    Waiting { since: Instant, first: bool },
    /// Bytes of a request's head have come since this instant, not yet the whole head.
    Head { since: Instant },
    /// Requests under way (head read, response not yet sent whole).
    Busy(usize),
}

struct ConnState {
    inner: Mutex<Inner>,
    header: Duration,
    idle: Duration,
}

struct Inner {
    phase: Phase,
    /// The task of a read left waiting with no deadline while a request was under way: once
    /// the request ends, it is woken to take up the idle deadline (hyper does not read again
    /// of its own accord after a response).
    reader: Option<Waker>,
}

/// Marks the end of a request when dropped (its response sent, or the connection gone).
struct UnderWay(Arc<ConnState>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        let reader = {
            let mut i = self.0.lock();
            match i.phase {
                Phase::Busy(n) if n > 1 => {
                    i.phase = Phase::Busy(n - 1);
                    None
                }
                Phase::Busy(_) => {
                    i.phase = Phase::Waiting {
                        since: Instant::now(),
                        first: false,
                    };
                    i.reader.take()
                }
                _ => None,
            }
        };
        if let Some(w) = reader {
            w.wake();
        }
    }
}

impl ConnState {
    fn new(options: &ServeOptions) -> ConnState {
        ConnState {
            inner: Mutex::new(Inner {
                phase: Phase::Waiting {
                    since: Instant::now(),
                    first: true,
                },
                reader: None,
            }),
            header: options.header_timeout,
            idle: options.idle_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request's head has been read whole.
    fn begin(self: &Arc<Self>) -> UnderWay {
        let mut i = self.lock();
        i.phase = match i.phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        };
        UnderWay(self.clone())
    }

    /// Bytes were read.
    fn received(&self) {
        let mut i = self.lock();
        if let Phase::Waiting { .. } = i.phase {
            i.phase = Phase::Head {
                since: Instant::now(),
            };
        }
    }

    /// When a read left waiting must give up, if ever; with no deadline (a request under
    /// way), `waker` is woken when the request ends.
    fn read_deadline(&self, waker: &Waker) -> Option<Instant> {
        let mut i = self.lock();
        match i.phase {
            Phase::Waiting { since, first: true } | Phase::Head { since } => {
                Some(since + self.header)
            }
            Phase::Waiting {
                since,
                first: false,
            } => Some(since + self.idle),
            Phase::Busy(_) => {
                if !i.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    i.reader = Some(waker.clone());
                }
                None
            }
        }
    }
}

/// A connection's stream with its timeouts: a read waiting past the deadline of the
/// connection's [`Phase`], or a write making no progress for the idle timeout, fails with
/// `TimedOut`, and hyper closes the connection.
struct Guarded<IO> {
    io: IO,
    state: Arc<ConnState>,
    idle: Duration,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    write_stalled: bool,
}

impl<IO> Guarded<IO> {
    fn new(io: IO, state: Arc<ConnState>, options: &ServeOptions) -> Self {
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        Guarded {
            io,
            state,
            idle: options.idle_timeout,
            read_timer: Box::pin(tokio::time::sleep_until(far)),
            write_timer: Box::pin(tokio::time::sleep_until(far)),
            write_stalled: false,
        }
    }

    fn timed_out(what: &'static str) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, what)
    }

    /// Progress on a write, or the idle timeout's verdict on one that waits.
    fn write_progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.write_stalled = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !self.write_stalled {
                    self.write_stalled = true;
                    self.write_timer.as_mut().reset(Instant::now() + self.idle);
                }
                ready!(self.write_timer.as_mut().poll(cx));
                Poll::Ready(Err(Self::timed_out("the client stopped reading")))
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.received();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = this.state.read_deadline(cx.waker()) else {
                    return Poll::Pending;
                };
                if this.read_timer.deadline() != deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                ready!(this.read_timer.as_mut().poll(cx));
                Poll::Ready(Err(Self::timed_out("no request in time")))
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.write_progress(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.write_progress(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.write_progress(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_shutdown(cx);
        this.write_progress(cx, r)
    }
}
