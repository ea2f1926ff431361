//! The baseline server: same HTTP stack, plaintext table, no authentication, no encryption.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
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

async fn read(State(pool): State<Arc<Pool>>, Path(id): Path<String>) -> impl IntoResponse {
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

/// Serves `GET /v1/persons/{id}` from the plaintext table `persons(id, json)` of `db` until
/// the process ends; prints `listening on ADDR` to stderr once bound.
pub fn serve_baseline(db: PathBuf, listen: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let pool = Arc::new(Pool {
            path: db,
            idle: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/persons/{id}", get(read))
            .with_state(pool);
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("rempart: listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
