//! Notices on their way out: the relay and gateway `[notices]` configures, the templates (an
//! operator's files over Rempart's own), and what the messages say of their sender.

use crate::settings::{NoticeSettings, Settings};
use anyhow::{anyhow, bail, Context, Result};
use rempart_incident::{Organisation, Templates};
use rempart_notify::{Mailbox, Mailer, SendError, SmsGateway};
use rempart_vault::{Courier, DeliveryError, NoticeOptions};
use std::time::Duration;

/// The channels notices leave by.
#[derive(Debug, Default)]
pub struct Channels {
    mailer: Option<Mailer>,
    sms: Option<SmsGateway>,
    mailbox: Option<Mailbox>,
}

impl Channels {
    /// The channels `s` configures; an incomplete or malformed one is an error, named by its
    /// setting. At least one is needed.
    pub fn from_settings(s: &NoticeSettings) -> Result<Channels> {
        if let Some(dir) = &s.mailbox {
            if s.smtp_url.is_some() || s.sms_url.is_some() {
                bail!("notices.mailbox takes every message: set it, or notices.smtp_url and notices.sms_url, not both");
            }
            let from = s
                .email_from
                .as_deref()
                .unwrap_or("ne-pas-repondre@localhost");
            return Ok(Channels {
                mailer: None,
                sms: None,
                mailbox: Some(Mailbox::new(dir, from).context("notices.mailbox")?),
            });
        }
        let mailer = match (&s.smtp_url, &s.email_from) {
            (Some(url), Some(from)) => {
                Some(Mailer::new(url, from).context("notices.smtp_url / notices.email_from")?)
            }
            (Some(_), None) => bail!("notices.smtp_url needs notices.email_from"),
            (None, Some(_)) => bail!("notices.email_from needs notices.smtp_url"),
            (None, None) => None,
        };
        let sms = match (&s.sms_url, &s.sms_secret) {
            (Some(url), Some(secret)) => {
                use secrecy::ExposeSecret;
                Some(
                    SmsGateway::new(url.expose_secret(), secret.clone())
                        .context("notices.sms_url / notices.sms_secret")?,
                )
            }
            (Some(_), None) => bail!("notices.sms_url needs notices.sms_secret"),
            (None, Some(_)) => bail!("notices.sms_secret needs notices.sms_url"),
            (None, None) => None,
        };
        if mailer.is_none() && sms.is_none() {
            bail!(
                "no channel for notices: set notices.smtp_url and notices.email_from, or notices.sms_url and notices.sms_secret (or notices.mailbox to try)"
            );
        }
        Ok(Channels {
            mailer,
            sms,
            mailbox: None,
        })
    }

    /// The channels `s` configures, or `None` when it configures none.
    pub fn optional(s: &NoticeSettings) -> Result<Option<Channels>> {
        if s.smtp_url.is_none()
            && s.email_from.is_none()
            && s.sms_url.is_none()
            && s.sms_secret.is_none()
            && s.mailbox.is_none()
        {
            return Ok(None);
        }
        Channels::from_settings(s).map(Some)
    }
}

fn delivery(e: SendError) -> DeliveryError {
    match e {
        SendError::Transient(why) => DeliveryError::Transient(why),
        SendError::Permanent(why) => DeliveryError::Permanent(why),
        SendError::Uncertain(why) => DeliveryError::Uncertain(why),
    }
}

impl Courier for Channels {
    fn email(&self, to: &str, subject: &str, body: &str, id: &str) -> Result<(), DeliveryError> {
        if let Some(m) = &self.mailbox {
            return m.email(to, subject, body, id).map_err(delivery);
        }
        match &self.mailer {
            Some(m) => m.send(to, subject, body, id).map_err(delivery),
            None => Err(DeliveryError::Permanent(
                "no SMTP relay is configured (notices.smtp_url)".into(),
            )),
        }
    }

    fn sms(&self, to: &str, text: &str, id: &str) -> Result<(), DeliveryError> {
        if let Some(m) = &self.mailbox {
            return m.sms(to, text, id).map_err(delivery);
        }
        match &self.sms {
            Some(g) => g.send(to, text, id).map_err(delivery),
            None => Err(DeliveryError::Permanent(
                "no SMS gateway is configured (notices.sms_url)".into(),
            )),
        }
    }
}

/// Rempart's templates, with the operator's files of the same name in their place.
pub fn templates(s: &NoticeSettings) -> Result<Templates> {
    let mut t = Templates::default();
    if let Some(dir) = &s.templates {
        if !dir.is_dir() {
            bail!("notices.templates: {} is not a directory", dir.display());
        }
        for (name, _) in rempart_incident::templates::DEFAULTS {
            let path = dir.join(name);
            if path.exists() {
                let source = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                t.set(name, source)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            }
        }
    }
    Ok(t)
}

/// What the messages say of their sender, and how they retry.
pub fn options(s: &Settings) -> NoticeOptions {
    let n = &s.notices;
    NoticeOptions {
        organisations: n.organisations.clone(),
        organisation: n.organisation.clone(),
        contact: n.contact.clone(),
        verify_url: verify_url(s),
        attempts: n.attempts.max(1),
        retry_after: Duration::from_secs(n.retry_after),
    }
}

/// The public page where codes are verified: the configured one, or this server's own.
pub fn verify_url(s: &Settings) -> String {
    s.notices.verify_url.clone().unwrap_or_else(|| {
        let scheme = if s.tls.cert.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/verify", s.serve.listen)
    })
}

/// The organisation, for the art. 33 draft.
pub fn organisation(s: &NoticeSettings) -> Organisation {
    let or = |v: &str| {
        if v.is_empty() {
            "À COMPLÉTER".to_string()
        } else {
            v.to_string()
        }
    };
    Organisation {
        name: or(&s.organisation),
        siren: or(&s.siren),
        address: or(&s.address),
        legal_representative: or(&s.legal_representative),
        dpo: or(&s.dpo),
        contact: or(&s.contact),
    }
}

/// What `rempart serve` needs to speak after a breach.
pub fn breach(s: &Settings) -> Result<rempart_server::Breach> {
    let language = rempart_incident::Language::parse(&s.notices.language)
        .ok_or_else(|| anyhow!("notices.language is fr or en"))?;
    Ok(rempart_server::Breach {
        organisation: organisation(&s.notices),
        templates: templates(&s.notices)?,
        courier: Channels::optional(&s.notices)?
            .map(|c| std::sync::Arc::new(c) as std::sync::Arc<dyn Courier>),
        options: options(s),
        language,
    })
}
