//! Audit-log benchmark: a log of N synthetic entries, then a signed checkpoint over it and a
//! full verification of it against the checkpoint (entries/s).

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_crypto::Keyring;
use rempart_domain::FranceTravailPattern;
use rempart_store::{AuditLog, FileStore};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{SystemClock, Vault, Witness};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Builds a log of `n` entries in `root` and reports checkpoint and verification speed.
pub fn run(root: &Path, n: u64) -> Result<String> {
    let data = root.join("audit-data");
    std::fs::create_dir_all(&data)?;
    let store = Arc::new(SqliteStore::open(&data)?);
    let keys = Arc::new(SqliteKeyStore::open(&data)?);
    let vault = Vault::new(
        store.clone(),
        keys,
        Arc::new(Keyring::generate()),
        Arc::new(SystemClock),
        FranceTravailPattern::default(),
        Arc::new(rempart_policy::Policies::default_policies()?),
    );
    eprintln!("bench: writing {n} audit entries");
    let t = Instant::now();
    let mut written = 0u64;
    while written < n {
        let chunk = (n - written).min(50_000);
        store.insert_persons(&[], &entries_from(written, chunk))?;
        written += chunk;
    }
    let write_secs = t.elapsed().as_secs_f64();
    // Fold the WAL back into the database, as a running server's checkpoints keep doing.
    store.checkpoint()?;
    // The per-person index built from the log (`audit reindex`), so that what follows is timed
    // with the indexer idle, as on an installation whose server keeps its index current (the
    // store's indexer thread would otherwise be indexing the ten million entries meanwhile).
    eprintln!("bench: rebuilding the per-person index");
    let t = Instant::now();
    let reindexed = vault.rebuild_audit_index(&|_, _| {})?;
    let reindex_secs = t.elapsed().as_secs_f64();
    let witness = Witness::new(root.join("audit.witness"));
    let t = Instant::now();
    let cp = vault.checkpoint(&witness)?;
    let cp_secs = t.elapsed().as_secs_f64();
    // Reading alone, for the split between the database and the hashing.
    let t = Instant::now();
    let mut bytes_read = 0usize;
    store.audit_visit(0, &mut |_, e, l| {
        bytes_read += e.len() + l.len();
        true
    })?;
    let scan_secs = t.elapsed().as_secs_f64();
    let key = vault.audit_public_key()?;
    eprintln!("bench: verifying");
    let t = Instant::now();
    let verified = vault.verify_audit(&key, &witness.read()?, &|_, _| {})?;
    let verify_secs = t.elapsed().as_secs_f64();
    // The n entries, and the reindex's own entry (an administrative act, recorded).
    let ok = verified.map(|v| v.entries == n + 1).unwrap_or(false);
    // The per-person index compared with the log (`audit verify`'s second pass).
    eprintln!("bench: checking the per-person index");
    let t = Instant::now();
    let index = vault.check_audit_index(&|_, _| {})?;
    let index_secs = t.elapsed().as_secs_f64();
    // The indexer thread may have indexed the reindex's entry meanwhile, or not yet.
    let index_ok =
        reindexed == n && (n..=n + 1).contains(&index.through) && index.first_difference.is_none();
    // Proofs against the checkpoint, for entries spread over the whole log.
    let op = rempart_vault::Principal::local(rempart_domain::Agency::parse("ML-75-01")?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // Generation alone (the audit path from the stored subtrees), then the whole API call,
    // which also records the reading of the proof in the log (a durable append).
    let mut generation = Vec::new();
    for _ in 0..1000 {
        let seq = rng.gen_range(1..=cp.size);
        let t = Instant::now();
        let path =
            rempart_audit::merkle::inclusion_path(&mut *store.audit_subtrees()?, seq - 1, cp.size)?;
        generation.push(t.elapsed().as_secs_f64());
        std::hint::black_box(path);
    }
    let mut inclusion = Vec::new();
    for _ in 0..200 {
        let seq = rng.gen_range(1..=cp.size);
        let t = Instant::now();
        let proof = vault.inclusion_proof(&op, seq, None)?;
        inclusion.push(t.elapsed().as_secs_f64());
        if proof.verify(&key).is_err() {
            anyhow::bail!("an inclusion proof of entry {seq} did not verify");
        }
    }
    // A second checkpoint after 1,000 more entries: resumed from the first (stored subtrees
    // checked against its signed root), only the new entries hashed again.
    store.insert_persons(&[], &entries_from(n, 1000))?;
    let t = Instant::now();
    let cp2 = vault.checkpoint(&witness)?;
    let cp2_secs = t.elapsed().as_secs_f64();
    let mut consistency = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let proof = vault.consistency_proof(&op, cp.size, cp2.size)?;
        consistency.push(t.elapsed().as_secs_f64());
        if proof.verify(&key).is_err() {
            anyhow::bail!("a consistency proof did not verify");
        }
    }
    // The log now holds the n entries and the 1,000 written since.
    let impact = impact(&vault, n + 1000)?;
    let size_mib = std::fs::metadata(data.join(rempart_store_sqlite::AUDIT_FILE))
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    Ok(format!(
        "| audit log of {n} entries ({size_mib:.0} MiB) | value | target |\n| --- | --- | --- |\n\
         | bulk write (50,000 entries per transaction) | {:.0} entries/s | |\n\
         | signed checkpoint over the whole log (root recomputed from the entries) | {:.2} s ({:.0} entries/s) | |\n\
         | reading the entries alone (SQLite scan, {:.0} bytes per entry) | {:.2} s, {:.0} entries/s | |\n\
         | `audit verify` of the whole log against its checkpoint{} | {:.2} s, {:.0} entries/s | ≥ 2,000,000 entries/s |\n\
         | `audit reindex`: the per-person index rebuilt from the log (the store's own indexer thread indexing the same entries meanwhile) | {:.2} s, {:.0} entries/s | |\n\
         | per-person index compared with the log (`audit verify`'s second pass){} | {:.2} s, {:.0} entries/s | |\n\
         | next checkpoint, 1,000 entries later (resumed from the stored subtrees) | {:.2} ms | |\n\
         | inclusion proof generation for a random entry (1,000 proofs) | p50 {:.0} µs, p99 {:.0} µs | < 1 ms |\n\
         | `GET …/proof/inclusion` path: checkpoint, entry, proof, its own audit entry (200 calls, each verified) | p50 {:.0} µs, p99 {:.0} µs | |\n\
         | consistency proof between the two checkpoints (100 calls, with their audit entries) | p50 {:.0} µs, p99 {:.0} µs | < 1 ms |\n\
         {impact}",
        cp.size as f64 / write_secs.max(1e-9),
        cp_secs,
        n as f64 / cp_secs.max(1e-9),
        bytes_read as f64 / n.max(1) as f64,
        scan_secs,
        n as f64 / scan_secs.max(1e-9),
        if ok { "" } else { " — FAILED" },
        verify_secs,
        n as f64 / verify_secs.max(1e-9),
        reindex_secs,
        n as f64 / reindex_secs.max(1e-9),
        if index_ok { "" } else { " — FAILED" },
        index_secs,
        n as f64 / index_secs.max(1e-9),
        cp2_secs * 1e3,
        quantile(&mut generation, 0.5) * 1e6,
        quantile(&mut generation, 0.99) * 1e6,
        quantile(&mut inclusion, 0.5) * 1e6,
        quantile(&mut inclusion, 0.99) * 1e6,
        quantile(&mut consistency, 0.5) * 1e6,
        quantile(&mut consistency, 0.99) * 1e6,
    ))
}

