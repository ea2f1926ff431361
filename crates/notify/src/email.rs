//! Email through an SMTP server (`lettre`): a relay of the organisation, reached at an
//! `smtps://` URL (TLS from the start) or an `smtp://` one with `?tls=required` (STARTTLS,
//! required), with credentials in the URL when it needs them. A plain `smtp://` URL is
//! accepted for a relay on this machine only (localhost): anywhere else, credentials and
//! alerts would cross the network in clear.

use crate::{Channel, NotifyError};
use lettre::message::{header::ContentType, Mailbox};
use lettre::{Message, SmtpTransport, Transport};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one message may take to send.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An SMTP server and the message's sender and recipients. `Debug` and errors name the server
/// by scheme and host only: the URL may hold credentials.
#[derive(Clone)]
pub struct Email {
    transport: SmtpTransport,
    server: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: String,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("server", &self.server)
            .field("recipients", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Email {
    /// Messages from `from` to each of `to`, through the server at `url`, with `subject`.
    pub fn new(
        url: &SecretString,
        from: &str,
        to: &[String],
        subject: &str,
    ) -> Result<Email, NotifyError> {
        let (transport, server) = transport(url)?;
        let from: Mailbox = from
            .parse()
            .map_err(|_| NotifyError::NotAnAddress("the sender"))?;
        let to = to
            .iter()
            .map(|a| a.parse::<Mailbox>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| NotifyError::NotAnAddress("a recipient"))?;
        if to.is_empty() {
            return Err(NotifyError::NotAnAddress("no recipient"));
        }
        Ok(Email {
            transport,
            server,
            from,
            to,
            subject: subject.to_string(),
        })
    }

    /// Sends a plain-text message with `subject` and `body` to every recipient.
    pub fn send_mail(&self, subject: &str, body: &str) -> Result<(), NotifyError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(body.to_string())
            .map_err(|e| NotifyError::Smtp {
                server: self.server.clone(),
                reason: e.to_string(),
            })?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| NotifyError::Smtp {
                server: self.server.clone(),
                // lettre's errors name the failing step and the server's answer, never the
                // URL or its credentials.
                reason: e.to_string(),
            })
    }
}

/// The transport to the server at `url` (pooled connections), and the server as errors name
/// it (`scheme://host`): TLS unless the server is on this machine.
pub(crate) fn transport(url: &SecretString) -> Result<(SmtpTransport, String), NotifyError> {
    let raw = url.expose_secret();
    let parsed: ureq::http::Uri = raw.parse().map_err(|_| NotifyError::NotSmtp)?;
    let (Some(scheme @ ("smtp" | "smtps")), Some(host)) = (parsed.scheme_str(), parsed.host())
    else {
        return Err(NotifyError::NotSmtp);
    };
    let server = format!("{scheme}://{host}");
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]");
    let tls_required = parsed
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "tls=required"));
    if scheme == "smtp" && !tls_required && !loopback {
        return Err(NotifyError::PlainSmtp);
    }
    let transport = SmtpTransport::from_url(raw)
        .map_err(|_| NotifyError::NotSmtp)?
        .timeout(Some(TIMEOUT))
        .build();
    Ok((transport, server))
}

impl Channel for Email {
    fn name(&self) -> &str {
        &self.server
    }

    fn send(&self, message: &[u8]) -> Result<(), NotifyError> {
        self.send_mail(&self.subject, &String::from_utf8_lossy(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_and_addresses_are_named_without_their_text() {
        let url = |u: &str| SecretString::from(u);
        let to = ["dpo@ml.example".to_string()];
        let e = Email::new(&url("https://user:pw@x"), "a@b.example", &to, "s").unwrap_err();
        assert!(matches!(e, NotifyError::NotSmtp), "{e}");
        let e = Email::new(&url("smtp://localhost:25"), "not an address", &to, "s").unwrap_err();
        assert_eq!(e.to_string(), "the sender is not an email address");
        let e = Email::new(&url("smtp://localhost:25"), "a@b.example", &[], "s").unwrap_err();
        assert!(matches!(e, NotifyError::NotAnAddress(_)));
        let e = Email::new(&url("smtp://relay.example:587"), "a@b.example", &to, "s").unwrap_err();
        assert!(matches!(e, NotifyError::PlainSmtp), "{e}");
        let e = Email::new(
            &url("smtp://relay.example:587?tls=opportunistic"),
            "a@b.example",
            &to,
            "s",
        )
        .unwrap_err();
        assert!(matches!(e, NotifyError::PlainSmtp), "{e}");
        Email::new(&url("smtp://localhost:2525"), "a@b.example", &to, "s").unwrap();
        Email::new(&url("smtps://relay.example"), "a@b.example", &to, "s").unwrap();
        let ok = Email::new(
            &url("smtp://user:secret-pw@relay.example:587?tls=required"),
            "a@b.example",
            &to,
            "s",
        )
        .unwrap();
        assert_eq!(ok.name(), "smtp://relay.example");
        assert!(!format!("{ok:?}").contains("secret-pw"));
    }
}
