//! The witness: an append-only file outside the database that keeps every checkpoint, so that
//! someone able to rewrite the database cannot also rewrite what was signed before.

use rempart_audit::Checkpoint;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// A witness file (JSON lines, one checkpoint each).
#[derive(Debug, Clone)]
pub struct Witness {
    path: PathBuf,
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
        Witness { path: path.into() }
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

    /// Appends a checkpoint and syncs it to disk.
    pub fn append(&self, c: &Checkpoint) -> Result<(), WitnessError> {
        let mut line = serde_json::to_vec(c).map_err(|e| self.err(e))?;
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

    /// Every checkpoint it holds (none if the file does not exist yet).
    pub fn read(&self) -> Result<Vec<Checkpoint>, WitnessError> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
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
        Ok(out)
    }
}
