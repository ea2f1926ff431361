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

/// A change of a principal's part and its agency's: their current bytes in, the new ones out
/// (`None`: nothing to write; an agency's part `None`: left as it was).
pub type PartsChange<'a> =
    dyn FnMut(Option<&[u8]>, Option<&[u8]>) -> Option<(Vec<u8>, Option<Vec<u8>>)> + 'a;

/// A change of a principal's part alone.
pub type PartChange<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// Counts shared by every node of an installation (Redis, or the database). Containment's: one
/// principal's part and its agency's, read and replaced together, atomically with respect to
/// every other node's change of either, so that a token used on several nodes in turn is held
/// to the budget of one. Authentication's: failed credential checks, and the proofs of
/// possession already used, so that a guesser or a replayed proof meets the limits of one node.
/// Opaque bytes, as for [`GuardStore`].
pub trait SharedGuard: Send + Sync {
    /// Calls `change` with the current parts of `principal` and `agency` (`None` for a part
    /// never written) and, when it returns new parts, writes them, unless another node changed
    /// the principal's meanwhile, or the agency's when `change` writes it: then `change` is
    /// called again on the new parts. (A change that leaves the agency's part as it was does
    /// not need it held: the changes are then as if made one after another, that one before
    /// the agency's next change. Most decisions leave it.) `change` may be called again when
    /// it turns out to write the agency's part. Returns once written (or once `change`
    /// returned `None`: nothing to write). An error means nothing is known
    /// to be written: containment must then refuse to let personal data leave.
    fn update(
        &self,
        principal: &str,
        agency: &str,
        change: &mut PartsChange<'_>,
    ) -> Result<(), StoreError>;

    /// A principal's part, read alone (its exposure, for an alert or a restore).
    fn principal_part(&self, principal: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Replaces a principal's part whatever it holds (a restored principal's refusals
    /// cleared), under the same atomicity as [`SharedGuard::update`].
    fn update_principal(
        &self,
        principal: &str,
        change: &mut PartChange<'_>,
    ) -> Result<(), StoreError>;

    /// Whether the shared counts can be reached now (for `/healthz`).
    fn reachable(&self) -> Result<(), StoreError>;

    /// Authentication's failed checks counted under `key` (a client address's, a
    /// principal's), as last written, unless kept past their time (`now`, Unix seconds).
    fn failures(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Calls `change` with the failures counted under `key` (`None`: none, or kept past their
    /// time at `now`) and writes what it returns, kept until `keep_until` (Unix seconds),
    /// atomically with respect to every other node's change of the same key (`change` may be
    /// called again on the new value).
    fn update_failures(
        &self,
        key: &str,
        now: i64,
        keep_until: i64,
        change: &mut PartChange<'_>,
    ) -> Result<(), StoreError>;

    /// Records `key` (a proof of possession) as used until `keep_until`: `true` when it was
    /// not (or no longer, at `now`) recorded, on any node. One node alone ever sees `true` for
    /// a key within its time.
    fn first_use(&self, key: &str, now: i64, keep_until: i64) -> Result<bool, StoreError>;
}
