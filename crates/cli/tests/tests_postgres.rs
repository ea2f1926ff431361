//! The black-box tests of `tests.rs` again, on PostgreSQL (the server at
//! `REMPART_TEST_POSTGRES`, by default the local one; each test's own databases, dropped at its
//! end), with containment's counts in Redis (`REMPART_TEST_REDIS`, by default the local one;
//! each test's own key prefix, deleted at its end). Without them the tests fail, saying how to
//! start them. Left out: the tests that read or edit the embedded store's files
//! (`embedded_only!`), whose properties the conformance suite and the PostgreSQL crate's own
//! tests hold on PostgreSQL; and the multi-node tests of `tests.rs`, which run on PostgreSQL
//! already.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Helpers of the tests left out here.
#![allow(dead_code, unused_imports)]

/// The backend of `Install::new`: PostgreSQL here.
const POSTGRES: bool = true;

/// A test left out on PostgreSQL (see `tests.rs`).
macro_rules! embedded_only {
    ($($i:item)*) => {};
}

mod util;

mod cli;

mod http;

mod at_rest;

mod crash;

mod connections;

mod tls;

mod settings;

mod oidc;

mod auth;

mod app;

mod containment;

mod incidents;

mod breach;

mod leaks;

mod verify;
