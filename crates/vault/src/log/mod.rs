//! The audit log's service side, one module per use.

mod checkpoint;
pub(crate) mod export;
mod history;
mod proof;
mod verify;
