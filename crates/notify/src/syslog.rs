//! A local syslog socket (a Unix datagram socket, `/dev/log` on most systems), sent RFC 5424
//! messages.

use crate::{Channel, NotifyError};
use std::path::{Path, PathBuf};

/// The APP-NAME of every message.
const APP_NAME: &str = "rempart";

/// Syslog facilities Rempart writes to (RFC 5424, section 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    /// Security and authorisation messages (4).
    Auth,
    /// Private security and authorisation messages (10).
    AuthPriv,
    /// System daemons (3).
    Daemon,
    /// Local use 0 (16).
    Local0,
}

impl Facility {
    fn code(self) -> u8 {
        match self {
            Facility::Auth => 4,
            Facility::AuthPriv => 10,
            Facility::Daemon => 3,
            Facility::Local0 => 16,
        }
    }
}

/// Syslog severities (RFC 5424, section 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Severity {
    fn code(self) -> u8 {
        match self {
            Severity::Emergency => 0,
            Severity::Alert => 1,
            Severity::Critical => 2,
            Severity::Error => 3,
            Severity::Warning => 4,
            Severity::Notice => 5,
            Severity::Informational => 6,
            Severity::Debug => 7,
        }
    }
}

/// A syslog socket, with the priority and message id of what is sent to it.
#[derive(Debug, Clone)]
pub struct Syslog {
    socket: PathBuf,
    name: String,
    priority: u8,
    msgid: String,
}

