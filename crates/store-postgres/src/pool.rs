//! Connections: a pool (r2d2) of PostgreSQL clients, each with the statements it has prepared,
//! checked before it is lent when it was idle a second or more, so that after a failover the
//! pool reconnects (to the new primary, when the connection string names every host with
//! `target_session_attrs=read-write`) without a restart; PostgreSQL's errors turned into the
//! store's.

use postgres::{NoTls, Statement};
use rempart_store::StoreError;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A connection idle this long is checked before it is lent again.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

pub(crate) fn db(context: &'static str) -> impl FnOnce(postgres::Error) -> StoreError {
    move |source| StoreError::backend(context, Sanitized::from(source))
}

/// A PostgreSQL error without what would repeat a stored value: its SQLSTATE and message are
/// kept, its DETAIL (`Key (hash)=(\x…) already exists`, `Failing row contains (…)`), HINT and
/// WHERE are dropped, and so is the source chain that holds them.
#[derive(Debug)]
pub(crate) struct Sanitized(String);

impl From<postgres::Error> for Sanitized {
    fn from(e: postgres::Error) -> Sanitized {
        Sanitized(match e.as_db_error() {
            Some(d) => format!("{} {}: {}", d.severity(), d.code().code(), d.message()),
            None => e.to_string(),
        })
    }
}

impl std::fmt::Display for Sanitized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Sanitized {}

/// A client and the statements prepared on it, by their text.
pub(crate) struct Conn {
    pub(crate) client: postgres::Client,
    pub(crate) prepared: HashMap<&'static str, Statement>,
    /// Left in an unknown state (a transaction that could not be ended): closed rather than
    /// lent again.
    pub(crate) broken: bool,
    /// When it was last lent (or checked).
    lent_at: Instant,
}

/// Opens clients for the pool, and tells a broken one.
pub(crate) struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.config.connect(NoTls)?,
            prepared: HashMap::new(),
            broken: false,
            lent_at: Instant::now(),
        })
    }

    /// A connection idle for [`CHECK_IDLE_AFTER`] or more is asked whether it still answers
    /// before it is lent (after a failover, or the server's restart, it does not: the pool
    /// opens another). One lent more recently is lent as it is, without a round trip; should
    /// it have died meanwhile, the call on it fails and it is closed.
    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        if conn.lent_at.elapsed() >= CHECK_IDLE_AFTER {
            conn.client.simple_query("")?;
        }
        conn.lent_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || conn.client.is_closed()
    }
}

/// A pooled client.
pub(crate) type Client = r2d2::PooledConnection<Manager>;

/// The connections to one database.
pub(crate) struct Pool {
    inner: r2d2::Pool<Manager>,
}

/// How long a request waits for a connection before it fails (the database is down, or every
/// connection is busy).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

impl Pool {
    /// Connections to the database at `url` (`postgres://…` or `host=… dbname=…`), at most
    /// `size` of them. Fails if the first cannot be opened: the message names the reason,
    /// never the password.
    pub(crate) fn connect(url: &str, size: u32) -> Result<Pool, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::backend("parse the database URL", Sanitized::from(e)))?;
        config.connect_timeout(Duration::from_secs(5));
        if config.get_application_name().is_none() {
            config.application_name("rempart");
        }
        let inner = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .test_on_check_out(true)
            .error_handler(Box::new(LogErrors))
            .build(Manager { config })
            .map_err(|e| StoreError::backend("connect to PostgreSQL", Sanitized(e.to_string())))?;
        Ok(Pool { inner })
    }

    /// A client, waiting at most [`CHECKOUT_TIMEOUT`].
    pub(crate) fn get(&self) -> Result<Client, StoreError> {
        self.inner
            .get()
            .map_err(|e| StoreError::backend("connect to PostgreSQL", Sanitized(e.to_string())))
    }
}

/// Failures of the pool's own (re)connections go to the server's log.
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<postgres::Error> for LogErrors {
    fn handle_error(&self, error: postgres::Error) {
        tracing::warn!(error = %error, "PostgreSQL connection failed");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::TestDb;

    #[test]
    fn an_error_names_the_constraint_but_not_the_value_that_broke_it() {
        let t = TestDb::new();
        let mut c = postgres::Client::connect(&t.url, NoTls).unwrap();
        c.batch_execute(
            "CREATE TABLE t (v TEXT PRIMARY KEY); INSERT INTO t VALUES ('secret-nir-1850')",
        )
        .unwrap();
        let e = c
            .execute("INSERT INTO t VALUES ('secret-nir-1850')", &[])
            .unwrap_err();
        assert!(
            format!("{e:?}").contains("secret-nir-1850"),
            "the raw error holds it"
        );
        let e = db("insert")(e);
        let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
        assert!(shown.contains("23505"), "{shown}");
        assert!(!shown.contains("secret-nir-1850"), "{shown}");
    }
}
