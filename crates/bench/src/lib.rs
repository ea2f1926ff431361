//! Benchmarks behind `rempart bench`.
//!
//! 1. **Import**: synthetic files written as CSV, then parsed, validated, sealed and stored
//!    exactly as `rempart import` does (files/s).
//! 2. **Reads over HTTP**: `rempart serve` on that installation, and a baseline server built
//!    on the same stack (axum, tokio, rusqlite with the same pool discipline) that returns the
//!    same JSON from a plaintext SQLite table with no authentication, encryption or audit. The
//!    same client (64 concurrent connections by default) reads random files of one agency from
//!    each for the same time; requests/s, p50, p99 and each server's peak memory (VmHWM).
//!
//!    A third server, the same vault with read auditing dropped (`rempart bench-no-audit`,
//!    hidden), gives the cost of the audit log in the same run.
//! 3. **Audit log** (with `--audit-entries N`): N entries written, a signed checkpoint over
//!    them, and `audit verify` of the whole log (entries/s).
//!
//! 4. **On PostgreSQL** (with `--postgres URL`): the import, and the reads with one node and
//!    with two nodes on one database (and two with containment's counts shared in it), against
//!    the same baseline reading a plaintext PostgreSQL table.
//!
//! Both servers run as child processes of the bench so that their memory is their own.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod audit;
mod authz;
mod baseline;
mod guard;
mod jwt;
mod load;
mod noaudit;
mod nopolicy;
mod notices;
mod postgres;
mod run;

pub use baseline::{serve_baseline, serve_baseline_postgres};
pub use noaudit::serve_without_read_audit;
pub use nopolicy::serve_without_policies;
pub use run::{run, BenchOptions};
