//! Settings: what an installation is configured with, from three sources in one order of
//! precedence. A TOML file (`--config FILE` or `REMPART_CONFIG`) gives the lowest layer; the
//! environment variables and command-line flags (read by clap, a flag winning over its
//! variable) the one above; the defaults fill what neither gave. Each source is a [`Layer`], all
//! of whose values are optional; [`Layer::over`] stacks two and [`Layer::resolve`] applies the
//! defaults, so the order is written once.
//!
//! Secrets (a URL that may carry credentials) are [`SecretString`]s: `Debug` prints them
//! redacted, and no error repeats a value read from the file, only its key and line.

mod alerts;
mod auth;
mod guard;
mod notices;
mod verify;

pub use alerts::{AlertSettings, AlertsLayer};
pub use auth::{AuthLayer, AuthSettings, OidcLayer, OidcSettings};
pub use guard::{
    BudgetToml, GuardLayer, GuardMode, GuardSettings, GuardSettingsError, LimitsToml, SignalsToml,
    DEFAULT_PROBATION, DEFAULT_SUSPEND_AFTER_REFUSALS,
};
pub use notices::{NoticeSettings, NoticesLayer};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};
pub use verify::{VerifyLayer, VerifySettings};

/// `[serve] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Prefix of an installation's keys in Redis.
pub const DEFAULT_REDIS_PREFIX: &str = "rempart:";
/// `[serve] checkpoint_every`, seconds.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 10;
/// `[serve] header_timeout`, seconds.
pub const DEFAULT_HEADER_TIMEOUT: u64 = 10;
/// `[serve] idle_timeout`, seconds.
pub const DEFAULT_IDLE_TIMEOUT: u64 = 60;
/// `[serve] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// `[serve] max_in_flight`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// `[tokens] max_lifetime`.
pub const DEFAULT_MAX_TOKEN_LIFETIME: &str = "90d";

/// The settings in force: every layer stacked, the defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreSettings,
    pub vault: VaultSettings,
    pub witness: WitnessSettings,
    pub serve: ServeSettings,
    pub tls: TlsSettings,
    pub tokens: TokenSettings,
    pub log: LogSettings,
    pub guard: GuardSettings,
    pub alerts: AlertSettings,
    pub notices: NoticeSettings,
    pub verify: VerifySettings,
    pub auth: AuthSettings,
    pub oidc: Option<OidcSettings>,
}

/// `[store]`: where the data and its key are.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Data directory of the embedded (SQLite) store.
    pub data: Option<PathBuf>,
    /// PostgreSQL URL of the files database; may carry credentials.
    pub database_url: Option<SecretString>,
    /// PostgreSQL URL of the keys database (with `database_url`); may carry credentials.
    pub keys_database_url: Option<SecretString>,
    /// Redis URL where the nodes share containment's counts (else the files database, with
    /// `database_url`); may carry credentials.
    pub redis_url: Option<SecretString>,
    /// Prefix of this installation's keys in Redis.
    pub redis_prefix: String,
    /// Master key file; DIR.key beside the data directory when absent.
    pub key_file: Option<PathBuf>,
}

/// `[vault]`: the rules the vault decides and validates with.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// Access policy file (Cedar); the default policies when absent.
    pub policies: Option<PathBuf>,
    /// Pattern of France Travail identifiers.
    pub france_travail_pattern: String,
}

/// `[witness]`: where checkpoints of the audit log are copied.
#[derive(Debug, Clone)]
pub struct WitnessSettings {
    /// Witness file; DIR.witness beside the data directory when absent.
    pub file: Option<PathBuf>,
    /// Syslog socket, or `off`; the default socket, optional, when absent.
    pub syslog: Option<PathBuf>,
    /// HTTP(S) endpoint of an outside witness; may carry credentials.
    pub url: Option<SecretString>,
}

/// `[serve]`: the server's address, limits and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: String,
    pub checkpoint_every: u64,
    pub header_timeout: u64,
    pub idle_timeout: u64,
    pub max_connections: usize,
    pub max_in_flight: usize,
}

