//! Black-box tests: they run the real `rempart` binary in temporary directories and speak
//! HTTP to `rempart serve`.
//!
//! These run on the embedded store (SQLite); `tests_postgres.rs` runs the same modules on
//! PostgreSQL, with Redis for containment's counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The backend of `Install::new`: the embedded store here.
const POSTGRES: bool = false;

/// A test on the embedded store only: it reads or edits its files (SQLite), or names a data
/// directory; `tests_postgres.rs` leaves it out.
macro_rules! embedded_only {
    ($($i:item)*) => { $($i)* };
}

/// Starting the binary, installations, servers.
mod util;

/// Command-line behaviour: init, import, token, keys rotate, synth.
mod cli;

/// The HTTP API: files, search, listing, errors, authentication, agency isolation.
mod http;

/// Data at rest: no plaintext in any file of the data directory.
mod at_rest;

/// A crash: the server killed while it reads and writes.
mod crash;

/// Connections: timeouts, connection and in-flight caps.
mod connections;

/// HTTPS: certificates, their errors, the security headers.
mod tls;

/// Settings: the configuration file, the environment and the flags, in that order.
mod settings;

/// Agents signed in through a real OpenID Connect provider.
mod oidc;

/// Guessing locked out; principals made by two operators.
mod auth;

/// The server built in-process (`rempart::Application`), as `serve` builds it.
mod app;

/// Containment: budgets per person, refusals, suspension, decoys, alerts to real peers.
mod containment;

/// Several nodes on one PostgreSQL: containment shared in the database or Redis, one log.
mod nodes;

/// A kill storm and a failover to a synchronous replica: nothing acknowledged lost.
mod failover;

/// Breach response: incidents and their impact.
mod incidents;

/// Breach response end to end: impact, drafts, notices to a real SMTP server, codes.
mod breach;

/// Leaked files: matched against the vault, and the export their markers name.
mod leaks;

/// Verification codes: genuine, altered and forged codes, the page, the rate limit.
mod verify;
