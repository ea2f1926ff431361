//! The HTTP API by area, each with its own router and its own response types (built from the
//! vault's, never serialising them directly):
//!
//! - [`persons`]: create, read, change and erase a file;
//! - [`search`]: exact search through the blind indexes;
//! - [`caseload`]: the caller's listing, assignment and enrolments;
//! - [`audit`]: access history, break-glass review, checkpoints and proofs;
//! - [`alerts`]: containment's alerts, and restoring a suspended principal;
//! - [`exports`]: exports to a recipient, approved by a second operator when large;
//! - [`incidents`]: breach response: incidents and exactly who lost what;
//! - [`system`]: health, metrics, the OpenAPI description.
//!
//! Every handler authenticates through [`Caller`]; personal data leaves the vault as a
//! `Disclosure`, released only once its audit entry is durable.

pub(crate) mod alerts;
pub(crate) mod audit;
mod caller;
pub(crate) mod caseload;
pub(crate) mod exports;
pub(crate) mod incidents;
mod params;
pub(crate) mod persons;
pub(crate) mod search;
mod system;

use crate::AppState;
use axum::Router;
pub(crate) use caller::Caller;

/// Every route of the application.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(persons::router())
        .merge(caseload::router())
        .merge(search::router())
        .merge(audit::router())
        .merge(alerts::router())
        .merge(exports::router())
        .merge(incidents::router())
        .merge(system::router())
}
