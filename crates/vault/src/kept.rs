//! Containment's state kept across restarts (`GuardStore`): a restarted server does not give a
//! stolen token a fresh budget, nor forget the hours and baselines it learned.

use crate::core::Vault;
use crate::error::VaultError;

impl Vault {
    /// Takes back the containment state last saved; `Ok(false)` when there is none, or no
    /// guard, or when its counts are shared (they are kept where they are shared). A state this version cannot read is set aside with a warning: containment then
    /// starts afresh.
    pub fn load_guard(&self) -> Result<bool, VaultError> {
        let Some(guard) = self.guard.as_ref().and_then(|c| c.local()) else {
            return Ok(false);
        };
        let Some(bytes) = self.store.load_guard()? else {
            return Ok(false);
        };
        let mut g = guard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match g.import(&bytes) {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::warn!(error = %e, "containment starts afresh");
                Ok(false)
            }
        }
    }

    /// Saves the containment state when it changed since the last save; `Ok(true)` when it
    /// saved.
    pub fn save_guard(&self) -> Result<bool, VaultError> {
        let Some(guard) = self.guard.as_ref().and_then(|c| c.local()) else {
            return Ok(false);
        };
        let bytes = guard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .export();
        match bytes {
            Some(b) => {
                self.store.save_guard(&b, self.clock.now())?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
