//! The proofs of possession accepted, shared by the nodes through their shared counts, so
//! that a proof replayed to another node is refused too.

use rempart_oidc::ProofLedger;
use rempart_store::SharedGuard;
use std::sync::Arc;

/// The nodes' shared counts, as the ledger of proofs accepted.
pub(crate) struct SharedProofs(pub(crate) Arc<dyn SharedGuard>);

impl ProofLedger for SharedProofs {
    fn first_use(&self, key: &str, now: i64, keep_until: i64) -> Result<bool, String> {
        self.0
            .first_use(key, now, keep_until)
            .map_err(|e| e.to_string())
    }
}
