//! A webhook: an [`HttpPost`] whose every message is signed with HMAC-SHA-256 under a secret
//! shared with the receiver, so that it can tell Rempart's messages from forged ones and
//! refuse replays.
//!
//! Headers: `X-Rempart-Timestamp` (Unix seconds) and `X-Rempart-Signature: sha256=HEX`, the
//! HMAC of `TIMESTAMP.BODY` (the timestamp, a full stop, the body's bytes). A receiver
//! recomputes it, compares in constant time, and refuses a timestamp older than a few minutes.

use crate::{Channel, HttpPost, NotifyError};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Shortest secret accepted, bytes.
pub const MIN_SECRET: usize = 32;

/// A signed webhook. `Debug` names the endpoint only: never the URL's secrets nor the key.
#[derive(Clone)]
pub struct Webhook {
    post: HttpPost,
    secret: SecretString,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("endpoint", &self.post.endpoint())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The webhook at `url`, signing with `secret` (at least [`MIN_SECRET`] bytes).
    pub fn new(url: &str, secret: SecretString) -> Result<Webhook, NotifyError> {
        if secret.expose_secret().len() < MIN_SECRET {
            return Err(NotifyError::ShortSecret(MIN_SECRET));
        }
        Ok(Webhook {
            post: HttpPost::new(url)?,
            secret,
        })
    }

    /// The signature header's value of `body` sent at `timestamp`.
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        sign(self.secret.expose_secret().as_bytes(), timestamp, body)
    }
}

/// `sha256=HEX` of the HMAC-SHA-256 of `TIMESTAMP.BODY` under `key`.
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::from("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Channel for Webhook {
    fn name(&self) -> &str {
        self.post.endpoint()
    }

    fn send(&self, message: &[u8]) -> Result<(), NotifyError> {
        let now = chrono::Utc::now().timestamp();
        self.post.send_with(
            message,
            &[
                ("x-rempart-timestamp", now.to_string()),
                ("x-rempart-signature", self.signature(now, message)),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_is_refused_and_debug_shows_no_secret() {
        let short = Webhook::new("https://siem.example/x", SecretString::from("short"));
        assert!(matches!(short, Err(NotifyError::ShortSecret(32))));
        let secret = "0123456789abcdef0123456789abcdef";
        let w = Webhook::new(
            "https://user:pw@siem.example/hook?token=t",
            SecretString::from(secret),
        )
        .unwrap();
        let shown = format!("{w:?}");
        assert!(shown.contains("https://siem.example"), "{shown}");
        for hidden in [secret, "pw", "token=t", "/hook"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
    }

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        // The HMAC of the exact bytes `TIMESTAMP.BODY`, computed here in one piece.
        let key = b"0123456789abcdef0123456789abcdef";
        let s = sign(key, 1_700_000_000, b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64, "{s}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(b"1700000000.{}");
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(s, format!("sha256={want}"));
        assert_ne!(s, sign(key, 1_700_000_001, b"{}"), "another time");
        assert_ne!(s, sign(key, 1_700_000_000, b"{ }"), "another body");
        assert_ne!(
            s,
            sign(b"another key of thirty-two bytes!", 1_700_000_000, b"{}")
        );
    }
}
