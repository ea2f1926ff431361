//! Messages to people (breach notices, answers to "was I affected?"): one plain-text email per
//! recipient through the organisation's SMTP relay ([`Mailer`]), or one text message through an
//! SMS gateway ([`SmsGateway`]: a signed JSON POST). Each carries the message's stable id, so a
//! relay or gateway can drop a duplicate. A failure says whether another attempt may succeed,
//! and never repeats the address or the text.

use crate::email::transport;
use crate::{NotifyError, Webhook};
use lettre::message::header::ContentType;
use lettre::message::Mailbox as Mailbox_;
use lettre::{Message, SmtpTransport, Transport};
use secrecy::SecretString;

/// Why a message did not leave. Holds the server's status class, never an address or text.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Another attempt later may succeed (the server unreachable, a 4xx reply, a 5xx answer of
    /// a gateway).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// It will not (a 5xx reply to an address, a message refused).
    #[error("refused: {0}")]
    Permanent(String),
    /// Unknown: the exchange broke off after the message may have been taken (a timeout, the
    /// connection lost, a gateway's 5xx). Sending it again could send it twice.
    #[error("outcome unknown: {0}")]
    Uncertain(String),
}

/// One email per recipient through an SMTP relay.
#[derive(Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    server: String,
    from: Mailbox_,
    domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Messages from `from` through the relay at `url` (TLS unless it is on this machine).
    pub fn new(url: &SecretString, from: &str) -> Result<Mailer, NotifyError> {
        let (transport, server) = transport(url)?;
        let from: Mailbox_ = from
            .parse()
            .map_err(|_| NotifyError::NotAnAddress("the sender"))?;
        let domain = from.email.domain().to_string();
        Ok(Mailer {
            transport,
            server,
            from,
            domain,
        })
    }

    /// The relay, as errors name it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `subject` and `body` to `to`, as message `id` (its `Message-ID` is
    /// `<id@sender's domain>`).
    pub fn send(&self, to: &str, subject: &str, body: &str, id: &str) -> Result<(), SendError> {
        let to: Mailbox_ = to
            .parse()
            .map_err(|_| SendError::Permanent("the recipient is not an email address".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|_| SendError::Permanent("the message could not be built".into()))?;
        self.transport.send(&message).map(|_| ()).map_err(|e| {
            // Only the reply's code: a server's text may repeat the address.
            let code = e
                .status()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no reply".into());
            let why = format!("{} answered {code}", self.server);
            if e.is_permanent() {
                SendError::Permanent(why)
            } else if e.is_transient()
                || e.is_client()
                || e.is_tls()
                || e.to_string().starts_with("Connection error")
            {
                // A 4xx reply, or nothing sent yet (the connection or its TLS failed).
                SendError::Transient(why)
            } else {
                // A timeout, the connection lost, an unreadable reply: it may have been taken.
                SendError::Uncertain(why)
            }
        })
    }
}

/// An SMS gateway taking `{"id", "to", "text"}` as a signed POST (the webhook's signature
/// headers): 2xx sent, 4xx refused for good, anything else worth a retry.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    hook: Webhook,
}

impl SmsGateway {
    /// The gateway at `url`, signing with `secret` (at least 32 bytes).
    pub fn new(url: &str, secret: SecretString) -> Result<SmsGateway, NotifyError> {
        Ok(SmsGateway {
            hook: Webhook::new(url, secret)?,
        })
    }

    /// Sends `text` to the phone number `to` (E.164), as message `id`.
    pub fn send(&self, to: &str, text: &str, id: &str) -> Result<(), SendError> {
        let body = serde_json::json!({"id": id, "to": to, "text": text}).to_string();
        match crate::Channel::send(&self.hook, body.as_bytes()) {
            Ok(()) => Ok(()),
            // Asked to wait: a 408, 425 or 429 took nothing.
            Err(NotifyError::Status { endpoint, status })
                if [408, 425, 429].contains(&status.0) =>
            {
                Err(SendError::Transient(format!(
                    "{endpoint} answered {status}"
                )))
            }
            Err(NotifyError::Status { endpoint, status }) if (400..500).contains(&status.0) => Err(
                SendError::Permanent(format!("{endpoint} answered {status}")),
            ),
            // A 5xx, or the request lost on its way: the gateway may have taken it.
            Err(NotifyError::Status { endpoint, status }) => Err(SendError::Uncertain(format!(
                "{endpoint} answered {status}"
            ))),
            Err(e) => Err(SendError::Uncertain(e.to_string())),
        }
    }
}

/// A local mailbox (Maildir): each message written whole into `DIR/tmp`, then moved into
/// `DIR/new`, where a mail client or an operator reads it. For trials and the demonstration:
/// nothing leaves the machine. An email is kept as its RFC 5322 message (`ID.eml`), a text
/// message as its text (`ID.sms`, the number on its first line).
#[derive(Debug, Clone)]
pub struct Mailbox {
    dir: std::path::PathBuf,
    from: Mailbox_,
}

impl Mailbox {
    /// The mailbox at `dir` (created if absent), messages from `from`.
    pub fn new(dir: &std::path::Path, from: &str) -> Result<Mailbox, NotifyError> {
        let from: Mailbox_ = from
            .parse()
            .map_err(|_| NotifyError::NotAnAddress("the sender"))?;
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|error| NotifyError::Mailbox {
                dir: dir.to_path_buf(),
                error,
            })?;
        }
        Ok(Mailbox {
            dir: dir.to_path_buf(),
            from,
        })
    }

    fn keep(&self, name: &str, bytes: &[u8]) -> Result<(), SendError> {
        // The id is Rempart's own (`ntc_…`, `ans_…`): nothing else goes into a file name.
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(SendError::Permanent("not a message id".into()));
        }
        let tmp = self.dir.join("tmp").join(name);
        let new = self.dir.join("new").join(name);
        if new.exists() {
            // Delivered already: a message is kept once.
            return Ok(());
        }
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &new))
            .map_err(|e| SendError::Transient(format!("the mailbox: {}", e.kind())))
    }

    /// Keeps an email to `to`.
    pub fn email(&self, to: &str, subject: &str, body: &str, id: &str) -> Result<(), SendError> {
        let to: Mailbox_ = to
            .parse()
            .map_err(|_| SendError::Permanent("the recipient is not an email address".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|_| SendError::Permanent("the message could not be built".into()))?;
        self.keep(&format!("{id}.eml"), &message.formatted())
    }

    /// Keeps a text message to the phone number `to`.
    pub fn sms(&self, to: &str, text: &str, id: &str) -> Result<(), SendError> {
        self.keep(
            &format!("{id}.sms"),
            format!("To: {to}\n\n{text}\n").as_bytes(),
        )
    }
}
