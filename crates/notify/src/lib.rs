//! Outbound channels: where Rempart sends a message outside itself (a copy of an audit
//! checkpoint, an alert, a notice). A [`Syslog`] socket receives an RFC 5424 message (with
//! structured data when asked); an [`HttpPost`] endpoint receives the message as the body of a
//! POST and must answer 2xx; a [`Webhook`] is one whose messages are signed (HMAC-SHA-256); an
//! [`Email`] goes to its recipients through an SMTP server. Messages to people (notices) go one
//! per recipient through a [`Mailer`] or an [`SmsGateway`].
//! [`Outbound`] says what a failure means: an error for a channel the operator asked for, a
//! warning (logged once) for one that is only there by default.
//!
//! Errors and logs name a channel by its socket path, or by the scheme and host of its URL:
//! never the URL's path, query or credentials.
#![forbid(unsafe_code)]

mod email;
mod http;
mod mailer;
mod syslog;
mod webhook;

pub use email::Email;
pub use http::{HttpPost, HttpStatus};
pub use mailer::{Mailbox, Mailer, SendError, SmsGateway};
pub use syslog::{Facility, Severity, Syslog};
pub use webhook::{sign, Webhook, MIN_SECRET};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A destination a message can be sent to.
pub trait Channel: std::fmt::Debug + Send + Sync {
    /// How errors and logs name the destination: a socket path, or `scheme://host`.
    fn name(&self) -> &str;
    /// Sends one message, whole; returns once the destination has taken it (a syslog socket
    /// accepted the datagram, an HTTP endpoint answered 2xx).
    fn send(&self, message: &[u8]) -> Result<(), NotifyError>;
}

/// Why a channel could not be set up or did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP endpoint is not a URL (the text is not repeated: it may hold credentials).
    #[error("not a URL")]
    NotAUrl,
    /// The HTTP endpoint is a URL of another scheme, or without a host.
    #[error("not an http:// or https:// URL")]
    NotHttp,
    /// The syslog socket did not accept the message.
    #[error("syslog {}: {error}", socket.display())]
    Syslog {
        socket: PathBuf,
        error: std::io::Error,
    },
    /// The HTTP request could not be made, or its answer not read.
    #[error("{endpoint}: {reason}")]
    Http { endpoint: String, reason: String },
    /// A webhook's signing secret is too short.
    #[error("the webhook secret must be at least {0} bytes")]
    ShortSecret(usize),
    /// An email address is not one (the text is not repeated).
    #[error("{0} is not an email address")]
    NotAnAddress(&'static str),
    /// The SMTP URL is not one (the text is not repeated: it may hold credentials).
    #[error("not an smtp:// or smtps:// URL")]
    NotSmtp,
    /// A plain `smtp://` URL to another machine: credentials and messages would go in clear.
    #[error("an smtp:// URL to another machine needs ?tls=required (STARTTLS), or use smtps://")]
    PlainSmtp,
    /// The local mailbox could not be made.
    #[error("mailbox {}: {error}", dir.display())]
    Mailbox { dir: PathBuf, error: std::io::Error },
    /// The SMTP server did not take the message.
    #[error("{server}: {reason}")]
    Smtp { server: String, reason: String },
    /// The HTTP endpoint answered, with a status other than 2xx.
    #[error("{endpoint} answered {status}")]
    Status {
        endpoint: String,
        status: HttpStatus,
    },
}

/// A channel and what its failure means: an error when it is required (the operator chose
/// it), a warning, logged the first time only, when it is optional (there by default).
#[derive(Debug, Clone)]
pub struct Outbound<C> {
    channel: C,
    required: bool,
    /// What the warning says when an optional channel fails.
    warning: &'static str,
    warned: Arc<AtomicBool>,
}

impl<C: Channel> Outbound<C> {
    /// A channel whose failure is an error.
    pub fn required(channel: C) -> Outbound<C> {
        Outbound {
            channel,
            required: true,
            warning: "",
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A channel whose failure is logged as a warning (`warning`, with the channel's name and
    /// the error), once for this value and its clones.
    pub fn optional(channel: C, warning: &'static str) -> Outbound<C> {
        Outbound {
            channel,
            required: false,
            warning,
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The channel.
    pub fn channel(&self) -> &C {
        &self.channel
    }

    /// Whether a failure is an error.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Sends `message`: the channel's error when it is required; when it is optional, `Ok`
    /// after a warning the first time it fails.
    pub fn send(&self, message: &[u8]) -> Result<(), NotifyError> {
        self.report(self.channel.send(message))
    }

    /// What `result`, of a send through this channel, means: the error when the channel is
    /// required; when it is optional, `Ok` after a warning the first time it fails.
    pub fn report(&self, result: Result<(), NotifyError>) -> Result<(), NotifyError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if self.required => Err(e),
            Err(e) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(channel = %self.channel.name(), error = %e, "{}", self.warning);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_required_channel_is_an_error_an_optional_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such.sock");
        let syslog = Syslog::new(&missing, Facility::AuthPriv, Severity::Notice, "test");
        let required = Outbound::required(syslog.clone());
        assert!(required.is_required());
        let e = required.send(b"x").unwrap_err();
        assert!(matches!(e, NotifyError::Syslog { .. }), "{e}");
        let optional = Outbound::optional(syslog, "no syslog here");
        assert!(!optional.is_required());
        optional.send(b"x").unwrap();
        assert!(optional.warned.load(Ordering::Relaxed));
        // Once warned, its clones do not warn again; they still return Ok.
        optional.clone().send(b"y").unwrap();
    }
}
