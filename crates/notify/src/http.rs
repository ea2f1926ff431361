//! An HTTP(S) endpoint that receives each message as the body of a POST and must answer 2xx.

use crate::{Channel, NotifyError};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one POST may take, from connecting to the end of the answer's head.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP(S) endpoint. Its URL may carry credentials (user and password, a token in the
/// query): it is kept as a secret, and errors, logs and `Debug` name the endpoint by its scheme
/// and host alone.
#[derive(Clone)]
pub struct HttpPost {
    url: SecretString,
    endpoint: String,
    content_type: String,
    timeout: Duration,
}

impl std::fmt::Debug for HttpPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPost")
            .field("endpoint", &self.endpoint)
            .field("content_type", &self.content_type)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpPost {
    /// The endpoint at `url`, an `http://` or `https://` URL with a host; messages are sent as
    /// `application/json` within 10 seconds unless said otherwise.
    pub fn new(url: &str) -> Result<HttpPost, NotifyError> {
        let parsed: ureq::http::Uri = url.parse().map_err(|_| NotifyError::NotAUrl)?;
        let (Some(scheme @ ("http" | "https")), Some(host)) = (parsed.scheme_str(), parsed.host())
        else {
            return Err(NotifyError::NotHttp);
        };
        Ok(HttpPost {
            endpoint: format!("{scheme}://{host}"),
            url: SecretString::from(url),
            content_type: "application/json".into(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The `content-type` of the messages.
    pub fn with_content_type(mut self, content_type: &str) -> HttpPost {
        self.content_type = content_type.to_string();
        self
    }

    /// How long one POST may take.
    pub fn with_timeout(mut self, timeout: Duration) -> HttpPost {
        self.timeout = timeout;
        self
    }

    /// The endpoint as errors name it: `scheme://host`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Channel for HttpPost {
    fn name(&self) -> &str {
        &self.endpoint
    }

    fn send(&self, message: &[u8]) -> Result<(), NotifyError> {
        self.send_with(message, &[])
    }
}

impl HttpPost {
    /// Sends `message` with more header lines.
    pub(crate) fn send_with(
        &self,
        message: &[u8],
        headers: &[(&str, String)],
    ) -> Result<(), NotifyError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            // A redirect is an error, never followed: the message (a checkpoint, an alert)
            // goes to the endpoint configured, or nowhere.
            .max_redirects(0)
            .build()
            .into();
        let mut request = agent
            .post(self.url.expose_secret())
            .header("content-type", &self.content_type);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let resp = request.send(message).map_err(|e| NotifyError::Http {
            endpoint: self.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(NotifyError::Status {
                endpoint: self.endpoint.clone(),
                status: HttpStatus(status.as_u16()),
            });
        }
        Ok(())
    }
}

/// The status of an answer, shown as its code and reason phrase (`500 Internal Server Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus(pub u16);

impl std::fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match ureq::http::StatusCode::from_u16(self.0) {
            Ok(s) => s.fmt(f),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A one-request HTTP server on a free local port: answers `status`, hands back the
    /// request's head and body.
    fn endpoint(status: u16) -> (String, std::thread::JoinHandle<(String, Vec<u8>)>) {
        endpoint_with(status, "")
    }

    /// [`endpoint`], with more header lines in the answer.
    fn endpoint_with(
        status: u16,
        headers: &str,
    ) -> (String, std::thread::JoinHandle<(String, Vec<u8>)>) {
        let headers = headers.to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let mut w = stream;
            write!(
                w,
                "HTTP/1.1 {status} X\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
            (head, body)
        });
        (format!("http://127.0.0.1:{port}"), t)
    }

    #[test]
    fn a_message_is_posted_whole_with_its_content_type() {
        let (base, got) = endpoint(201);
        let h = HttpPost::new(&format!("{base}/witness/checkpoints?key=s3cr3t")).unwrap();
        h.send(br#"{"size":3}"#).unwrap();
        let (head, body) = got.join().unwrap();
        assert!(
            head.starts_with("POST /witness/checkpoints?key=s3cr3t HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json\r\n"),
            "{head}"
        );
        assert_eq!(body, br#"{"size":3}"#);

        let (base, got) = endpoint(200);
        let h = HttpPost::new(&base)
            .unwrap()
            .with_content_type("text/plain")
            .with_timeout(Duration::from_secs(5));
        h.send(b"an alert").unwrap();
        let (head, body) = got.join().unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain\r\n"),
            "{head}"
        );
        assert_eq!(body, b"an alert");
    }

    #[test]
    fn a_redirect_is_an_error_and_is_not_followed() {
        let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
        elsewhere.set_nonblocking(true).unwrap();
        let target = format!("http://{}/stolen", elsewhere.local_addr().unwrap());
        for status in [301, 302, 307, 308] {
            let (base, got) = endpoint_with(status, &format!("location: {target}\r\n"));
            let e = HttpPost::new(&base).unwrap().send(b"{}").unwrap_err();
            got.join().unwrap();
            match &e {
                NotifyError::Status { status: s, .. } => assert_eq!(s.0, status),
                other => panic!("{status}: {other}"),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(elsewhere.accept().is_err(), "the redirect was followed");
    }

    #[test]
    fn an_answer_other_than_2xx_is_an_error_naming_the_endpoint_alone() {
        let (base, got) = endpoint(500);
        let url = base.replace("http://", "http://user:pass@") + "/secret/path?token=t0k3n";
        let h = HttpPost::new(&url).unwrap();
        assert_eq!(h.endpoint(), "http://127.0.0.1");
        let e = h.send(b"{}").unwrap_err();
        got.join().unwrap();
        match &e {
            NotifyError::Status { status, .. } => assert_eq!(status.0, 500),
            other => panic!("{other}"),
        }
        let shown = format!("{e} {e:?} {h:?}");
        assert!(
            shown.contains("answered 500 Internal Server Error"),
            "{shown}"
        );
        for secret in ["user", "pass", "secret", "t0k3n"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn an_endpoint_that_does_not_answer_is_an_error_naming_it() {
        // A port that was free a moment ago: nothing listens there.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let h = HttpPost::new(&format!("http://127.0.0.1:{port}/x")).unwrap();
        let e = h.send(b"{}").unwrap_err();
        assert!(matches!(e, NotifyError::Http { .. }), "{e}");
        assert!(e.to_string().starts_with("http://127.0.0.1: "), "{e}");
    }

    #[test]
    fn only_http_and_https_urls_with_a_host() {
        assert!(HttpPost::new("https://witness.example/cp").is_ok());
        assert!(matches!(
            HttpPost::new("ftp://x"),
            Err(NotifyError::NotHttp)
        ));
        assert!(matches!(
            HttpPost::new("/just/a/path"),
            Err(NotifyError::NotHttp)
        ));
        assert!(matches!(
            HttpPost::new("http://exa mple"),
            Err(NotifyError::NotAUrl)
        ));
        let e = HttpPost::new("http://u:p@exa mple").unwrap_err();
        assert!(!e.to_string().contains("u:p"), "{e}");
    }

    #[test]
    fn statuses_show_their_reason() {
        assert_eq!(HttpStatus(503).to_string(), "503 Service Unavailable");
        assert_eq!(HttpStatus(1000).to_string(), "1000");
    }
}
