//! Audit-log benchmark: a log of N synthetic entries, then a signed checkpoint over it and a
//! full verification of it against the checkpoint (entries/s).

use anyhow::Result;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_crypto::Keyring;
use rempart_domain::FranceTravailPattern;
use rempart_store::{SqliteKeyStore, SqliteStore, Store};
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
    );
    eprintln!("bench: writing {n} audit entries");
    let t = Instant::now();
    let mut written = 0u64;
    while written < n {
        let chunk = (n - written).min(50_000);
        let entries: Vec<AuditEntry> = (0..chunk)
            .map(|i| AuditEntry {
                time: 1_795_000_000 + (written + i) as i64,
                principal: format!("c.counsellor{}", (written + i) % 97),
                token_id: "tok_0123456789abcdef".into(),
                agency: "ML-75-01".into(),
                role: "counsellor".into(),
                action: Action::Read,
                persons: vec![format!(
                    "{:08x}-0000-4000-8000-{:012x}",
                    (written + i) % 50_000,
                    written + i
                )],
                categories: vec!["identity".into(), "contact".into()],
                purpose: Some("accompaniment".into()),
                client: Some("127.0.0.1".into()),
                request_id: None,
                outcome: Outcome::Allowed,
                detail: None,
            })
            .collect();
        store.insert_persons(&[], &entries)?;
        written += chunk;
    }
    let write_secs = t.elapsed().as_secs_f64();
    let witness = Witness::new(root.join("audit.witness"));
    let t = Instant::now();
    let cp = vault.checkpoint(&witness)?;
    let cp_secs = t.elapsed().as_secs_f64();
    let key = vault.audit_public_key()?;
    eprintln!("bench: verifying");
    let t = Instant::now();
    let verified = vault.verify_audit(&key, &witness.read()?, &|_, _| {})?;
    let verify_secs = t.elapsed().as_secs_f64();
    let ok = verified.map(|v| v.entries == n).unwrap_or(false);
    let size_mib = std::fs::metadata(data.join(rempart_store::VAULT_FILE))
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    Ok(format!(
        "| audit log of {n} entries ({size_mib:.0} MiB) | value | target |\n| --- | --- | --- |\n\
         | bulk write (50,000 entries per transaction) | {:.0} entries/s | |\n\
         | signed checkpoint over the whole log (root recomputed from the entries) | {:.2} s ({:.0} entries/s) | |\n\
         | `audit verify` of the whole log against its checkpoint{} | {:.2} s, {:.0} entries/s | ≥ 2,000,000 entries/s |\n",
        cp.size as f64 / write_secs.max(1e-9),
        cp_secs,
        n as f64 / cp_secs.max(1e-9),
        if ok { "" } else { " — FAILED" },
        verify_secs,
        n as f64 / verify_secs.max(1e-9),
    ))
}
