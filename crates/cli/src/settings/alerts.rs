//! `[alerts]`: where containment's alerts go besides the audit log and `GET /v1/alerts`.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[alerts]` of one source.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsLayer {
    pub webhook_url: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub syslog: Option<PathBuf>,
    pub smtp_url: Option<SecretString>,
    pub email_from: Option<String>,
    pub email_to: Option<Vec<String>>,
}

impl AlertsLayer {
    /// This layer with `over`'s values in place of its own wherever `over` has one.
    pub fn over(self, over: AlertsLayer) -> AlertsLayer {
        let AlertsLayer {
            webhook_url,
            webhook_secret,
            syslog,
            smtp_url,
            email_from,
            email_to,
        } = self;
        AlertsLayer {
            webhook_url: over.webhook_url.or(webhook_url),
            webhook_secret: over.webhook_secret.or(webhook_secret),
            syslog: over.syslog.or(syslog),
            smtp_url: over.smtp_url.or(smtp_url),
            email_from: over.email_from.or(email_from),
            email_to: over.email_to.or(email_to),
        }
    }

    /// The settings (none of these has a default).
    pub fn resolve(self) -> AlertSettings {
        let AlertsLayer {
            webhook_url,
            webhook_secret,
            syslog,
            smtp_url,
            email_from,
            email_to,
        } = self;
        AlertSettings {
            webhook_url,
            webhook_secret,
            syslog,
            smtp_url,
            email_from,
            email_to: email_to.unwrap_or_default(),
        }
    }
}

/// `[alerts]` in force.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Webhook receiving each alert as a signed JSON POST; may carry credentials.
    pub webhook_url: Option<SecretString>,
    /// The webhook's HMAC secret (at least 32 bytes).
    pub webhook_secret: Option<SecretString>,
    /// Syslog socket, or `off`; the default socket, optional, when absent.
    pub syslog: Option<PathBuf>,
    /// SMTP server; may carry credentials.
    pub smtp_url: Option<SecretString>,
    /// Sender of the alert emails.
    pub email_from: Option<String>,
    /// Recipients of the alert emails.
    pub email_to: Vec<String>,
}
