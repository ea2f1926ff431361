//! The conformance suite of Rempart's storage: what any implementation of the `rempart-store`
//! traits must do, written once against the traits and run by every backend.
//!
//! A backend runs the whole suite from its own tests with one line, giving a function that
//! opens a new, empty installation:
//!
//! ```text
//! rempart_store_conformance::conformance_tests!(|| open_a_new_store());
//! ```
//!
//! Each check is also a public function, named for what it asserts. [`Refusing`] wraps any
//! store to refuse audit entries through the traits, for the "no log, no data" tests of the
//! layers above.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// A conformance check that fails panics, naming what failed: that is its report.
#![allow(clippy::unwrap_used)]

mod accounts;
mod codes;
mod files;
mod incidents;
mod index;
mod keys;
mod log;
mod markers;
mod reads;
mod refusing;
mod shared;
mod tokens;

pub use accounts::accounts_are_requested_decided_once_and_changed_over_their_tag;
pub use codes::verification_codes_are_kept_whole_and_found_by_lookup;
pub use files::{
    a_write_returns_once_its_entry_is_in_the_log, an_insert_is_all_or_nothing_with_its_entries,
    decoys_are_kept_apart_from_counts, files_are_written_read_searched_listed_and_erased,
};
pub use incidents::{
    an_incident_keeps_its_people_filings_and_timeline, notices_are_claimed_once_and_settled,
};
pub use index::{
    a_persons_history_is_complete_newest_first, a_principals_entries_are_found_by_day,
};
pub use keys::{
    a_rewrap_does_not_resurrect_a_destroyed_key, keys_are_put_read_listed_by_version_and_destroyed,
};
pub use log::{checkpoints_are_kept_by_size, entries_keep_their_order_leaves_and_subtrees};
pub use markers::an_export_runs_once_with_its_markers;
pub use reads::a_snapshot_sees_one_state_until_dropped;
pub use refusing::Refusing;
pub use shared::{
    authentication_counts_are_shared_and_kept_until_their_time,
    shared_counts_are_changed_together_and_lose_no_update,
};
pub use tokens::{
    an_alert_comes_with_its_suspension_and_closes_with_the_restore, the_guard_state_is_kept_whole,
    tokens_change_only_over_their_tag_and_suspension_blocks_new_ones,
};

use rempart_audit::AuditEntry;
use rempart_domain::Category;
use rempart_store::{KeyStore, NewPerson, Store, TokenRecord};
use std::sync::Arc;

/// A new, empty installation of the backend under test: its stores, and whatever must live
/// as long as they do (a temporary directory, a database dropped at the end).
pub struct Fixture {
    /// Files, tokens and the audit log.
    pub store: Arc<dyn Store>,
    /// The key store.
    pub keys: Arc<dyn KeyStore>,
    /// Kept alive until the check ends.
    pub guard: Box<dyn std::any::Any>,
}

/// Runs every check of the suite as a test of its own, each on a new installation made by
/// `$open` (an expression of type `Fn() -> Fixture`).
#[macro_export]
macro_rules! conformance_tests {
    ($open:expr) => {
        $crate::conformance_tests!(@each $open;
            files_are_written_read_searched_listed_and_erased,
            an_insert_is_all_or_nothing_with_its_entries,
            decoys_are_kept_apart_from_counts,
            an_export_runs_once_with_its_markers,
            a_write_returns_once_its_entry_is_in_the_log,
            a_snapshot_sees_one_state_until_dropped,
            tokens_change_only_over_their_tag_and_suspension_blocks_new_ones,
            accounts_are_requested_decided_once_and_changed_over_their_tag,
            an_alert_comes_with_its_suspension_and_closes_with_the_restore,
            the_guard_state_is_kept_whole,
            entries_keep_their_order_leaves_and_subtrees,
            checkpoints_are_kept_by_size,
            a_persons_history_is_complete_newest_first,
            a_principals_entries_are_found_by_day,
            an_incident_keeps_its_people_filings_and_timeline,
            notices_are_claimed_once_and_settled,
            keys_are_put_read_listed_by_version_and_destroyed,
            a_rewrap_does_not_resurrect_a_destroyed_key,
            verification_codes_are_kept_whole_and_found_by_lookup
        );
    };
    (@each $open:expr; $($check:ident),+) => {
        $(
            #[test]
            fn $check() {
                $crate::$check(&$open)
            }
        )+
    };
}

/// A file of `agency` whose id starts the tag of its facts, with two sealed categories
/// (opaque bytes: the store never opens them) and one blind-index entry.
pub(crate) fn person(id: &str, agency: &str) -> NewPerson {
    NewPerson {
        id: id.into(),
        agency: agency.into(),
        counsellor: Some("c.a".into()),
        dk_version: 1,
        fields: vec![
            (Category::Identity, vec![1, 2, 3]),
            (Category::Contact, vec![4, 5]),
        ],
        index: vec![(1, [9; 32])],
        now: 100,
        facts_tag: vec![id.as_bytes()[0]; 32],
        decoy: false,
    }
}

/// An entry naming person "a".
pub(crate) fn entry() -> AuditEntry {
    AuditEntry {
        time: 1,
        principal: "c".into(),
        token_id: "t".into(),
        agency: "ML-1".into(),
        role: "counsellor".into(),
        action: rempart_audit::Action::Update,
        persons: vec!["a".into()],
        categories: vec![],
        purpose: None,
        client: None,
        request_id: None,
        outcome: rempart_audit::Outcome::Allowed,
        detail: None,
    }
}

/// A token of `principal` whose hash is `[h; 32]`, tagged `[h; 32]`.
pub(crate) fn token(id: &str, h: u8, principal: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        hash: [h; 32],
        principal: principal.into(),
        role: "counsellor".into(),
        agency: "ML-1".into(),
        created_at: 1,
        expires_at: 1_000_000,
        suspended: false,
        revoked_at: None,
        bounds: String::new(),
        tag: Some(vec![h; 32]),
    }
}
