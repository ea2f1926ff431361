//! Master key rotation: every data key re-wrapped without opening a file, resumable.

use crate::core::*;
use crate::error::VaultError;
use crate::views::*;
use rempart_audit::Action;
use rempart_crypto::WrappedKey;
use rempart_store::StoredKey;

impl Vault {
    /// Re-wraps every data key under the keyring's current master version, in batches,
    /// without opening any file. Safe to interrupt and run again: it resumes where it stopped.
    pub fn rewrap_all(
        &self,
        batch: usize,
        progress: ImportProgress<'_>,
    ) -> Result<RotationReport, VaultError> {
        let current = self.keyring.current_version();
        let total = self.keys.count_below_version(current)?;
        let mut done = 0u64;
        loop {
            let rows = self.keys.keys_below_version(current, batch.max(1))?;
            if rows.is_empty() {
                break;
            }
            let mut out = Vec::with_capacity(rows.len());
            for k in rows {
                let w = self
                    .keyring
                    .rewrap(
                        &k.person,
                        &WrappedKey {
                            master_version: k.master_version,
                            bytes: k.wrapped,
                        },
                    )
                    .map_err(|_| VaultError::Integrity)?;
                out.push(StoredKey {
                    person: k.person,
                    master_version: w.master_version,
                    wrapped: w.bytes,
                });
            }
            self.keys.rewrap_keys(&out)?;
            done += out.len() as u64;
            progress(done, total);
        }
        self.record_local(
            Action::KeyRotate,
            format!("master_version={current} rewrapped={done}"),
        )?;
        Ok(RotationReport { rewrapped: done })
    }

    /// Keys still wrapped under an older master version (non-zero means a rotation is
    /// unfinished).
    pub fn pending_rewrap(&self) -> Result<u64, VaultError> {
        Ok(self
            .keys
            .count_below_version(self.keyring.current_version())?)
    }
}
