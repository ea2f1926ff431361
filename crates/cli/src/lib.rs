//! The `rempart` command as a library: the command line ([`Cli`], [`run`]), the typed
//! configuration ([`settings`]) and the server as one value ([`Application`]), so that tests
//! start the same server in-process that `rempart serve` starts.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]

mod alerting;
mod app;
mod cli;
mod commands;
mod delivery;
mod demo;
mod progress;
pub mod settings;

pub use app::Application;
pub use cli::Cli;
pub use commands::run;
