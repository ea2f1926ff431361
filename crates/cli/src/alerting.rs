//! Containment's alerts on their way out: the channels `[alerts]` configures, each sent from a
//! thread of its own once the suspension is recorded, retried twice, and a failure logged.

use crate::settings::AlertSettings;
use anyhow::{bail, Context, Result};
use rempart_notify::{Channel, Email, Facility, Outbound, Severity, Syslog, Webhook};
use rempart_vault::{AlertRecord, AlertSink, Outage};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The structured-data id of alerts in syslog (RFC 5424 section 7.2.2: NAME@PEN; 32473 is the
/// number RFC 5612 reserves for documentation, to be replaced by the operator's own).
pub const SD_ID: &str = "rempart@32473";

/// Waits before the second and third attempts.
const BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];

/// The channels alerts go to.
#[derive(Debug, Clone, Default)]
pub struct AlertChannels {
    webhook: Option<Webhook>,
    syslog: Option<Outbound<Syslog>>,
    email: Option<Email>,
}

impl AlertChannels {
    /// The channels `s` configures; an incomplete or malformed one is an error, named by its
    /// setting.
    pub fn from_settings(s: &AlertSettings) -> Result<AlertChannels> {
        let webhook = match (&s.webhook_url, &s.webhook_secret) {
            (Some(url), Some(secret)) => Some(
                Webhook::new(secrecy::ExposeSecret::expose_secret(url), secret.clone())
                    .context("--alert-webhook-url / --alert-webhook-secret (alerts.webhook_url, alerts.webhook_secret)")?,
            ),
            (Some(_), None) => bail!(
                "--alert-webhook-url (alerts.webhook_url) needs its signing secret: REMPART_ALERT_WEBHOOK_SECRET (alerts.webhook_secret)"
            ),
            (None, Some(_)) => bail!(
                "--alert-webhook-secret (alerts.webhook_secret) without --alert-webhook-url (alerts.webhook_url)"
            ),
            (None, None) => None,
        };
        let syslog = |socket: &Path| {
            Syslog::new(socket, Facility::Auth, Severity::Alert, "containment-alert")
        };
        let syslog = match s.syslog.as_deref() {
            Some(p) if p == Path::new("off") => None,
            Some(p) if p.as_os_str().is_empty() => {
                bail!("--alert-syslog (alerts.syslog) needs a socket path or `off`")
            }
            Some(p) => Some(Outbound::required(syslog(p))),
            None => Some(Outbound::optional(
                syslog(Path::new(rempart_vault::DEFAULT_SYSLOG)),
                "containment alerts are not sent to syslog",
            )),
        };
        let email = match (&s.smtp_url, &s.email_from) {
            (Some(url), Some(from)) => Some(
                Email::new(url, from, &s.email_to, "[Rempart] containment suspended a principal")
                    .context("--alert-smtp-url / --alert-email-from / --alert-email-to (alerts.smtp_url, alerts.email_from, alerts.email_to)")?,
            ),
            (Some(_), None) => bail!(
                "--alert-smtp-url (alerts.smtp_url) needs --alert-email-from (alerts.email_from) and --alert-email-to (alerts.email_to)"
            ),
            (None, _) if s.email_from.is_some() || !s.email_to.is_empty() => bail!(
                "--alert-email-from / --alert-email-to (alerts.email_from, alerts.email_to) need --alert-smtp-url (alerts.smtp_url)"
            ),
            (None, _) => None,
        };
        Ok(AlertChannels {
            webhook,
            syslog,
            email,
        })
    }

    /// Sends `alert` to every channel, each up to three times; returns the failures.
    pub fn deliver(&self, alert: &AlertRecord) -> Vec<String> {
        let mut failures = Vec::new();
        let json = json(alert);
        if let Some(w) = &self.webhook {
            if let Err(e) = retried(|| w.send(json.as_bytes())) {
                failures.push(format!("webhook {}: {e}", w.name()));
            }
        }
        if let Some(s) = &self.syslog {
            let params = params(alert);
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let text = summary(alert);
            let result = retried(|| s.channel().send_structured(SD_ID, &params, text.as_bytes()));
            // The default socket, when absent, is warned about once, as the witness's is.
            if let Err(e) = s.report(result) {
                failures.push(format!("syslog {}: {e}", s.channel().name()));
            }
        }
        if let Some(m) = &self.email {
            let subject = format!("[Rempart] containment suspended {}", alert.principal);
            if let Err(e) = retried(|| m.send_mail(&subject, &email_body(alert))) {
                failures.push(format!("email {}: {e}", m.name()));
            }
        }
        failures
    }
}

impl AlertSink for AlertChannels {
    fn raised(&self, alert: &AlertRecord) {
        let channels = self.clone();
        let alert = alert.clone();
        std::thread::spawn(move || {
            for failure in channels.deliver(&alert) {
                tracing::warn!(alert = %alert.id, %failure, "a containment alert was not delivered");
            }
        });
    }

