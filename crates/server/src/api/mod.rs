//! The HTTP API by area, each with its own router and its own response types (built from the
//! vault's, never serialising them directly):
//!
//! - [`persons`]: create, read, change and erase a file;
//! - [`search`]: exact search through the blind indexes;
//! - [`caseload`]: the caller's listing, assignment and enrolments;
//! - [`audit`]: access history, break-glass review, checkpoints and proofs;
//! - [`alerts`]: containment's alerts, and restoring a suspended principal;
//! - [`principals`]: principals as records, created, raised or moved by two operators;
//! - [`sessions`]: tokens and sessions, seen and revoked by their owner and operators;
//! - [`exports`]: exports to a recipient, approved by a second operator when large;
//! - [`incidents`]: breach response: incidents and exactly who lost what;
//! - [`breach`]: the art. 33 draft, notifications, notices to people;
//! - [`affected`]: "was I affected?", answered to the contact on file, never to the asker;
//! - [`verify`]: the codes printed on the messages sent, checked by anyone (no token, a rate
//!   limit per client address instead), over JSON and as a page;
//! - [`system`]: health, metrics, the OpenAPI description.
//!
//! Every handler but those of [`verify`] and [`system`] authenticates through [`Caller`]; personal data leaves the vault as a
//! `Disclosure`, released only once its audit entry is durable.

pub(crate) mod affected;
pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod breach;
mod caller;
pub(crate) mod caseload;
pub(crate) mod exports;
pub(crate) mod incidents;
mod params;
pub(crate) mod persons;
pub(crate) mod principals;
pub(crate) mod search;
pub(crate) mod sessions;
mod system;
pub(crate) mod verify;

use crate::AppState;
use axum::Router;
pub(crate) use caller::{Caller, ClientIp};

/// Every route of the application.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(persons::router())
        .merge(caseload::router())
        .merge(search::router())
        .merge(audit::router())
        .merge(alerts::router())
        .merge(principals::router())
        .merge(sessions::router())
        .merge(exports::router())
        .merge(incidents::router())
        .merge(breach::router())
        .merge(affected::router())
        .merge(verify::router())
        .merge(system::router())
}