/// The first entry's time: entry `i` (from 0) is one second later.
const T0: i64 = 1_795_000_000;

/// Incident impact on the log of `n` entries: one principal over one week (through the index
/// by principal and day), the same principal over the whole log, and a stolen key (the whole
/// log read to know what the copy held). Each checked against what the entries are.
fn impact(vault: &Vault, n: u64) -> Result<String> {
    let console = rempart_vault::Principal::local(rempart_domain::Agency::parse("LOCAL")?);
    let week = 7 * 86_400;
    // A week in the middle of the log (or the whole log when it is shorter).
    let since = T0 + (n as i64 / 2 - week / 2).max(0);
    let until = since + week;
    let who = 5u64;
    let expected = (0..n)
        .filter(|i| i % 97 == who && (since..until).contains(&(T0 + *i as i64)))
        .count();
    let principal = format!("c.counsellor{who}");
    let open = |since: i64, until: Option<i64>| -> Result<String> {
        let spec = rempart_vault::IncidentSpec {
            scope: rempart_vault::IncidentScope {
                principals: vec![principal.clone()],
                since,
                until,
                ..Default::default()
            },
            ..Default::default()
        };
        Ok(vault.open_incident(&console, &spec)?.id)
    };
    eprintln!("bench: incident impact, one principal over one week");
    let id = open(since, Some(until))?;
    let t = Instant::now();
    let week_impact = vault.incident_impact(&console, &id)?;
    let week_secs = t.elapsed().as_secs_f64();
    let week_ok = week_impact.people.len() == expected;
    eprintln!("bench: incident impact, one principal over the whole log");
    let id = open(i64::MIN, None)?;
    let t = Instant::now();
    let all_impact = vault.incident_impact(&console, &id)?;
    let all_secs = t.elapsed().as_secs_f64();
    let all_expected = (0..n).filter(|i| i % 97 == who).count();
    let all_ok = all_impact.people.len() == all_expected;
    eprintln!("bench: incident for a stolen key");
    let t = Instant::now();
    let stolen = vault.open_incident(
        &console,
        &rempart_vault::IncidentSpec {
            key_version: Some(1),
            ..Default::default()
        },
    )?;
    let key_secs = t.elapsed().as_secs_f64();
    Ok(format!(
        "| incident impact, one principal over one week ({} people, through the index by principal and day){} | {:.2} s | < 10 s |\n\
         | incident impact, the same principal over the whole log ({} people, every entry read) {} | {:.2} s, {:.0} entries/s | |\n\
         | incident for a stolen key: the whole log read for what the copy held ({} files) | {:.2} s, {:.0} entries/s | |\n",
        week_impact.people.len(),
        if week_ok { "" } else { " — FAILED" },
        week_secs,
        all_impact.people.len(),
        if all_ok { "" } else { " — FAILED" },
        all_secs,
        n as f64 / all_secs.max(1e-9),
        stolen.held,
        key_secs,
        n as f64 / key_secs.max(1e-9),
    ))
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

/// `count` synthetic read entries numbered from `from`, with the fields a read through
/// `rempart serve` records.
fn entries_from(from: u64, count: u64) -> Vec<AuditEntry> {
    (from..from + count)
        .map(|i| AuditEntry {
            time: T0 + i as i64,
            principal: format!("c.counsellor{}", i % 97),
            token_id: "tok_0123456789abcdef".into(),
            agency: "ML-75-01".into(),
            role: "counsellor".into(),
            action: Action::Read,
            persons: vec![format!("{:08x}-0000-4000-8000-{:012x}", i % 50_000, i)],
            categories: vec!["identity".into(), "contact".into()],
            purpose: Some("accompaniment".into()),
            client: Some("127.0.0.1".into()),
            // As `rempart serve` records them: a generated request id.
            request_id: Some(format!(
                "{:08x}-{:04x}-4000-8000-{:012x}",
                i * 7919,
                i % 65_536,
                i
            )),
            outcome: Outcome::Allowed,
            detail: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// The benchmark checks what it times (verification, the index check, every proof): a small
    /// log must come out with no failure marked.
    #[test]
    fn a_small_log_is_benchmarked_without_failure() {
        let dir = tempfile::tempdir().unwrap();
        let report = super::run(dir.path(), 3000).unwrap();
        assert!(!report.contains("FAILED"), "{report}");
        assert!(report.contains("audit log of 3000 entries"), "{report}");
    }
}