/// `[tls]`: HTTPS, when both are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// `[tokens]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// Longest lifetime of a token created here (a number followed by d, h, m or s).
    pub max_lifetime: String,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// How `serve` writes its log lines to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// One source's settings, each one optional: the configuration file's, or the flags' and
/// environment's. Its shape is the file's: a key it does not have is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Layer {
    pub store: StoreLayer,
    pub vault: VaultLayer,
    pub witness: WitnessLayer,
    pub serve: ServeLayer,
    pub tls: TlsLayer,
    pub tokens: TokensLayer,
    pub log: LogLayer,
    pub guard: GuardLayer,
    pub alerts: AlertsLayer,
    pub notices: NoticesLayer,
    pub verify: VerifyLayer,
    pub auth: AuthLayer,
    pub oidc: OidcLayer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreLayer {
    pub data: Option<PathBuf>,
    pub database_url: Option<SecretString>,
    pub keys_database_url: Option<SecretString>,
    pub redis_url: Option<SecretString>,
    pub redis_prefix: Option<String>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultLayer {
    pub policies: Option<PathBuf>,
    pub france_travail_pattern: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WitnessLayer {
    pub file: Option<PathBuf>,
    pub syslog: Option<PathBuf>,
    pub url: Option<SecretString>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeLayer {
    pub listen: Option<String>,
    pub checkpoint_every: Option<u64>,
    pub header_timeout: Option<u64>,
    pub idle_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_in_flight: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsLayer {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensLayer {
    pub max_lifetime: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogLayer {
    pub format: Option<LogFormat>,
}

/// Why the configuration file could not be used. Names the file, and the line and key of the
/// problem; never a value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read (missing, not readable, not UTF-8).
    #[error("configuration file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not TOML.
    #[error("configuration file {}, line {line}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A key the settings do not have.
    #[error("configuration file {}, line {line}: unknown key `{key}`{expected}", path.display())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        /// `, expected one of …`: the keys of that table.
        expected: String,
    },
    /// A value of the wrong type, or out of range.
    #[error("configuration file {}, line {line}: `{key}`: {reason}", path.display())]
    Value {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
}

impl Settings {
    /// The settings of the configuration file `config` (none when absent), overridden by
    /// `flags` (the flags and environment variables), with the defaults last.
    pub fn load(config: Option<&Path>, flags: Layer) -> Result<Settings, SettingsError> {
        let file = match config {
            Some(path) => Layer::read(path)?,
            None => Layer::default(),
        };
        Ok(file.over(flags).resolve())
    }
}

impl Layer {
    /// The layer of the configuration file at `path`; its relative paths are taken from the
    /// file's directory.
    pub fn read(path: &Path) -> Result<Layer, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|error| SettingsError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let layer = Layer::parse(path, &text)?;
        Ok(match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => layer.relative_to(dir),
            _ => layer,
        })
    }

    /// The layer of `text`, the content of the file `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Layer, SettingsError> {
        let line_of = |span: Option<std::ops::Range<usize>>| {
            let at = span.map_or(0, |s| s.start).min(text.len());
            text.as_bytes()[..at]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        };
        let de = toml::de::Deserializer::parse(text).map_err(|e| SettingsError::Syntax {
            path: path.to_path_buf(),
            line: line_of(e.span()),
            reason: first_line(e.message()).to_string(),
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let line = line_of(inner.span());
            let message = first_line(inner.message());
            if let Some(rest) = message.strip_prefix("unknown field `") {
                let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
                let key = if at.is_empty() || at == "." || at.ends_with(name) {
                    at.trim_start_matches('.').to_string()
                } else {
                    format!("{at}.{name}")
                };
                return SettingsError::UnknownKey {
                    path: path.to_path_buf(),
                    line,
                    key: if key.is_empty() {
                        name.to_string()
                    } else {
                        key
                    },
                    expected: expected.to_string(),
                };
            }
            SettingsError::Value {
                path: path.to_path_buf(),
                line,
                key: at,
                reason: value_reason(message),
            }
        })
    }

    /// This layer with `over`'s values in place of its own wherever `over` has one.
    pub fn over(self, over: Layer) -> Layer {
        // Destructured whole, so that a setting added to a layer cannot be left out here.
        let Layer {
            store:
                StoreLayer {
                    data,
                    database_url,
                    keys_database_url,
                    redis_url,
                    redis_prefix,
                    key_file,
                },
            vault:
                VaultLayer {
                    policies,
                    france_travail_pattern,
                },
            witness: WitnessLayer { file, syslog, url },
            serve:
                ServeLayer {
                    listen,
                    checkpoint_every,
                    header_timeout,
                    idle_timeout,
                    max_connections,
                    max_in_flight,
                },
            tls: TlsLayer { cert, key },
            tokens: TokensLayer { max_lifetime },
            log: LogLayer { format },
            guard,
            alerts,
            notices,
            verify,
            auth,
            oidc,
        } = self;
        Layer {
            store: StoreLayer {
                data: over.store.data.or(data),
                database_url: over.store.database_url.or(database_url),
                keys_database_url: over.store.keys_database_url.or(keys_database_url),
                redis_url: over.store.redis_url.or(redis_url),
                redis_prefix: over.store.redis_prefix.or(redis_prefix),
                key_file: over.store.key_file.or(key_file),
            },
            vault: VaultLayer {
                policies: over.vault.policies.or(policies),
                france_travail_pattern: over
                    .vault
                    .france_travail_pattern
                    .or(france_travail_pattern),
            },
            witness: WitnessLayer {
                file: over.witness.file.or(file),
                syslog: over.witness.syslog.or(syslog),
                url: over.witness.url.or(url),
            },
            serve: ServeLayer {
                listen: over.serve.listen.or(listen),
                checkpoint_every: over.serve.checkpoint_every.or(checkpoint_every),
                header_timeout: over.serve.header_timeout.or(header_timeout),
                idle_timeout: over.serve.idle_timeout.or(idle_timeout),
                max_connections: over.serve.max_connections.or(max_connections),
                max_in_flight: over.serve.max_in_flight.or(max_in_flight),
            },
            tls: TlsLayer {
                cert: over.tls.cert.or(cert),
                key: over.tls.key.or(key),
            },
            tokens: TokensLayer {
                max_lifetime: over.tokens.max_lifetime.or(max_lifetime),
            },
            log: LogLayer {
                format: over.log.format.or(format),
            },
            guard: guard.over(over.guard),
            alerts: alerts.over(over.alerts),
            notices: notices.over(over.notices),
            verify: verify.over(over.verify),
            auth: auth.over(over.auth),
            oidc: oidc.over(over.oidc),
        }
    }

    /// The settings, with the defaults where this layer has no value.
    pub fn resolve(self) -> Settings {
        let Layer {
            store:
                StoreLayer {
                    data,
                    database_url,
                    keys_database_url,
                    redis_url,
                    redis_prefix,
                    key_file,
                },
            vault:
                VaultLayer {
                    policies,
                    france_travail_pattern,
                },
            witness: WitnessLayer { file, syslog, url },
            serve:
                ServeLayer {
                    listen,
                    checkpoint_every,
                    header_timeout,
                    idle_timeout,
                    max_connections,
                    max_in_flight,
                },
            tls: TlsLayer { cert, key },
            tokens: TokensLayer { max_lifetime },
            log: LogLayer { format },
            guard,
            alerts,
            notices,
            verify,
            auth,
            oidc,
        } = self;
        Settings {
            store: StoreSettings {
                data,
                database_url,
                keys_database_url,
                redis_url,
                redis_prefix: redis_prefix.unwrap_or_else(|| DEFAULT_REDIS_PREFIX.into()),
                key_file,
            },
            vault: VaultSettings {
                policies,
                france_travail_pattern: france_travail_pattern
                    .unwrap_or_else(|| rempart_domain::DEFAULT_FRANCE_TRAVAIL_PATTERN.into()),
            },
            witness: WitnessSettings { file, syslog, url },
            serve: ServeSettings {
                listen: listen.unwrap_or_else(|| DEFAULT_LISTEN.into()),
                checkpoint_every: checkpoint_every.unwrap_or(DEFAULT_CHECKPOINT_EVERY),
                header_timeout: header_timeout.unwrap_or(DEFAULT_HEADER_TIMEOUT),
                idle_timeout: idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT),
                max_connections: max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
                max_in_flight: max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            },
            tls: TlsSettings { cert, key },
            tokens: TokenSettings {
                max_lifetime: max_lifetime.unwrap_or_else(|| DEFAULT_MAX_TOKEN_LIFETIME.into()),
            },
            log: LogSettings {
                format: format.unwrap_or_default(),
            },
            guard: guard.resolve(),
            alerts: alerts.resolve(),
            notices: notices.resolve(),
            verify: verify.resolve(),
            auth: auth.resolve(),
            oidc: oidc.resolve(),
        }
    }

    /// This layer with its relative paths taken from `dir` (a syslog socket of `off` is not a
    /// path).
    fn relative_to(mut self, dir: &Path) -> Layer {
        let rebase = |p: &mut Option<PathBuf>| {
            if let Some(path) = p {
                if path.is_relative() && !path.as_os_str().is_empty() && path != Path::new("off") {
                    *path = dir.join(&*path);
                }
            }
        };
        rebase(&mut self.store.data);
        rebase(&mut self.store.key_file);
        rebase(&mut self.vault.policies);
        rebase(&mut self.witness.file);
        rebase(&mut self.witness.syslog);
        rebase(&mut self.alerts.syslog);
        rebase(&mut self.notices.templates);
        rebase(&mut self.notices.mailbox);
        rebase(&mut self.tls.cert);
        rebase(&mut self.tls.key);
        self
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// The reason of a value's error, without the value: serde's messages quote it (`invalid type:
/// string "…", expected u64`), and the value may be a secret.
fn value_reason(message: &str) -> String {
    let expected = |rest: &str| {
        rest.rfind(", expected ")
            .map(|i| match &rest[i + ", expected ".len()..] {
                "u64" | "usize" => "a whole number of at least 0".to_string(),
                e if e.starts_with("struct ") => "a table".to_string(),
                e => e.to_string(),
            })
    };
    for (prefix, what) in [
        ("invalid type: ", "wrong type"),
        ("invalid value: ", "invalid value"),
        ("unknown variant ", "unknown value"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return match expected(rest) {
                Some(e) => format!("{what}, expected {e}"),
                None => what.to_string(),
            };
        }
    }
    if message.starts_with("invalid length ") || message.starts_with("duplicate field ") {
        return message.to_string();
    }
    "invalid value".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const EXAMPLE: &str = include_str!("../../../rempart.example.toml");

    fn parse(text: &str) -> Result<Layer, SettingsError> {
        Layer::parse(Path::new("/etc/rempart/rempart.toml"), text)
    }

    /// Every setting of a layer that has no value, by key.
    fn unset(l: &Layer) -> Vec<&'static str> {
        let Layer {
            store:
                StoreLayer {
                    data,
                    database_url,
                    keys_database_url,
                    redis_url,
                    redis_prefix,
                    key_file,
                },
            vault:
                VaultLayer {
                    policies,
                    france_travail_pattern,
                },
            witness: WitnessLayer { file, syslog, url },
            serve:
                ServeLayer {
                    listen,
                    checkpoint_every,
                    header_timeout,
                    idle_timeout,
                    max_connections,
                    max_in_flight,
                },
            tls: TlsLayer { cert, key },
            tokens: TokensLayer { max_lifetime },
            log: LogLayer { format },
            guard:
                GuardLayer {
                    mode,
                    probation,
                    suspend_after_refusals,
                    limits,
                    probation_limits,
                    agency_outside,
                    office_hours,
                    utc_offset_minutes,
                    signals,
                    four_eyes_above,
                },
            alerts:
                AlertsLayer {
                    webhook_url,
                    webhook_secret,
                    syslog: alert_syslog,
                    smtp_url,
                    email_from,
                    email_to,
                },
            notices,
            verify:
                VerifyLayer {
                    per_minute,
                    per_day,
                    max_clients,
                },
            auth,
            oidc,
        } = l;
        [
            ("store.data", data.is_none()),
            ("store.database_url", database_url.is_none()),
            ("store.keys_database_url", keys_database_url.is_none()),
            ("store.redis_url", redis_url.is_none()),
            ("store.redis_prefix", redis_prefix.is_none()),
            ("store.key_file", key_file.is_none()),
            ("vault.policies", policies.is_none()),
            (
                "vault.france_travail_pattern",
                france_travail_pattern.is_none(),
            ),
            ("witness.file", file.is_none()),
            ("witness.syslog", syslog.is_none()),
            ("witness.url", url.is_none()),
            ("serve.listen", listen.is_none()),
            ("serve.checkpoint_every", checkpoint_every.is_none()),
            ("serve.header_timeout", header_timeout.is_none()),
            ("serve.idle_timeout", idle_timeout.is_none()),
            ("serve.max_connections", max_connections.is_none()),
            ("serve.max_in_flight", max_in_flight.is_none()),
            ("tls.cert", cert.is_none()),
            ("tls.key", key.is_none()),
            ("tokens.max_lifetime", max_lifetime.is_none()),
            ("log.format", format.is_none()),
            ("guard.mode", mode.is_none()),
            ("guard.probation", probation.is_none()),
            (
                "guard.suspend_after_refusals",
                suspend_after_refusals.is_none(),
            ),
            (
                "guard.limits",
                limits.len() != rempart_domain::Role::ALL.len(),
            ),
            ("guard.probation_limits", probation_limits.is_none()),
            ("guard.agency_outside", agency_outside.is_none()),
            ("guard.office_hours", office_hours.is_none()),
            ("guard.utc_offset_minutes", utc_offset_minutes.is_none()),
            ("guard.signals", signals.is_none()),
            ("guard.four_eyes_above", four_eyes_above.is_none()),
            ("alerts.webhook_url", webhook_url.is_none()),
            ("alerts.webhook_secret", webhook_secret.is_none()),
            ("alerts.syslog", alert_syslog.is_none()),
            ("alerts.smtp_url", smtp_url.is_none()),
            ("alerts.email_from", email_from.is_none()),
            ("alerts.email_to", email_to.is_none()),
            ("verify.per_minute", per_minute.is_none()),
            ("verify.per_day", per_day.is_none()),
            ("verify.max_clients", max_clients.is_none()),
        ]
        .into_iter()
        .filter_map(|(k, none)| none.then_some(k))
        .chain(notices.unset())
        .chain(auth.unset())
        .chain(oidc.unset())
        .collect()
    }

    /// The example file with its commented-out settings (`# key = value`) put back.
    fn uncommented(text: &str) -> String {
        text.lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_example_file_holds_the_defaults() {
        let example = parse(EXAMPLE).unwrap();
        // What it sets is what the defaults are: resolving it gives the settings of no file.
        assert_eq!(
            format!("{:?}", example.resolve()),
            format!("{:?}", Layer::default().resolve())
        );
        // No secret is set in it.
        let example = parse(EXAMPLE).unwrap();
        assert!(example.store.database_url.is_none() && example.witness.url.is_none());
        assert!(
            example.alerts.webhook_url.is_none()
                && example.alerts.webhook_secret.is_none()
                && example.alerts.smtp_url.is_none()
        );
    }

    #[test]
    fn the_example_file_lists_every_setting() {
        let all = parse(&uncommented(EXAMPLE)).unwrap();
        assert_eq!(
            unset(&all),
            Vec::<&str>::new(),
            "settings missing from the example"
        );
    }

    #[test]
    fn each_layer_overrides_the_one_below_and_defaults_come_last() {
        let file = parse(
            "[serve]\nlisten = \"0.0.0.0:1\"\nheader_timeout = 20\nidle_timeout = 30\n\
             [store]\ndata = \"/file/data\"\n",
        )
        .unwrap();
        let flags = Layer {
            serve: ServeLayer {
                header_timeout: Some(40),
                ..ServeLayer::default()
            },
            store: StoreLayer {
                data: Some("/flag/data".into()),
                ..StoreLayer::default()
            },
            ..Layer::default()
        };
        let s = file.over(flags).resolve();
        assert_eq!(s.serve.listen, "0.0.0.0:1", "the file's, no flag");
        assert_eq!(s.serve.header_timeout, 40, "the flag's over the file's");
        assert_eq!(s.serve.idle_timeout, 30, "the file's");
        assert_eq!(
            s.serve.max_connections, DEFAULT_MAX_CONNECTIONS,
            "the default"
        );
        assert_eq!(s.store.data, Some(PathBuf::from("/flag/data")));
        assert_eq!(s.tokens.max_lifetime, DEFAULT_MAX_TOKEN_LIFETIME);
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn relative_paths_are_taken_from_the_file_s_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rempart.toml");
        std::fs::write(
            &path,
            "[store]\ndata = \"data\"\nkey_file = \"/abs/master.key\"\n\
             [witness]\nsyslog = \"off\"\nfile = \"../w\"\n[tls]\ncert = \"tls/cert.pem\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), Layer::default()).unwrap();
        assert_eq!(s.store.data, Some(dir.path().join("data")));
        assert_eq!(s.store.key_file, Some(PathBuf::from("/abs/master.key")));
        assert_eq!(s.witness.syslog, Some(PathBuf::from("off")));
        assert_eq!(s.witness.file, Some(dir.path().join("../w")));
        assert_eq!(s.tls.cert, Some(dir.path().join("tls/cert.pem")));
    }

    #[test]
    fn a_missing_file_is_named() {
        let e =
            Settings::load(Some(Path::new("/no/such/rempart.toml")), Layer::default()).unwrap_err();
        assert!(matches!(e, SettingsError::Read { .. }));
        assert!(
            e.to_string()
                .starts_with("configuration file /no/such/rempart.toml: "),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_table_and_line() {
        let e = parse("[store]\ndata = \"/d\"\ndatabse_url = \"postgres://u:hunter2@db/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "configuration file /etc/rempart/rempart.toml, line 3: unknown key `store.databse_url`"
            ),
            "{e}"
        );
        assert!(e.contains("`database_url`"), "the keys it could be: {e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse("[serve]\nlisten = \"x\"\n[stor]\ndata = \"/d\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "configuration file /etc/rempart/rempart.toml, line 3: unknown key `stor`"
            ),
            "{e}"
        );
        let e = parse("verbose = true\n").unwrap_err().to_string();
        assert!(e.contains("line 1: unknown key `verbose`"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_key_never_shown() {
        let e = parse("[serve]\nheader_timeout = \"s3cr3t-ish\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "configuration file /etc/rempart/rempart.toml, line 2: `serve.header_timeout`: wrong type, expected a whole number of at least 0"
        );
        let e = parse("[store]\ndatabase_url = 12345678\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2: `store.database_url`: wrong type"),
            "{e}"
        );
        assert!(!e.contains("12345678"), "{e}");
        let e = parse("[serve]\nmax_in_flight = -3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`serve.max_in_flight`"), "{e}");
        assert!(!e.contains("-3"), "{e}");
        let e = parse("[log]\nformat = \"xml\"\n").unwrap_err().to_string();
        assert!(e.contains("`log.format`: unknown value, expected"), "{e}");
        assert!(!e.contains("xml"), "{e}");
        let e = parse("store = 3\n").unwrap_err().to_string();
        assert!(e.contains("`store`: wrong type, expected a table"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused_with_its_line_and_not_its_content() {
        let e = parse("[store]\ndatabase_url = \"postgres://u:hunter2@db\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("configuration file /etc/rempart/rempart.toml, line 2: "),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn secrets_are_never_printed() {
        let l = parse(
            "[store]\ndatabase_url = \"postgres://u:hunter2@db/x\"\n\
             [witness]\nurl = \"https://w:t0k3n@witness.example/cp\"\n\
             [alerts]\nwebhook_url = \"https://siem.example/h?k=w3bh00k\"\n\
             webhook_secret = \"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\"\n\
             smtp_url = \"smtp://u:sm7p@relay.example\"\n",
        )
        .unwrap();
        let s = l.resolve();
        let shown = format!("{s:?}");
        for secret in ["hunter2", "t0k3n", "w3bh00k", "s3cr3t", "sm7p"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(
            s.store.database_url.as_ref().map(|u| u.expose_secret()),
            Some("postgres://u:hunter2@db/x")
        );
    }
}
