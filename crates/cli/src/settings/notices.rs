//! `[notices]`: who speaks after a breach (the organisation's identity for the authority, the
//! contact point for people), where a message's code is verified, the templates, and how
//! messages leave (an SMTP relay, an SMS gateway) and retry.

use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[notices] attempts`.
pub const DEFAULT_ATTEMPTS: u32 = 5;
/// `[notices] retry_after`, seconds.
pub const DEFAULT_RETRY_AFTER: u64 = 30;

/// The `[notices]` of one source.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoticesLayer {
    pub organisation: Option<String>,
    pub organisations: Option<BTreeMap<String, String>>,
    pub siren: Option<String>,
    pub address: Option<String>,
    pub legal_representative: Option<String>,
    pub dpo: Option<String>,
    pub contact: Option<String>,
    pub verify_url: Option<String>,
    pub templates: Option<PathBuf>,
    pub language: Option<String>,
    pub smtp_url: Option<SecretString>,
    pub email_from: Option<String>,
    pub sms_url: Option<SecretString>,
    pub sms_secret: Option<SecretString>,
    pub mailbox: Option<PathBuf>,
    pub attempts: Option<u32>,
    pub retry_after: Option<u64>,
}

impl NoticesLayer {
    /// This layer with `over`'s values in place of its own wherever `over` has one.
    pub fn over(self, over: NoticesLayer) -> NoticesLayer {
        NoticesLayer {
            organisation: over.organisation.or(self.organisation),
            organisations: over.organisations.or(self.organisations),
            siren: over.siren.or(self.siren),
            address: over.address.or(self.address),
            legal_representative: over.legal_representative.or(self.legal_representative),
            dpo: over.dpo.or(self.dpo),
            contact: over.contact.or(self.contact),
            verify_url: over.verify_url.or(self.verify_url),
            templates: over.templates.or(self.templates),
            language: over.language.or(self.language),
            smtp_url: over.smtp_url.or(self.smtp_url),
            email_from: over.email_from.or(self.email_from),
            sms_url: over.sms_url.or(self.sms_url),
            sms_secret: over.sms_secret.or(self.sms_secret),
            mailbox: over.mailbox.or(self.mailbox),
            attempts: over.attempts.or(self.attempts),
            retry_after: over.retry_after.or(self.retry_after),
        }
    }

    /// The keys this layer does not set.
    pub fn unset(&self) -> Vec<&'static str> {
        [
            ("notices.organisation", self.organisation.is_none()),
            ("notices.organisations", self.organisations.is_none()),
            ("notices.siren", self.siren.is_none()),
            ("notices.address", self.address.is_none()),
            (
                "notices.legal_representative",
                self.legal_representative.is_none(),
            ),
            ("notices.dpo", self.dpo.is_none()),
            ("notices.contact", self.contact.is_none()),
            ("notices.verify_url", self.verify_url.is_none()),
            ("notices.templates", self.templates.is_none()),
            ("notices.language", self.language.is_none()),
            ("notices.smtp_url", self.smtp_url.is_none()),
            ("notices.email_from", self.email_from.is_none()),
            ("notices.sms_url", self.sms_url.is_none()),
            ("notices.sms_secret", self.sms_secret.is_none()),
            ("notices.mailbox", self.mailbox.is_none()),
            ("notices.attempts", self.attempts.is_none()),
            ("notices.retry_after", self.retry_after.is_none()),
        ]
        .into_iter()
        .filter_map(|(k, none)| none.then_some(k))
        .collect()
    }

    /// The settings, with the defaults where this layer has none.
    pub fn resolve(self) -> NoticeSettings {
        NoticeSettings {
            organisation: self.organisation.unwrap_or_default(),
            organisations: self.organisations.unwrap_or_default(),
            siren: self.siren.unwrap_or_default(),
            address: self.address.unwrap_or_default(),
            legal_representative: self.legal_representative.unwrap_or_default(),
            dpo: self.dpo.unwrap_or_default(),
            contact: self.contact.unwrap_or_default(),
            verify_url: self.verify_url,
            templates: self.templates,
            language: self.language.unwrap_or_else(|| "fr".into()),
            smtp_url: self.smtp_url,
            email_from: self.email_from,
            sms_url: self.sms_url,
            sms_secret: self.sms_secret,
            mailbox: self.mailbox,
            attempts: self.attempts.unwrap_or(DEFAULT_ATTEMPTS),
            retry_after: self.retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        }
    }
}

/// `[notices]` in force.
#[derive(Debug, Clone)]
pub struct NoticeSettings {
    /// The organisation's name (the art. 33 draft; a notice's sender when its agency has no
    /// name of its own).
    pub organisation: String,
    /// Each agency's name, by code, as its notices sign.
    pub organisations: BTreeMap<String, String>,
    /// The organisation's SIREN.
    pub siren: String,
    /// Its postal address.
    pub address: String,
    /// Its legal representative.
    pub legal_representative: String,
    /// The DPO's name and contact details.
    pub dpo: String,
    /// The contact point people are given.
    pub contact: String,
    /// The public page where codes are verified (`https://…/verify`); the server's own
    /// address when absent.
    pub verify_url: Option<String>,
    /// A directory of templates replacing Rempart's own, file by file.
    pub templates: Option<PathBuf>,
    /// `fr` or `en`.
    pub language: String,
    /// The SMTP relay of notices; may carry credentials.
    pub smtp_url: Option<SecretString>,
    /// The sender of notices.
    pub email_from: Option<String>,
    /// The SMS gateway (a signed JSON POST); may carry credentials.
    pub sms_url: Option<SecretString>,
    /// The gateway's HMAC secret (at least 32 bytes).
    pub sms_secret: Option<SecretString>,
    /// A local mailbox (Maildir) that takes every message instead of the relay and the
    /// gateway: for trials and the demonstration, nothing leaves the machine.
    pub mailbox: Option<PathBuf>,
    /// Attempts per message.
    pub attempts: u32,
    /// Seconds before the first retry; each next one doubles it.
    pub retry_after: u64,
}
