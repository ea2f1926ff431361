//! The load client: N concurrent connections reading random ids for a fixed time.

use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Successful requests per second.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Requests that did not return 200.
    pub errors: u64,
    /// Successful requests.
    pub requests: u64,
}

/// Runs `clients` concurrent loops of `GET {base}/v1/persons/{id}{query}` for `secs` seconds.
pub async fn load(
    base: &str,
    query: &str,
    token: Option<&str>,
    ids: Arc<Vec<String>>,
    clients: usize,
    secs: f64,
) -> anyhow::Result<LoadResult> {
    load_on(&[base], query, token, ids, clients, secs).await
}

/// [`load`], the clients spread over several servers (client `i` on `bases[i % n]`).
pub async fn load_on(
    bases: &[&str],
    query: &str,
    token: Option<&str>,
    ids: Arc<Vec<String>>,
    clients: usize,
    secs: f64,
) -> anyhow::Result<LoadResult> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let client = client.clone();
        let ids = ids.clone();
        let base = bases[i % bases.len().max(1)].to_string();
        let query = query.to_string();
        let auth = token.map(|t| format!("Bearer {t}"));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let id = &ids[rand::thread_rng().gen_range(0..ids.len())];
                let mut req = client.get(format!("{base}/v1/persons/{id}{query}"));
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().as_u16() == 200 => {
                        if r.bytes().await.is_ok() {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(LoadResult {
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
        requests: all.len() as u64,
    })
}
