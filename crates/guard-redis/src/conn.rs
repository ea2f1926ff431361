//! Connections to Redis: a few kept behind a mutex and lent one call at a time, opened on
//! demand with short timeouts, closed after any failure (the next call opens a new one); and
//! Redis's errors turned into the store's without the URL, its password or anything sent.

use rempart_store::StoreError;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How long opening a connection may take (TCP connect, then the handshake: `AUTH`, `SELECT`).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long one command may wait to be sent, or for its reply.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_millis(500);

/// Idle connections kept for later calls, at most; more are closed when given back.
const MAX_IDLE: usize = 16;

/// Why a Redis call failed, without what could hold a secret or a stored value: the URL (its
/// password), a key (a principal's name), the bytes sent, or the server's free-text detail
/// (an unknown command's error repeats its arguments).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisFailure {
    /// The connection failed or timed out.
    #[error("I/O error: {0}")]
    Io(std::io::ErrorKind),
    /// The server refused the credentials.
    #[error("authentication failed")]
    Authentication,
    /// The server answered with an error: its code alone (`READONLY`, `OOM`, `NOAUTH`…).
    #[error("Redis error {0}")]
    Server(String),
    /// The URL or the client's settings are not usable (the URL itself is never repeated).
    #[error("invalid Redis URL or settings")]
    Config,
    /// The server's reply was not what the command returns.
    #[error("unexpected reply")]
    Reply,
    /// Any other failure of the client, by its category.
    #[error("Redis client error ({0})")]
    Other(&'static str),
}

impl From<&redis::RedisError> for RedisFailure {
    fn from(e: &redis::RedisError) -> RedisFailure {
        use redis::ErrorKind as K;
        // redis-rs keeps an I/O error behind an `Arc`, which is what `source` gives.
        let io = std::error::Error::source(e)
            .and_then(|s| {
                s.downcast_ref::<std::io::Error>().or_else(|| {
                    s.downcast_ref::<std::sync::Arc<dyn std::error::Error + Send + Sync>>()
                        .and_then(|a| a.downcast_ref::<std::io::Error>())
                })
            })
            .map(std::io::Error::kind);
        if let Some(kind) = io {
            return RedisFailure::Io(kind);
        }
        match e.kind() {
            K::Io => RedisFailure::Io(std::io::ErrorKind::Other),
            K::AuthenticationFailed => RedisFailure::Authentication,
            K::InvalidClientConfig => RedisFailure::Config,
            K::Parse | K::UnexpectedReturnType => RedisFailure::Reply,
            K::Server(_) | K::Extension => match e.code() {
                // A code is one upper-case word the server chose; anything else is dropped.
                Some(code)
                    if !code.is_empty()
                        && code.len() <= 32
                        && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
                {
                    RedisFailure::Server(code.to_owned())
                }
                _ => RedisFailure::Server("(unnamed)".to_owned()),
            },
            K::Client => RedisFailure::Other("client"),
            K::RESP3NotSupported => RedisFailure::Other("RESP3 not supported by the server"),
            _ => RedisFailure::Other("other"),
        }
    }
}

/// Turns a Redis error into the store's, with what was being done.
pub(crate) fn failed(context: &'static str) -> impl FnOnce(redis::RedisError) -> StoreError {
    move |e| StoreError::backend(context, RedisFailure::from(&e))
}

/// Whether a command failed because the connection was gone before anything was written
/// (a connection kept idle across a Redis restart): then a new connection may be tried.
fn dropped(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() && !e.is_timeout()
}

/// The client (which holds the URL) and the connections not in use.
pub(crate) struct Connections {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
}

/// A connection lent for one call. Given back with [`Connections::give_back`] once the call
/// succeeded; dropped otherwise, which closes it (it may be in the middle of a transaction, or
/// broken).
pub(crate) struct Lease {
    pub(crate) conn: redis::Connection,
    /// Taken from the idle set (it may have been closed by the server meanwhile).
    reused: bool,
}