impl Syslog {
    /// The socket at `socket`; messages go with `facility` and `severity`, and `msgid` (RFC
    /// 5424 MSGID: up to 32 printable ASCII characters; any other character becomes `_`).
    pub fn new(
        socket: impl Into<PathBuf>,
        facility: Facility,
        severity: Severity,
        msgid: &str,
    ) -> Syslog {
        let socket = socket.into();
        let mut msgid: String = msgid
            .chars()
            .take(32)
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        if msgid.is_empty() {
            msgid.push('-');
        }
        Syslog {
            name: socket.display().to_string(),
            socket,
            priority: facility.code() * 8 + severity.code(),
            msgid,
        }
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The RFC 5424 message carrying `message`: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID
    /// MSGID SD MSG`, with no hostname (the local daemon adds it) and no structured data.
    pub fn frame(&self, message: &[u8]) -> Vec<u8> {
        self.frame_with("-", message)
    }

    /// The RFC 5424 message carrying `message` with one STRUCTURED-DATA element `sd_id` and its
    /// parameters: what a SIEM parses without a pattern of its own. Parameter names are
    /// reduced to their printable characters other than `= ]"` (32 at most), and values
    /// escaped (`"`, `\` and `]` preceded by `\`), as section 6.3.3 requires.
    pub fn frame_structured(
        &self,
        sd_id: &str,
        params: &[(&str, &str)],
        message: &[u8],
    ) -> Vec<u8> {
        let name = |n: &str| -> String {
            let n: String = n
                .chars()
                .filter(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"' | ' '))
                .take(32)
                .collect();
            if n.is_empty() {
                "_".into()
            } else {
                n
            }
        };
        let mut sd = format!("[{}", name(sd_id));
        for (k, v) in params {
            sd.push(' ');
            sd.push_str(&name(k));
            sd.push_str("=\"");
            for c in v.chars() {
                if matches!(c, '"' | '\\' | ']') {
                    sd.push('\\');
                }
                sd.push(c);
            }
            sd.push('"');
        }
        sd.push(']');
        self.frame_with(&sd, message)
    }

    fn frame_with(&self, sd: &str, message: &[u8]) -> Vec<u8> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut msg = format!(
            "<{}>1 {now} - {APP_NAME} {} {} {sd} ",
            self.priority,
            std::process::id(),
            self.msgid
        )
        .into_bytes();
        msg.extend_from_slice(message);
        msg
    }

    /// Sends `message` with one STRUCTURED-DATA element ([`Syslog::frame_structured`]).
    pub fn send_structured(
        &self,
        sd_id: &str,
        params: &[(&str, &str)],
        message: &[u8],
    ) -> Result<(), NotifyError> {
        self.send_frame(&self.frame_structured(sd_id, params, message))
    }

    fn send_frame(&self, frame: &[u8]) -> Result<(), NotifyError> {
        std::os::unix::net::UnixDatagram::unbound()
            .and_then(|sock| sock.send_to(frame, &self.socket))
            .map(|_| ())
            .map_err(|error| NotifyError::Syslog {
                socket: self.socket.clone(),
                error,
            })
    }
}

impl Channel for Syslog {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&self, message: &[u8]) -> Result<(), NotifyError> {
        self.send_frame(&self.frame(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn a_message_reaches_the_socket_as_rfc_5424() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let s = Syslog::new(
            &path,
            Facility::AuthPriv,
            Severity::Notice,
            "audit-checkpoint",
        );
        assert_eq!(s.name(), path.display().to_string());
        s.send(br#"{"size":3}"#).unwrap();
        let mut buf = [0u8; 1024];
        let n = sock.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        // authpriv (10) * 8 + notice (5) = 85.
        assert!(got.starts_with("<85>1 "), "{got}");
        let fields: Vec<&str> = got.splitn(8, ' ').collect();
        assert_eq!(fields.len(), 8, "{got}");
        assert!(fields[1].ends_with('Z'), "{got}");
        assert_eq!(fields[2], "-");
        assert_eq!(fields[3], "rempart");
        assert_eq!(fields[4], std::process::id().to_string());
        assert_eq!(fields[5], "audit-checkpoint");
        assert_eq!(fields[6], "-");
        assert_eq!(fields[7], r#"{"size":3}"#);
    }

    #[test]
    fn structured_data_is_escaped_as_rfc_5424_says() {
        let s = Syslog::new("/nowhere", Facility::Auth, Severity::Alert, "containment");
        let frame = s.frame_structured(
            "rempart@32473",
            &[
                ("alert", "alr_1"),
                ("trip", r#"a"b\c]d"#),
                ("bad name=", "x"),
            ],
            b"suspended",
        );
        let got = String::from_utf8(frame).unwrap();
        // auth (4) * 8 + alert (1) = 33.
        assert!(got.starts_with("<33>1 "), "{got}");
        assert!(
            got.ends_with(
                r#" containment [rempart@32473 alert="alr_1" trip="a\"b\\c\]d" badname="x"] suspended"#
            ),
            "{got}"
        );
    }

    #[test]
    fn priorities_and_message_ids() {
        let s = Syslog::new("/nowhere", Facility::Auth, Severity::Alert, "an alert\n");
        let f = String::from_utf8(s.frame(b"m")).unwrap();
        assert!(f.starts_with("<33>1 "), "{f}");
        assert!(f.contains(" an_alert_ - m"), "{f}");
        let s = Syslog::new("/nowhere", Facility::Local0, Severity::Debug, "");
        let f = String::from_utf8(s.frame(b"m")).unwrap();
        assert!(f.starts_with("<135>1 "), "{f}");
        assert!(f.contains(" - - m"), "{f}");
        let long = "x".repeat(40);
        let s = Syslog::new("/nowhere", Facility::Daemon, Severity::Error, &long);
        let f = String::from_utf8(s.frame(b"m")).unwrap();
        assert!(f.starts_with("<27>1 "), "{f}");
        assert!(f.contains(&format!(" {} - m", "x".repeat(32))), "{f}");
    }

    #[test]
    fn a_missing_socket_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such.sock");
        let s = Syslog::new(&path, Facility::AuthPriv, Severity::Notice, "x");
        let e = s.send(b"m").unwrap_err();
        match &e {
            NotifyError::Syslog { socket, .. } => assert_eq!(socket, &path),
            other => panic!("{other}"),
        }
        assert!(e.to_string().starts_with("syslog "), "{e}");
        assert!(e.to_string().contains("no-such.sock"), "{e}");
    }
}
