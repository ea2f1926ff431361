//! The witness: where every checkpoint is copied outside the database, so that someone able to
//! rewrite the database cannot also rewrite what was signed before. Always an append-only file
//! (read back by `rempart audit verify`); also the local syslog socket, and optionally an HTTP
//! endpoint of another organisation, which keep their own copy (sent through `rempart-notify`).

use rempart_audit::Checkpoint;
use rempart_notify::{Channel, Facility, HttpPost, NotifyError, Outbound, Severity, Syslog};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The default syslog socket.
pub const DEFAULT_SYSLOG: &str = "/dev/log";

/// What is logged when the default syslog socket does not take a checkpoint.
const NO_SYSLOG: &str = "no syslog to copy audit checkpoints to; the witness file still has them";

/// A witness file (JSON lines, one checkpoint each), with its syslog and HTTP copies.
#[derive(Debug, Clone)]
pub struct Witness {
    path: PathBuf,
    syslog: Option<Outbound<Syslog>>,
    http: Option<HttpPost>,
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
        }
    }

    /// Also sends each checkpoint to the syslog socket at `socket` (facility authpriv,
    /// severity notice). When `required`, a failure to send is an error; otherwise (the
    /// default socket) it is a warning, once.
    pub fn with_syslog(mut self, socket: impl Into<PathBuf>, required: bool) -> Witness {
        let syslog = Syslog::new(
            socket,
            Facility::AuthPriv,
            Severity::Notice,
            "audit-checkpoint",
        );
        self.syslog = Some(if required {
            Outbound::required(syslog)
        } else {
            Outbound::optional(syslog, NO_SYSLOG)
        });
        self
    }

    /// Also POSTs each checkpoint (JSON) to `url`, which must answer 2xx.
    pub fn with_http(mut self, url: &str) -> Result<Witness, WitnessError> {
        self.http = Some(HttpPost::new(url).map_err(|e| match e {
            NotifyError::NotAUrl => self.err("the HTTP witness is not a URL"),
            _ => self.err("the HTTP witness must be an http:// or https:// URL"),
        })?);
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
            s.send(&json).map_err(copy_failed)?;
        }
        if let Some(h) = &self.http {
            h.send(&json).map_err(copy_failed)?;
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

/// A copy that failed, named as the witness has always named it: the syslog socket, or the
/// HTTP endpoint's scheme and host.
fn copy_failed(e: NotifyError) -> WitnessError {
    let (path, reason) = match e {
        NotifyError::Syslog { socket, error } => (socket, format!("syslog: {error}")),
        NotifyError::Http { endpoint, reason } => {
            (PathBuf::from(endpoint), format!("HTTP witness: {reason}"))
        }
        NotifyError::Status { endpoint, status } => (
            PathBuf::from(endpoint),
            format!("HTTP witness answered {status}"),
        ),
        e @ (NotifyError::NotAUrl | NotifyError::NotHttp) => {
            (PathBuf::new(), format!("HTTP witness: {e}"))
        }
        // Not channels of the witness.
        e @ (NotifyError::ShortSecret(_)
        | NotifyError::NotAnAddress(_)
        | NotifyError::NotSmtp
        | NotifyError::PlainSmtp
        | NotifyError::Smtp { .. }
        | NotifyError::Mailbox { .. }) => (PathBuf::new(), e.to_string()),
    };
    WitnessError { path, reason }
}
