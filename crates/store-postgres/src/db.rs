//! Running statements: on a pooled connection ([`Conn`]) or in a transaction ([`Tx`]), each
//! statement prepared once per connection; errors named by what was being done.

use crate::pool::{db, Client, Conn, Pool};
use postgres::types::ToSql;
use postgres::{GenericClient, Row, Statement};
use rempart_store::StoreError;
use std::collections::HashMap;

/// Parameters of a statement.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Something statements run on.
pub(crate) trait Exec {
    /// `sql`, prepared once per connection.
    fn prep(&mut self, sql: &'static str) -> Result<Statement, StoreError>;
    /// The client itself.
    fn client(&mut self) -> &mut dyn Runs;

    /// The rows of `sql`.
    fn rows(
        &mut self,
        sql: &'static str,
        p: Params<'_>,
        what: &'static str,
    ) -> Result<Vec<Row>, StoreError> {
        let st = self.prep(sql)?;
        self.client().run_query(&st, p).map_err(db(what))
    }
    /// The row of `sql`, if any.
    fn row(
        &mut self,
        sql: &'static str,
        p: Params<'_>,
        what: &'static str,
    ) -> Result<Option<Row>, StoreError> {
        let st = self.prep(sql)?;
        self.client().run_query_opt(&st, p).map_err(db(what))
    }
    /// The one row of `sql`.
    fn one(
        &mut self,
        sql: &'static str,
        p: Params<'_>,
        what: &'static str,
    ) -> Result<Row, StoreError> {
        self.row(sql, p, what)?
            .ok_or(StoreError::Corrupt("a row the schema guarantees"))
    }
    /// Runs `sql`; the rows it changed.
    fn exec(
        &mut self,
        sql: &'static str,
        p: Params<'_>,
        what: &'static str,
    ) -> Result<u64, StoreError> {
        let st = self.prep(sql)?;
        self.client().run_execute(&st, p).map_err(db(what))
    }
}

/// The calls [`Exec`] makes, on a client or a transaction (object-safe).
pub(crate) trait Runs {
    fn run_query(&mut self, st: &Statement, p: Params<'_>) -> Result<Vec<Row>, postgres::Error>;
    fn run_query_opt(
        &mut self,
        st: &Statement,
        p: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error>;
    fn run_execute(&mut self, st: &Statement, p: Params<'_>) -> Result<u64, postgres::Error>;
}

impl<C: GenericClient> Runs for C {
    fn run_query(&mut self, st: &Statement, p: Params<'_>) -> Result<Vec<Row>, postgres::Error> {
        self.query(st, p)
    }
    fn run_query_opt(
        &mut self,
        st: &Statement,
        p: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        self.query_opt(st, p)
    }
    fn run_execute(&mut self, st: &Statement, p: Params<'_>) -> Result<u64, postgres::Error> {
        self.execute(st, p)
    }
}

fn prepared(
    cache: &mut HashMap<&'static str, Statement>,
    c: &mut impl GenericClient,
    sql: &'static str,
) -> Result<Statement, StoreError> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(sql).map_err(db("prepare a statement"))?;
    cache.insert(sql, s.clone());
    Ok(s)
}

impl Exec for Conn {
    fn prep(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        prepared(&mut self.prepared, &mut self.client, sql)
    }
    fn client(&mut self) -> &mut dyn Runs {
        &mut self.client
    }
}

impl Exec for Client {
    fn prep(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        (**self).prep(sql)
    }
    fn client(&mut self) -> &mut dyn Runs {
        &mut self.client
    }
}

/// A transaction on a pooled connection, with that connection's prepared statements.
pub(crate) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

impl Exec for Tx<'_> {
    fn prep(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        prepared(self.prepared, &mut self.tx, sql)
    }
    fn client(&mut self) -> &mut dyn Runs {
        &mut self.tx
    }
}

impl<'a> Tx<'a> {
    /// Begins a transaction on `conn`.
    pub(crate) fn begin(conn: &'a mut Conn, what: &'static str) -> Result<Tx<'a>, StoreError> {
        let Conn {
            client, prepared, ..
        } = conn;
        Ok(Tx {
            tx: client.transaction().map_err(db(what))?,
            prepared,
        })
    }

    /// Begins a read-only transaction on `conn` that sees one state of the database
    /// throughout (`REPEATABLE READ`: PostgreSQL's snapshot isolation).
    pub(crate) fn begin_snapshot(
        conn: &'a mut Conn,
        what: &'static str,
    ) -> Result<Tx<'a>, StoreError> {
        let Conn {
            client, prepared, ..
        } = conn;
        Ok(Tx {
            tx: client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(db(what))?,
            prepared,
        })
    }

    /// Statements without parameters, sent at once (one round trip).
    pub(crate) fn batch(&mut self, sql: &str, what: &'static str) -> Result<(), StoreError> {
        self.tx.batch_execute(sql).map_err(db(what))
    }

    /// Commits.
    pub(crate) fn commit(self, what: &'static str) -> Result<(), StoreError> {
        self.tx.commit().map_err(db(what))
    }
}

/// Runs `f` in a transaction of its own on a connection of `pool`, and commits; nothing of it
/// is kept if `f` fails.
pub(crate) fn in_tx<T>(
    pool: &Pool,
    what: &'static str,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut c = pool.get()?;
    let mut tx = Tx::begin(&mut c, what)?;
    let out = f(&mut tx)?;
    tx.commit(what)?;
    Ok(out)
}

/// Runs `f` in a read-only snapshot ([`Tx::begin_snapshot`]) on a connection of `pool`.
pub(crate) fn in_snapshot<T>(
    pool: &Pool,
    what: &'static str,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut c = pool.get()?;
    let mut tx = Tx::begin_snapshot(&mut c, what)?;
    let out = f(&mut tx)?;
    tx.commit(what)?;
    Ok(out)
}