impl Connections {
    /// Parses `url`; opens nothing.
    /// The connections to the Redis at `url`, and where it is (address and database, without
    /// credentials).
    pub(crate) fn new(url: &str) -> Result<(Connections, String), StoreError> {
        use redis::IntoConnectionInfo;
        let info = url
            .into_connection_info()
            .map_err(failed("parse the Redis URL"))?;
        let place = format!("{} db {}", info.addr(), info.redis_settings().db());
        // No `CLIENT SETINFO` on connecting: one round trip less, and a server that stopped
        // answering is found out after one timeout rather than two. No Nagle delay.
        let redis = info.redis_settings().clone().set_skip_set_lib_name();
        let tcp = info.tcp_settings().clone().set_nodelay(true);
        let info = info.set_redis_settings(redis).set_tcp_settings(tcp);
        let client = redis::Client::open(info).map_err(failed("parse the Redis URL"))?;
        Ok((
            Connections {
                client,
                idle: Mutex::new(Vec::new()),
            },
            place,
        ))
    }

    /// A new connection, with the timeouts set.
    fn open(&self) -> Result<Lease, StoreError> {
        let conn = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(failed("connect to Redis"))?;
        conn.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(failed("connect to Redis"))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(failed("connect to Redis"))?;
        Ok(Lease {
            conn,
            reused: false,
        })
    }

    /// An idle connection, or a new one.
    fn lease(&self) -> Result<Lease, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(Lease { conn, reused: true }),
            None => self.open(),
        }
    }

    /// A connection and the reply to `cmd`, its first command. Should a connection kept idle
    /// turn out to be closed (nothing was written through it), every idle connection is
    /// closed and `cmd` is sent once more on a new one. `cmd` must write nothing that a
    /// second sending would repeat (`WATCH`, `GET`, `PING`).
    pub(crate) fn first<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        context: &'static str,
    ) -> Result<(Lease, T), StoreError> {
        let mut lease = self.lease()?;
        match cmd.query::<T>(&mut lease.conn) {
            Ok(reply) => Ok((lease, reply)),
            Err(e) if lease.reused && dropped(&e) => {
                drop(lease);
                tracing::debug!(
                    error = %RedisFailure::from(&e),
                    "Redis connection closed while idle; reconnecting"
                );
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
                let mut lease = self.open()?;
                let reply = cmd.query::<T>(&mut lease.conn).map_err(failed(context))?;
                Ok((lease, reply))
            }
            Err(e) => Err(failed(context)(e)),
        }
    }

    /// Keeps a connection whose call succeeded for a later one.
    pub(crate) fn give_back(&self, lease: Lease) {
        if !redis::ConnectionLike::is_open(&lease.conn) {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(lease.conn);
        }
    }

    /// Connections kept idle now (tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_server_error_keeps_its_code_and_drops_its_detail() {
        let e = redis::make_extension_error(
            "ERR".to_owned(),
            Some("unknown command 'FOO', with args beginning with: 'secret-nir-1850'".into()),
        );
        let shown = RedisFailure::from(&e).to_string();
        assert_eq!(shown, "Redis error ERR");
        let e = redis::make_extension_error("x y 'secret'".to_owned(), None);
        assert_eq!(RedisFailure::from(&e).to_string(), "Redis error (unnamed)");
    }

    #[test]
    fn an_io_error_keeps_its_kind_alone() {
        let e = redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "redis://:secret@127.0.0.1:1",
        ));
        assert_eq!(
            RedisFailure::from(&e).to_string(),
            "I/O error: connection refused"
        );
    }

    #[test]
    fn the_place_names_the_server_and_database_never_the_credentials() {
        let (_, place) = Connections::new("redis://rempart:secret@10.0.0.7:6380/3").unwrap();
        assert_eq!(place, "10.0.0.7:6380 db 3");
    }

    #[test]
    fn a_url_that_does_not_parse_is_not_repeated() {
        for url in [
            "redis://:secret@[::1",
            "http://:secret@127.0.0.1/",
            "redis://:secret@127.0.0.1:99999/",
            "redis://:secret@127.0.0.1/notanumber",
        ] {
            let e = match Connections::new(url) {
                Ok(_) => panic!("{url} parsed"),
                Err(e) => e,
            };
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.starts_with("parse the Redis URL"), "{shown}");
        }
    }
}