    fn containment_outage(&self, outage: Outage, at: i64) {
        let channels = self.clone();
        std::thread::spawn(move || {
            for failure in channels.deliver_outage(outage, at) {
                tracing::warn!(%failure, "a containment outage alert was not delivered");
            }
        });
    }
}

impl AlertChannels {
    /// Says to every channel that containment's shared counts stopped answering, or answer
    /// again; returns the failures.
    pub fn deliver_outage(&self, outage: Outage, at: i64) -> Vec<String> {
        let (kind, text) = outage_words(outage);
        let mut failures = Vec::new();
        if let Some(w) = &self.webhook {
            let json = serde_json::json!({"type": kind, "time": time(at)}).to_string();
            if let Err(e) = retried(|| w.send(json.as_bytes())) {
                failures.push(format!("webhook {}: {e}", w.name()));
            }
        }
        if let Some(s) = &self.syslog {
            let params = [("event", kind)];
            let result = retried(|| s.channel().send_structured(SD_ID, &params, text.as_bytes()));
            if let Err(e) = s.report(result) {
                failures.push(format!("syslog {}: {e}", s.channel().name()));
            }
        }
        if let Some(m) = &self.email {
            let body = format!("{text}.\n\nTime: {}\n", time(at));
            if let Err(e) = retried(|| m.send_mail(&format!("[Rempart] {text}"), &body)) {
                failures.push(format!("email {}: {e}", m.name()));
            }
        }
        failures
    }
}

/// The event's name (webhook `type`, syslog `event`) and its sentence.
fn outage_words(outage: Outage) -> (&'static str, &'static str) {
    match outage {
        Outage::Began => (
            "containment_unavailable",
            "containment cannot reach its shared counts: responses with personal data are refused until it can",
        ),
        Outage::Ended => (
            "containment_restored",
            "containment reaches its shared counts again",
        ),
    }
}

/// `f`, tried again after each wait of [`BACKOFF`] while it fails.
fn retried<E>(mut f: impl FnMut() -> Result<(), E>) -> Result<(), E> {
    let mut result = f();
    for wait in BACKOFF {
        if result.is_ok() {
            break;
        }
        std::thread::sleep(wait);
        result = f();
    }
    result
}

fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

/// The signals of an alert (`key=value` words) as pairs.
fn signals(alert: &AlertRecord) -> Vec<(&str, &str)> {
    alert
        .signals
        .split(' ')
        .filter_map(|w| w.split_once('='))
        .collect()
}

/// The alert as the webhook receives it: who, what tripped, the counts; no personal data and
/// not the people's ids (`GET /v1/alerts/{id}` has them, for operators).
pub fn json(alert: &AlertRecord) -> String {
    let signals: serde_json::Map<String, serde_json::Value> = signals(alert)
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .parse::<u64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| serde_json::Value::from(v));
            (k.to_string(), v)
        })
        .collect();
    serde_json::json!({
        "type": "containment_alert",
        "id": alert.id,
        "time": time(alert.at),
        "principal": alert.principal,
        "role": alert.role,
        "agency": alert.agency,
        "token": alert.token,
        "trip": alert.trip,
        "signals": signals,
        "people_exposed": alert.people.len(),
    })
    .to_string()
}

fn params(alert: &AlertRecord) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("alert", alert.id.clone()),
        ("principal", alert.principal.clone()),
        ("role", alert.role.clone()),
        ("agency", alert.agency.clone()),
        ("token", alert.token.clone()),
        ("trip", alert.trip.clone()),
        ("people_exposed", alert.people.len().to_string()),
    ];
    for (k, v) in signals(alert) {
        // Keys of the signals are the guard's own words; only those known are passed.
        if let Some(known) = SIGNAL_KEYS.iter().find(|s| **s == k) {
            p.push((known, v.to_string()));
        }
    }
    p
}

/// The signals' keys, as `Vault::contain` writes them.
const SIGNAL_KEYS: [&str; 8] = [
    "action",
    "signals",
    "people_minute",
    "people_hour",
    "people_day",
    "outside_minute",
    "outside_hour",
    "outside_day",
];

fn summary(alert: &AlertRecord) -> String {
    format!(
        "containment suspended principal {} ({} of {}) after {}: {} people exposed over the last day",
        alert.principal,
        alert.role,
        alert.agency,
        if alert.trip == "decoy" {
            "a decoy file"
        } else {
            "repeated refusals"
        },
        alert.people.len()
    )
}

fn email_body(alert: &AlertRecord) -> String {
    format!(
        "{}.\n\nAlert: {}\nTime: {}\nToken: {}\nSignals: {}\n\nEvery token of this principal is refused until an operator restores it with a written justification:\n  rempart alerts show {}\n  rempart alerts restore {} --justification \"…\"\n",
        summary(alert),
        alert.id,
        time(alert.at),
        alert.token,
        alert.signals,
        alert.id,
        alert.id
    )
}

/// Channels for a vault: `None` when none is configured.
pub fn sink(s: &AlertSettings) -> Result<Option<Arc<dyn AlertSink>>> {
    let c = AlertChannels::from_settings(s)?;
    if c.webhook.is_none() && c.syslog.is_none() && c.email.is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::new(c)))
}
