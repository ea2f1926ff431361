//! The witness: where every checkpoint is copied outside the database, so that someone able to
//! rewrite the database cannot also rewrite what was signed before. Always an append-only file
//! (read back by `rempart audit verify`); also the local syslog socket, and optionally an HTTP
//! endpoint of another organisation, which keep their own copy.

use rempart_audit::Checkpoint;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The default syslog socket.
pub const DEFAULT_SYSLOG: &str = "/dev/log";

/// Syslog priority of a checkpoint message: facility authpriv (10), severity notice (5).
const SYSLOG_PRIORITY: u8 = 10 * 8 + 5;

/// A witness file (JSON lines, one checkpoint each), with its syslog and HTTP copies.
#[derive(Debug, Clone)]
pub struct Witness {
    path: PathBuf,
    syslog: Option<Syslog>,
    http: Option<String>,
    http_name: String,
}

#[derive(Debug, Clone)]
struct Syslog {
    socket: PathBuf,
    /// Chosen by the operator (a failure is an error) rather than the default (a warning).
    required: bool,
    warned: Arc<AtomicBool>,
}

/// The witness file as `rempart audit verify` reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witnessed {
    /// There is no witness file.
    Missing,
    /// The checkpoints the file holds, in the order appended (none if it is empty).
    Checkpoints(Vec<Checkpoint>),
    /// Not read: the operator chose to verify without it (`rempart audit verify
    /// --no-witness`).
    NotChecked,
}

impl Witnessed {
    /// The checkpoints read (none when the file is missing or was not read).
    pub fn checkpoints(&self) -> &[Checkpoint] {
        match self {
            Witnessed::Checkpoints(c) => c,
            Witnessed::Missing | Witnessed::NotChecked => &[],
        }
    }
}

/// Why the witness could not be used.
#[derive(Debug, thiserror::Error)]
#[error("witness {path}: {reason}")]
pub struct WitnessError {
    path: PathBuf,
    reason: String,
}

impl Witness {
    /// The witness at `path` (created on first append).
    pub fn new(path: impl Into<PathBuf>) -> Witness {
        Witness {
            path: path.into(),
            syslog: None,
            http: None,
            http_name: String::new(),
        }
    }

    /// Also sends each checkpoint to the syslog socket at `socket`. When `required`, a failure
    /// to send is an error; otherwise (the default socket) it is a warning, once.
    pub fn with_syslog(mut self, socket: impl Into<PathBuf>, required: bool) -> Witness {
        self.syslog = Some(Syslog {
            socket: socket.into(),
            required,
            warned: Arc::new(AtomicBool::new(false)),
        });
        self
    }

    /// Also POSTs each checkpoint (JSON) to `url`, which must answer 2xx.
    pub fn with_http(mut self, url: &str) -> Result<Witness, WitnessError> {
        let parsed: ureq::http::Uri = url
            .parse()
            .map_err(|_| self.err("the HTTP witness is not a URL"))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(self.err("the HTTP witness must be an http:// or https:// URL"));
        }
        self.http = Some(url.to_string());
        // Errors name the endpoint without its path, query or credentials.
        self.http_name = format!(
            "{}://{}",
            parsed.scheme_str().unwrap_or("http"),
            parsed.host().unwrap_or("?")
        );
        Ok(self)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, reason: impl ToString) -> WitnessError {
        WitnessError {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    /// Appends a checkpoint to the file and syncs it, then sends it to syslog and the HTTP
    /// endpoint. The file comes first: it is the copy `rempart audit verify` reads.
    pub fn append(&self, c: &Checkpoint) -> Result<(), WitnessError> {
        let json = serde_json::to_vec(c).map_err(|e| self.err(e))?;
        self.append_file(&json)?;
        if let Some(s) = &self.syslog {
            self.send_syslog(s, &json)?;
        }
        if let Some(url) = &self.http {
            self.post(url, &json)?;
        }
        Ok(())
    }

    fn send_syslog(&self, s: &Syslog, json: &[u8]) -> Result<(), WitnessError> {
        // RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut msg = format!(
            "<{SYSLOG_PRIORITY}>1 {now} - rempart {} audit-checkpoint - ",
            std::process::id()
        )
        .into_bytes();
        msg.extend_from_slice(json);
        let sent = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|sock| sock.send_to(&msg, &s.socket));
        match sent {
            Ok(_) => Ok(()),
            Err(e) if s.required => Err(WitnessError {
                path: s.socket.clone(),
                reason: format!("syslog: {e}"),
            }),
            Err(e) => {
                if !s.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(socket = %s.socket.display(), error = %e,
                        "no syslog to copy audit checkpoints to; the witness file still has them");
                }
                Ok(())
            }
        }
    }

    fn post(&self, url: &str, json: &[u8]) -> Result<(), WitnessError> {
        let fail = |reason: String| WitnessError {
            path: PathBuf::from(&self.http_name),
            reason,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        let resp = agent
            .post(url)
            .header("content-type", "application/json")
            .send(json)
            .map_err(|e| fail(format!("HTTP witness: {e}")))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP witness answered {}", resp.status())));
        }
        Ok(())
    }

    fn append_file(&self, json: &[u8]) -> Result<(), WitnessError> {
        let mut line = json.to_vec();
        line.push(b'\n');
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&self.path).map_err(|e| self.err(e))?;
        f.write_all(&line).map_err(|e| self.err(e))?;
        f.sync_all().map_err(|e| self.err(e))
    }

    /// Every checkpoint it holds, or [`Witnessed::Missing`] when the file does not exist: a
    /// missing witness is not an empty one (`audit verify` refuses a log with signed
    /// checkpoints and no witness).
    pub fn read(&self) -> Result<Witnessed, WitnessError> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Witnessed::Missing),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = Vec::new();
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| self.err(e))?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(&line)
                    .map_err(|_| self.err(format!("line {} is not a checkpoint", i + 1)))?,
            );
        }
        Ok(Witnessed::Checkpoints(out))
    }

    /// Whether the file is missing or empty, without reading it (`serve` checks this at
    /// start).
    pub fn is_missing_or_empty(&self) -> Result<bool, WitnessError> {
        match std::fs::metadata(&self.path) {
            Ok(m) => Ok(m.len() == 0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(self.err(e)),
        }
    }
}
