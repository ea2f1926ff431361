//! Notice delivery: N people exposed by an incident (a stolen key), their notices prepared,
//! approved by the DPO and delivered to a real SMTP server on this machine (aiosmtpd's sink),
//! one message per recipient, each with its verification code: messages per minute.

use anyhow::{anyhow, bail, Context, Result};
use rempart_crypto::Keyring;
use rempart_domain::{Agency, FranceTravailPattern, Role};
use rempart_incident::{Language, Templates};
use rempart_notify::{Mailer, SendError};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{
    Courier, DeliveryError, IncidentSpec, NoticeOptions, Principal, Sender, SystemClock, Vault,
};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// aiosmtpd, taking every message and keeping none; killed when dropped.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Relay(Mailer);

impl Courier for Relay {
    fn email(&self, to: &str, subject: &str, body: &str, id: &str) -> Result<(), DeliveryError> {
        self.0.send(to, subject, body, id).map_err(|e| match e {
            SendError::Transient(w) => DeliveryError::Transient(w),
            SendError::Permanent(w) => DeliveryError::Permanent(w),
            SendError::Uncertain(w) => DeliveryError::Uncertain(w),
        })
    }
    fn sms(&self, _: &str, _: &str, _: &str) -> Result<(), DeliveryError> {
        Err(DeliveryError::Permanent(
            "no SMS gateway in this benchmark".into(),
        ))
    }
}

/// Delivers the notices of `n` people to a local SMTP server; the report's row.
pub fn run(root: &Path, n: usize) -> Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Sink",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting aiosmtpd (python3 -m pip install aiosmtpd)")?;
    let _sink = Sink(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(20) {
            bail!("aiosmtpd did not listen: python3 -m pip install aiosmtpd");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let data = root.join("notices-data");
    std::fs::create_dir_all(&data)?;
    let vault = Vault::new(
        Arc::new(SqliteStore::open(&data)?),
        Arc::new(SqliteKeyStore::open(&data)?),
        Arc::new(Keyring::generate()),
        Arc::new(SystemClock),
        FranceTravailPattern::default(),
        Arc::new(rempart_policy::Policies::default_policies()?),
    );
    eprintln!("bench: {n} files for the notices");
    let mut csv = Vec::new();
    rempart_synth::write_csv(&rempart_synth::generate(n, 3, 2026), &mut csv)?;
    let files = rempart_ingest::parse_csv(&csv, None, &vault.rules())
        .map_err(|e| anyhow!("synthetic files: {e}"))?;
    vault.import(&files, &|_, _| {})?;
    let console = Principal::local(Agency::parse("LOCAL")?);
    let incident = vault.open_incident(
        &console,
        &IncidentSpec {
            key_version: Some(1),
            ..IncidentSpec::default()
        },
    )?;
    let prepared = vault.prepare_notices(&console, &incident.id, Language::Fr)?;
    let dpo = Principal::described("dpo", Role::Dpo, Agency::parse("LOCAL")?);
    vault.approve_notices(&dpo, &incident.id)?;
    let relay = Relay(Mailer::new(
        &format!("smtp://127.0.0.1:{port}").into(),
        "ne-pas-repondre@ml.example",
    )?);
    let templates = Templates::default();
    let options = NoticeOptions {
        verify_url: "https://rempart.ml.example/verify".into(),
        contact: "dpo@ml.example".into(),
        ..NoticeOptions::default()
    };
    eprintln!("bench: delivering {} notices", prepared.total);
    let t = Instant::now();
    let report = vault.deliver_notices(
        &console,
        &incident.id,
        Sender {
            templates: &templates,
            courier: &relay,
            options: &options,
        },
        false,
        &|_: u64, _: u64| {},
    )?;
    let secs = t.elapsed().as_secs_f64();
    let ok = report.sent == prepared.total && prepared.total > 0;
    Ok(format!(
        "| notice delivery to a local SMTP server (aiosmtpd), {} messages, each rendered, with its code stored and its audit entry{} | {:.0} messages/min ({:.1} s) | ≥ 1,000 messages/min |\n",
        report.sent,
        if ok { "" } else { " — FAILED" },
        report.sent as f64 * 60.0 / secs.max(1e-9),
        secs,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// A few notices are delivered and counted, none failing.
    #[test]
    fn a_few_notices_are_delivered_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let row = super::run(dir.path(), 20).unwrap();
        assert!(!row.contains("FAILED"), "{row}");
    }
}
