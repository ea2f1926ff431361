//! Containment's kept state: its counts, learned hours and baselines, so that a restart does
//! not give a stolen token a fresh budget. Opaque bytes to the store (pseudonymous ids and
//! principal names, no personal data).

use crate::StoreError;

/// Where containment's state is kept between runs.
pub trait GuardStore: Send + Sync {
    /// The state last saved, if any.
    fn load_guard(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the saved state with `state`, saved at `at` (Unix seconds).
    fn save_guard(&self, state: &[u8], at: i64) -> Result<(), StoreError>;
}
