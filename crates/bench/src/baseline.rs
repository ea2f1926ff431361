//! The baseline server: same HTTP stack, plaintext table, no authentication, no encryption.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rusqlite::{Connection, OptionalExtension};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn get(&self) -> rusqlite::Result<Connection> {
        if let Some(c) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(c);
        }
        let c = Connection::open(&self.path)?;
        c.execute_batch("PRAGMA journal_mode = WAL;")?;
        Ok(c)
    }
    fn put(&self, c: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(c);
    }
}

/// The answer to a read of the plaintext table: its JSON, `404`, or `500`.
fn answer<E>(res: Result<Result<Option<String>, E>, tokio::task::JoinError>) -> Response {
    match res {
        Ok(Ok(Some(json))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Serves `app` on `listen` until the process ends, on `rt`; prints `listening on ADDR` to
/// stderr once bound.
fn serve_on(rt: tokio::runtime::Runtime, app: Router, listen: &str) -> anyhow::Result<()> {
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("rempart: listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn read(State(pool): State<Arc<Pool>>, Path(id): Path<String>) -> Response {
    let res = tokio::task::spawn_blocking(move || -> rusqlite::Result<Option<String>> {
        let c = pool.get()?;
        let r = c
            .prepare_cached("SELECT json FROM persons WHERE id = ?1")?
            .query_row([&id], |r| r.get::<_, String>(0))
            .optional();
        pool.put(c);
        r
    })
    .await;
    answer(res)
}

/// Serves `GET /v1/persons/{id}` from the plaintext table `persons(id, json)` of `db` until
/// the process ends; prints `listening on ADDR` to stderr once bound.
pub fn serve_baseline(db: PathBuf, listen: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let pool = Arc::new(Pool {
        path: db,
        idle: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/v1/persons/{id}", get(read))
        .with_state(pool);
    serve_on(rt, app, listen)
}

/// Connections of the PostgreSQL baseline, at most.
const BASELINE_CONNECTIONS: usize = 16;

/// A PostgreSQL connection with its prepared read.
struct PgConn {
    client: postgres::Client,
    read: postgres::Statement,
}

/// Connections to the plaintext PostgreSQL table, reused as [`Pool`]'s are.
struct PgPool {
    url: String,
    idle: Mutex<Vec<PgConn>>,
}

async fn read_pg(State(pool): State<Arc<PgPool>>, Path(id): Path<String>) -> Response {
    let res = tokio::task::spawn_blocking(move || -> Result<Option<String>, postgres::Error> {
        let popped = pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut c = match popped {
            Some(c) => c,
            None => {
                let mut client = postgres::Client::connect(&pool.url, postgres::NoTls)?;
                let read = client.prepare("SELECT json FROM persons WHERE id = $1")?;
                PgConn { client, read }
            }
        };
        let row = c.client.query_opt(&c.read, &[&id])?;
        pool.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(c);
        Ok(row.map(|r| r.get::<_, String>(0)))
    })
    .await;
    answer(res)
}

/// [`serve_baseline`] on the plaintext table `persons(id, json)` of the PostgreSQL database at
/// `url`.
pub fn serve_baseline_postgres(url: &str, listen: &str) -> anyhow::Result<()> {
    // A connection per blocking thread at most: the nodes measured beside it share the
    // server's `max_connections`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BASELINE_CONNECTIONS)
        .build()?;
    let pool = Arc::new(PgPool {
        url: url.to_string(),
        idle: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/v1/persons/{id}", get(read_pg))
        .with_state(pool);
    serve_on(rt, app, listen)
}
