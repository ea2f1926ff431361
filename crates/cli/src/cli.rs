//! The command line (docs/api.md).

use crate::settings::{
    AlertsLayer, GuardLayer, GuardMode, Layer, LogFormat, LogLayer, ServeLayer, StoreLayer,
    TlsLayer, VaultLayer, VerifyLayer, WitnessLayer,
};
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use std::path::PathBuf;

/// Rempart keeps the files of the young people that Missions locales, France Travail and their
/// partners follow: a stolen database is ciphertext, every read is decided by access policies
/// and recorded in a tamper-evident audit log before any data leaves, and erasing a file
/// destroys its key.
///
/// Try it with `rempart serve --demo`: a throw-away installation with synthetic files and a
/// token per role, and example calls to copy. For a real installation: `rempart init`, then
/// `rempart token create` for each caller, then `rempart serve`. `rempart audit verify` checks
/// the audit log against its signed checkpoints. Every command takes `--help`; the operations
/// guide is docs/operations.md in the repository.
#[derive(Debug, Parser)]
#[command(name = "rempart", version)]
pub struct Cli {
    /// Configuration file (TOML; `rempart.example.toml` lists every setting). Environment
    /// variables override it, and flags override both.
    #[arg(long, env = "REMPART_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// A value kept as a secret from the moment it is read: never printed.
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

/// Where the store is and where its keys are.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Data directory of the embedded (SQLite) store.
    #[arg(long, env = "REMPART_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// PostgreSQL URL of the files database instead of --data (`postgres://…`, or several
    /// hosts with `target_session_attrs=read-write`); with --keys-database and --key-file.
    #[arg(
        long,
        env = "REMPART_DATABASE_URL",
        global = true,
        conflicts_with = "data",
        value_parser = secret,
        hide_env_values = true
    )]
    pub database: Option<SecretString>,
    /// PostgreSQL URL of the keys database, another database (or a schema with its own role)
    /// than --database's, reached with other credentials.
    #[arg(
        long,
        env = "REMPART_KEYS_DATABASE_URL",
        global = true,
        conflicts_with = "data",
        value_parser = secret,
        hide_env_values = true
    )]
    pub keys_database: Option<SecretString>,
    /// Redis URL (`redis://[user][:password@]host[:port][/db]`) where the nodes share
    /// containment's counts; without it, nodes on PostgreSQL share them in the files database.
    #[arg(
        long,
        env = "REMPART_REDIS_URL",
        global = true,
        value_parser = secret,
        hide_env_values = true
    )]
    pub redis: Option<SecretString>,
    /// Prefix of this installation's keys in Redis [default: rempart:].
    #[arg(long, env = "REMPART_REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,
    /// Master key file, outside the data directory (every command refuses one inside it);
    /// defaults to DIR.key beside the data directory. A passphrase-protected key file is opened
    /// with REMPART_PASSPHRASE.
    #[arg(long, env = "REMPART_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// Witness file of the audit log's checkpoints, outside the data directory; defaults to
    /// DIR.witness beside it, where the account that writes the database can write it too:
    /// keep it (or a copy) where that account cannot, and add an outside copy with
    /// --witness-url (or syslog forwarded off the machine).
    #[arg(long, env = "REMPART_WITNESS", global = true)]
    pub witness: Option<PathBuf>,
    /// Syslog socket that also receives each checkpoint, or `off`. The default socket is
    /// optional (a warning if absent); one given here must accept the message.
    #[arg(long, env = "REMPART_WITNESS_SYSLOG", global = true)]
    pub witness_syslog: Option<String>,
    /// HTTP(S) endpoint of an outside witness that receives each checkpoint (JSON POST, must
    /// answer 2xx).
    #[arg(
        long,
        env = "REMPART_WITNESS_URL",
        global = true,
        value_parser = secret,
        hide_env_values = true
    )]
    pub witness_url: Option<SecretString>,
    /// Access policy file (Cedar), checked against the schema when loaded; the default
    /// policies (`rempart policy default`) when absent.
    #[arg(long, env = "REMPART_POLICIES", global = true)]
    pub policies: Option<PathBuf>,
    /// Pattern (regular expression) of France Travail identifiers [default:
    /// ^[0-9A-Z]{8,11}$].
    #[arg(long, env = "REMPART_FRANCE_TRAVAIL_PATTERN", global = true)]
    pub france_travail_pattern: Option<String>,
}

impl StoreArgs {
    /// The settings these flags (and their environment variables) give.
    pub fn layer(&self) -> Layer {
        Layer {
            store: StoreLayer {
                data: self.data.clone(),
                database_url: self.database.clone(),
                keys_database_url: self.keys_database.clone(),
                redis_url: self.redis.clone(),
                redis_prefix: self.redis_prefix.clone(),
                key_file: self.key_file.clone(),
            },
            vault: VaultLayer {
                policies: self.policies.clone(),
                france_travail_pattern: self.france_travail_pattern.clone(),
            },
            witness: WitnessLayer {
                file: self.witness.clone(),
                syslog: self.witness_syslog.as_ref().map(PathBuf::from),
                url: self.witness_url.clone(),
            },
            ..Layer::default()
        }
    }
}

/// Address, checkpoints, connections, limits, TLS and log of `serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeFlags {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "REMPART_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Seconds between signed checkpoints of the audit log (when it has grown) [default: 10].
    #[arg(long, env = "REMPART_CHECKPOINT_EVERY", value_name = "SECS")]
    pub checkpoint_every: Option<u64>,
    /// Seconds a client has to send a request's head (from the opening of the connection for
    /// the first request, from its first byte for the next ones) and to complete a TLS
    /// handshake; then the connection is closed [default: 10].
    #[arg(long, env = "REMPART_HEADER_TIMEOUT", value_name = "SECS")]
    pub header_timeout: Option<u64>,
    /// Seconds a kept-alive connection may wait for its next request, a request body may take
    /// to arrive, and a response may go unread; then the connection is closed [default: 60].
    #[arg(long, env = "REMPART_IDLE_TIMEOUT", value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Connections open at once; the next ones wait to be accepted [default: 512].
    #[arg(long, env = "REMPART_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Requests answered at once; the next ones are answered 503 with Retry-After [default:
    /// 256].
    #[arg(long, env = "REMPART_MAX_IN_FLIGHT", value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Serve HTTPS with this PEM certificate (chain), with --tls-key.
    #[arg(long, env = "REMPART_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "REMPART_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Log lines on standard error as text or JSON [default: text].
    #[arg(long, env = "REMPART_LOG_FORMAT", value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Containment: every response carrying personal data counted against the principal's
    /// budgets of distinct people, `on`, or `off` (for a benchmark, never for real data)
    /// [default: on].
    #[arg(long, env = "REMPART_GUARD", value_enum, value_name = "MODE")]
    pub guard: Option<GuardMode>,
    /// Lockouts after repeated failed credentials, and the delays before answering them, `on`,
    /// or `off` (for a fuzzer that sends bad credentials on purpose, never for real data;
    /// failures are still recorded) [default: on].
    #[arg(long, env = "REMPART_AUTH_LOCKOUTS", value_enum, value_name = "MODE")]
    pub auth_lockouts: Option<GuardMode>,
    /// How long a new principal, or one whose role or agency changed, stays on the small
    /// probation budgets: a number followed by d, h, m or s [default: 7d].
    #[arg(long, env = "REMPART_GUARD_PROBATION", value_name = "DURATION")]
    pub guard_probation: Option<String>,
    /// Refusals within an hour after which containment suspends the principal [default: 3].
    #[arg(long, env = "REMPART_GUARD_SUSPEND_AFTER_REFUSALS", value_name = "N")]
    pub suspend_after_refusals: Option<u32>,
    /// Webhook receiving each containment alert as a JSON POST signed with HMAC-SHA-256.
    #[arg(
        long,
        env = "REMPART_ALERT_WEBHOOK_URL",
        value_name = "URL",
        value_parser = secret,
        hide_env_values = true
    )]
    pub alert_webhook_url: Option<SecretString>,
    /// The webhook's signing secret, at least 32 bytes (prefer the environment variable).
    #[arg(
        long,
        env = "REMPART_ALERT_WEBHOOK_SECRET",
        value_name = "SECRET",
        value_parser = secret,
        hide_env_values = true
    )]
    pub alert_webhook_secret: Option<SecretString>,
    /// Syslog socket receiving each alert (RFC 5424, structured data), or `off`. The default
    /// socket is optional (a warning if absent); one given here must accept the message.
    #[arg(long, env = "REMPART_ALERT_SYSLOG", value_name = "SOCKET")]
    pub alert_syslog: Option<PathBuf>,
    /// SMTP server for alert emails (smtp:// or smtps://, credentials in the URL).
    #[arg(
        long,
        env = "REMPART_ALERT_SMTP_URL",
        value_name = "URL",
        value_parser = secret,
        hide_env_values = true
    )]
    pub alert_smtp_url: Option<SecretString>,
    /// Sender of alert emails.
    #[arg(long, env = "REMPART_ALERT_EMAIL_FROM", value_name = "ADDRESS")]
    pub alert_email_from: Option<String>,
    /// Recipients of alert emails, comma-separated.
    #[arg(
        long,
        env = "REMPART_ALERT_EMAIL_TO",
        value_name = "ADDRESSES",
        value_delimiter = ','
    )]
    pub alert_email_to: Option<Vec<String>>,
    /// Verifications of codes (`POST /v1/verify`, `GET /verify`) a client address may make at
    /// once, refilled at this many a minute; then 429 [default: 10].
    #[arg(long, env = "REMPART_VERIFY_PER_MINUTE", value_name = "N")]
    pub verify_per_minute: Option<u32>,
    /// Verifications of codes a client address may make over a day, refilled at this many a
    /// day [default: 100].
    #[arg(long, env = "REMPART_VERIFY_PER_DAY", value_name = "N")]
    pub verify_per_day: Option<u32>,
}

impl ServeFlags {
    /// The settings these flags (and their environment variables) give.
    pub fn layer(&self) -> Layer {
        Layer {
            serve: ServeLayer {
                listen: self.listen.clone(),
                checkpoint_every: self.checkpoint_every,
                header_timeout: self.header_timeout,
                idle_timeout: self.idle_timeout,
                max_connections: self.max_connections,
                max_in_flight: self.max_in_flight,
            },
            tls: TlsLayer {
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
            },
            log: LogLayer {
                format: self.log_format,
            },
            guard: GuardLayer {
                mode: self.guard,
                probation: self.guard_probation.clone(),
                suspend_after_refusals: self.suspend_after_refusals,
                ..GuardLayer::default()
            },
            auth: crate::settings::AuthLayer {
                lockouts: self.auth_lockouts,
                ..Default::default()
            },
            alerts: AlertsLayer {
                webhook_url: self.alert_webhook_url.clone(),
                webhook_secret: self.alert_webhook_secret.clone(),
                syslog: self.alert_syslog.clone(),
                smtp_url: self.alert_smtp_url.clone(),
                email_from: self.alert_email_from.clone(),
                email_to: self.alert_email_to.clone(),
            },
            verify: VerifyLayer {
                per_minute: self.verify_per_minute,
                per_day: self.verify_per_day,
                ..VerifyLayer::default()
            },
            ..Layer::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates the data directory and the master key file (outside the data directory).
    Init {
        #[command(flatten)]
        store: StoreArgs,
        /// Protect the key file with the passphrase in REMPART_PASSPHRASE (Argon2id).
        #[arg(long)]
        passphrase: bool,
    },
    /// Serves the HTTP API.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Start on a fresh demonstration installation (temporary directory, synthetic
        /// agencies and files, a token per role printed with example calls).
        #[arg(long)]
        demo: bool,
        /// Files of the demonstration installation.
        #[arg(long, default_value_t = 300, requires = "demo")]
        demo_files: usize,
        /// On PostgreSQL: make this node's containment settings (where it counts, [guard],
        /// the lockouts of [auth]) the installation's, in place of those the other nodes were
        /// started with (then restart them with the same). Without it, a node whose settings
        /// differ does not start.
        #[arg(long, conflicts_with = "demo")]
        adopt_settings: bool,
        #[command(flatten)]
        http: ServeFlags,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Principals as records (who may sign in, with which role and agency: created, raised or
    /// moved by one operator's request and a second operator's approval); suspension and
    /// restoration.
    Principal {
        #[command(subcommand)]
        command: PrincipalCommand,
    },
    /// Imports files from a CSV export; all or nothing, errors by line and column.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// Agency of every line (or an `agency` column in the file).
        #[arg(long)]
        agency: Option<String>,
        /// The CSV file.
        file: PathBuf,
    },
    /// Writes realistic synthetic French files as CSV.
    Synth {
        /// Number of files.
        #[arg(long)]
        count: usize,
        /// Number of agencies.
        #[arg(long, default_value_t = 3)]
        agencies: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Seed (the same seed gives the same files).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The containment drill: an installation of its own on a simulated clock, a normal month
    /// of work and the attacks of the threat model replayed over HTTP; prints, per attack, the
    /// people whose data left before containment and the time to containment, and for the
    /// month the refusals and suspensions (Markdown). Exits 1 when a bound breaks.
    Drill {
        /// Agencies.
        #[arg(long, default_value_t = 3)]
        agencies: usize,
        /// Files per agency (five counsellors each).
        #[arg(long, default_value_t = 400)]
        files_per_agency: usize,
        /// Days of normal work.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Seed of the synthetic files and of the simulated work.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Also append the report to this file.
        #[arg(long)]
        append_to: Option<PathBuf>,
    },
    /// Runs the benchmarks (import, secured and baseline HTTP reads) and prints a Markdown report.
    Bench {
        /// Files to import (0: only the authorisation, containment and audit-log benchmarks).
        #[arg(long, default_value_t = 100_000)]
        files: usize,
        /// Agencies.
        #[arg(long, default_value_t = 3)]
        agencies: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds of load per server.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Also benchmark the audit log with this many entries (0: skip).
        #[arg(long, default_value_t = 0)]
        audit_entries: u64,
        /// Also deliver the notices of this many people to a local SMTP server (aiosmtpd)
        /// (0: skip).
        #[arg(long, default_value_t = 0)]
        notices: usize,
        /// Rounds of load per server; the servers take turns and each one's median round is
        /// reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Also append the report to this file.
        #[arg(long)]
        append_to: Option<PathBuf>,
        /// Run the import and the reads on this PostgreSQL server instead (one node, two
        /// nodes, a plaintext PostgreSQL baseline), in databases of the run's own made with a
        /// role that may create databases and dropped at the end.
        #[arg(long, env = "REMPART_BENCH_POSTGRES", value_parser = secret, hide_env_values = true)]
        postgres: Option<SecretString>,
    },
    /// The plaintext baseline server of `rempart bench` (internal).
    #[command(hide = true)]
    BenchBaseline {
        /// Plaintext SQLite table.
        #[arg(long, required_unless_present = "postgres")]
        db: Option<PathBuf>,
        /// Plaintext PostgreSQL table, instead.
        #[arg(long, conflicts_with = "db")]
        postgres: Option<String>,
        /// Address to listen on.
        #[arg(long)]
        listen: String,
    },
    /// The audit log: verification, checkpoints.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// `rempart serve` with read auditing dropped, for `rempart bench` only (internal).
    #[command(hide = true)]
    BenchNoAudit {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// Key file.
        #[arg(long)]
        key_file: PathBuf,
        /// Address to listen on.
        #[arg(long)]
        listen: String,
    },
    /// Containment's alerts: the principals suspended, why, and the people exposed; restoring
    /// one.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Breach response: incidents, and exactly who lost what.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Leaked files: which people of a file of stolen data are in the vault, and which export
    /// it came from.
    Leak {
        #[command(subcommand)]
        command: LeakCommand,
    },
    /// Checks a verification code printed on a message this installation sent: prints
    /// `genuine`, the day it was sent and the agency that sent it (tab-separated), or `not
    /// genuine` and exits 1. Nothing else: never the recipient or the message.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// The code as printed (XXXX-XXXX-XXXX) or typed: case, hyphens and spaces do not
        /// matter, O is read as 0, I and L as 1.
        code: String,
    },
    /// Decoy files: synthetic files that no work reaches, planted for containment (reading
    /// or finding one suspends the principal at once).
    Decoys {
        #[command(subcommand)]
        command: DecoysCommand,
    },
    /// Master key operations.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The access policies: explain a decision, print the table of what each role sees.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// `rempart serve` with the access policy replaced by the agency rule alone (no policy
    /// evaluation), for `rempart bench` only (internal).
    #[command(hide = true)]
    BenchNoPolicy {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// Key file.
        #[arg(long)]
        key_file: PathBuf,
        /// Address to listen on.
        #[arg(long)]
        listen: String,
    },
}

/// Parsed once per run: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Explains what the policies decide for a principal acting on a file: per category, allowed
    /// or refused and by which policy. Prints no personal data.
    Check {
        #[command(flatten)]
        store: StoreArgs,
        /// Principal name, e.g. c.durand.
        #[arg(long)]
        principal: String,
        /// Its role: counsellor, partner, operator, dpo or service.
        #[arg(long)]
        role: String,
        /// Its agency or organisation code.
        #[arg(long)]
        agency: String,
        /// read, create, update, erase, assign, enrol or read_accesses.
        #[arg(long, default_value = "read")]
        action: String,
        /// The file's id.
        #[arg(long)]
        person: String,
        /// Declared purpose.
        #[arg(long, default_value = "accompaniment")]
        purpose: String,
        /// As if a break-glass justification were given.
        #[arg(long)]
        break_glass: bool,
    },
    /// Prints the Markdown table of what each role sees for each purpose, computed from the
    /// policies (docs/policies.md holds the default policies' table).
    Table {
        /// Policy file (the default policies when absent).
        #[arg(long, env = "REMPART_POLICIES")]
        policies: Option<PathBuf>,
    },
    /// Checks a policy file against the schema; prints the number of policies, or the line and
    /// reason of the first problem.
    Validate {
        /// The policy file.
        file: PathBuf,
    },
    /// Prints the default policy file, to start your own from.
    Default,
    /// Prints the schema policies are written against.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints it once; only its hash is stored.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Principal name, e.g. c.durand.
        #[arg(long)]
        principal: String,
        /// counsellor, partner, operator, dpo or service.
        #[arg(long)]
        role: String,
        /// Agency code.
        #[arg(long)]
        agency: String,
        /// Lifetime: a number followed by d, h, m or s.
        #[arg(long, default_value = "90d")]
        expires: String,
        /// Longest lifetime allowed at this installation; a longer --expires is refused
        /// [default: 90d].
        #[arg(long, env = "REMPART_MAX_TOKEN_LIFETIME")]
        max_lifetime: Option<String>,
        /// A scope the token acts in (repeatable): persons:read, persons:write, exports,
        /// audit, incidents, admin. None: every scope its role allows.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A client network the token may come from (repeatable), an address or a CIDR. None:
        /// any address.
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Binds the token to a key: requests need a DPoP proof (RFC 9449) signed by the key
        /// with this SHA-256 thumbprint (RFC 7638, base64url).
        #[arg(long)]
        dpop_jkt: Option<String>,
    },
    /// Rotates a token without downtime: prints a new token (same principal, role, agency and
    /// bounds) and keeps the old one working for --overlap more, then it expires (recorded).
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// The token's id (`tok_…`).
        id: String,
        /// Lifetime of the new token.
        #[arg(long, default_value = "90d")]
        expires: String,
        /// How long the old token keeps working.
        #[arg(long, default_value = "1d")]
        overlap: String,
    },
    /// Lists every token: id, principal, role, agency, creation, expiry and state (active,
    /// expired, suspended, revoked, or invalid when its row does not verify). Never a secret.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revokes a token for good (recorded).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token's id (`tok_…`, as `token list` shows it).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Lists containment's alerts, newest first: id, time, principal, role, agency, trip,
    /// people exposed, state.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Most alerts listed (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Shows one alert: its signals and the people exposed (pseudonymous ids), as JSON.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The alert's id (`alr_…`).
        id: String,
    },
    /// Restores the principal an open alert suspended, with a written justification (10 to
    /// 500 characters): its tokens that were not revoked work again (recorded). A running
    /// server counts the principal afresh only when restored through the API.
    Restore {
        #[command(flatten)]
        store: StoreArgs,
        /// The alert's id (`alr_…`).
        id: String,
        /// Why the principal may work again: what was checked.
        #[arg(long)]
        justification: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Opens an incident and prints its id (recorded: the first step of its timeline): for a
    /// compromised principal, token or client address over a time window; or for a stolen
    /// master key (--key-version) or copy of the database (--copy-as-of), whose readable people
    /// are fixed at once (open it before rotating the key).
    Open {
        #[command(flatten)]
        store: StoreArgs,
        /// A stolen master key, by version (`rempart keys status` lists them).
        #[arg(long, value_name = "N")]
        key_version: Option<u32>,
        /// A stolen copy of the database (the files; the key store lives apart), as of this
        /// time: Unix seconds or YYYY-MM-DD.
        #[arg(long, value_name = "WHEN")]
        copy_as_of: Option<String>,
        /// A leaked file (CSV) found outside: matched against the vault through the blind
        /// indexes (as `rempart leak match`), its people fixed; the file is not kept.
        #[arg(long, value_name = "FILE")]
        leaked_file: Option<PathBuf>,
        /// When the breach was discovered: Unix seconds or YYYY-MM-DD [default: now]. The
        /// 72-hour clock of art. 33 runs from it.
        #[arg(long, value_name = "WHEN")]
        discovered: Option<String>,
        /// What happened, in a few sentences without personal data (the draft quotes it).
        #[arg(long, default_value = "")]
        summary: String,
        /// A compromised principal (repeatable).
        #[arg(long = "principal", value_name = "NAME")]
        principals: Vec<String>,
        /// A compromised token, by id (repeatable).
        #[arg(long = "token", value_name = "ID")]
        tokens: Vec<String>,
        /// A client address the attacker used (repeatable).
        #[arg(long = "client", value_name = "ADDRESS")]
        clients: Vec<String>,
        /// From: Unix seconds or YYYY-MM-DD [default: the beginning of the log].
        #[arg(long)]
        since: Option<String>,
        /// To (exclusive): Unix seconds or YYYY-MM-DD [default: no end].
        #[arg(long)]
        until: Option<String>,
    },
    /// Shows an incident: what it covers and its timeline.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
    },
    /// Exactly the people whose data left within the incident, and per person the categories
    /// (JSON: {"people": [{"id", "categories"}], "per_category": {…}}; CSV: id,categories).
    Impact {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// The draft of the next notification to the authority (art. 33): every element of the
    /// CNIL's form, the 72-hour clock, initial or complementary (recorded).
    Draft {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// markdown or json.
        #[arg(long, default_value = "markdown")]
        format: String,
    },
    /// Records that the next notification was made to the authority: the first is the
    /// initial one, then complementary ones. After 72 hours, --late-reason is required.
    Filed {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// When it was made: Unix seconds or YYYY-MM-DD [default: now].
        #[arg(long, value_name = "WHEN")]
        at: Option<String>,
        /// The authority's reference for it.
        #[arg(long, default_value = "")]
        reference: String,
        /// Why it came after the 72 hours (art. 33(1)).
        #[arg(long)]
        late_reason: Option<String>,
    },
    /// Closes an incident (recorded, with the reason).
    Close {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// Why (10 to 500 characters).
        #[arg(long)]
        reason: String,
    },
    /// The notices to people (art. 34): prepare, approve (the DPO), deliver, status.
    Notices {
        #[command(subcommand)]
        command: NoticesCommand,
    },
    /// Writes Rempart's templates (notices, SMS, answers, art. 33 draft) into DIR, to edit
    /// and name in [notices] templates.
    Templates {
        /// Where to write them (created if absent; an existing file is not replaced).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NoticesCommand {
    /// Fixes the incident's people and writes one message per reachable recipient (the person;
    /// each legal representative of a minor) into the outbox, awaiting the DPO's approval.
    Prepare {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// fr or en [default: notices.language].
        #[arg(long)]
        language: Option<String>,
    },
    /// The DPO approves the batch: nothing leaves before. Takes a DPO's API token from the
    /// file given (or from standard input with `-`): the approval is the DPO's own.
    Approve {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// A file holding the DPO's token, or `-` for standard input.
        #[arg(long, value_name = "FILE")]
        dpo_token_file: PathBuf,
    },
    /// Sends the approved messages through [notices]'s relay and gateway, with a progress bar
    /// and a summary. A message interrupted by a crash is reported uncertain, never resent
    /// unless --resend-uncertain is given.
    Deliver {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
        /// Wait for the retries to come due, until every message is sent or given up.
        #[arg(long)]
        wait: bool,
        /// Send again this message, which an interrupted delivery left uncertain, once the
        /// relay's log shows it did not leave (repeatable; `notices status` lists them).
        #[arg(long = "resend-uncertain", value_name = "NTC_ID")]
        resend_uncertain: Vec<String>,
    },
    /// Where each message stands.
    Status {
        #[command(flatten)]
        store: StoreArgs,
        /// The incident's id (`inc_…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LeakCommand {
    /// Matches a leaked CSV file (a header line; comma or semicolon separated) against the
    /// vault through the blind indexes: the rows that are people of the vault and the
    /// categories they hold, the rows that are nobody, and the exports the markers in it name.
    /// Nothing of the file is stored; the act is recorded with counts alone.
    Match {
        #[command(flatten)]
        store: StoreArgs,
        /// The leaked file.
        file: PathBuf,
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DecoysCommand {
    /// Plants N synthetic decoy files in each agency (every agency with files, or those
    /// given): no caseload, no enrolment, no search key of a real file of the agency. They sit
    /// in the agency's listings and answer plausible searches, look like real files through the
    /// API, and are left out of counts. Recorded, without naming them.
    Plant {
        #[command(flatten)]
        store: StoreArgs,
        /// Decoys to plant in each agency (1 to 1,000).
        #[arg(long, value_name = "N")]
        per_agency: usize,
        /// Plant in this agency only (repeatable) [default: every agency with files].
        #[arg(long = "agency", value_name = "CODE")]
        agencies: Vec<String>,
    },
    /// Lists the agencies with files and the decoys each holds.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCommand {
    /// Makes an installation's first operators, active at once: only while it has no
    /// principal at all. From then on, every principal is asked for and approved by two.
    Bootstrap {
        #[command(flatten)]
        store: StoreArgs,
        /// Their agency.
        #[arg(long)]
        agency: String,
        /// Their names (two, so that one can approve what the other asks).
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Lists principals: name, agency, role, state (active, probation, suspended, disabled,
    /// invalid), created by, approved by, approved at.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Asks, as the console, to create a principal, give it another role, or move it to
    /// another agency; a second operator approves it (through the API, or another console
    /// operator never: the console is one operator). Recorded, with an alert.
    Request {
        #[command(flatten)]
        store: StoreArgs,
        /// create, role or move.
        kind: String,
        /// The principal's name (e.g. c.durand, or the e-mail the identity provider gives).
        name: String,
        /// Its role once approved.
        #[arg(long)]
        role: String,
        /// Its agency once approved.
        #[arg(long)]
        agency: String,
    },
    /// Lists requests, newest first: id, kind, principal, role, agency, asked by, state.
    Requests {
        #[command(flatten)]
        store: StoreArgs,
        /// Only those awaiting a decision.
        #[arg(long)]
        pending: bool,
    },
    /// Approves, as the console, a request an operator made through the API (recorded, with an
    /// alert).
    Approve {
        #[command(flatten)]
        store: StoreArgs,
        /// The request's id (`req_…`).
        id: String,
    },
    /// Refuses a request (recorded, with an alert).
    Refuse {
        #[command(flatten)]
        store: StoreArgs,
        /// The request's id (`req_…`).
        id: String,
    },
    /// Disables a principal at once: it authenticates no more, whatever its credential
    /// (recorded). Enabling it again is a `create` request.
    Disable {
        #[command(flatten)]
        store: StoreArgs,
        name: String,
    },
    /// Suspends a principal: every one of its tokens is refused (403) at once, and no token is
    /// created for it until it is restored (recorded).
    Suspend {
        #[command(flatten)]
        store: StoreArgs,
        /// Principal name.
        name: String,
    },
    /// Restores a suspended principal; its tokens that were not revoked work again (recorded
    /// with the justification).
    Restore {
        #[command(flatten)]
        store: StoreArgs,
        /// Principal name.
        name: String,
        /// Why, in 10 to 500 characters (kept in the audit log).
        #[arg(long)]
        justification: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Installs a new master key version and re-wraps every data key under it without
    /// decrypting any file; resumes an interrupted rotation.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// Rows per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// After re-wrapping, remove the older master key versions from the key file.
        #[arg(long)]
        retire_old: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes the whole log and checks it against every signed checkpoint of the database
    /// and of the witness; non-zero exit naming the first bad entry, or when the log has signed
    /// checkpoints and the witness file is missing or empty (unless --no-witness).
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Verify with this Ed25519 public key (hex) instead of the key file's.
        #[arg(long)]
        public_key: Option<String>,
        /// Also check the log against this signed checkpoint, kept outside the installation
        /// (JSON, as printed by `audit checkpoint` or served by `GET /v1/audit/checkpoint`): the
        /// log must hold its entries and give its root.
        #[arg(long, value_name = "FILE")]
        from_checkpoint: Option<PathBuf>,
        /// Verify without the witness file: only against the database's own checkpoints (and
        /// --from-checkpoint). Without this flag, a log with signed checkpoints and no witness
        /// (missing or empty) fails verification.
        #[arg(long)]
        no_witness: bool,
    },
    /// Empties the per-person index of the log (`audit-index.db`, which answers the access
    /// history) and builds it again from the log, after `audit verify` found it out of step.
    Reindex {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Signs a checkpoint of the log now, records it and appends it to the witness.
    Checkpoint {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Prints the public key (hex) that verifies the log's checkpoints.
    PublicKey {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Prints a proof (JSON): `--seq N [--size S]` that entry N is in the signed checkpoint of
    /// size S (the latest by default); `--first A --second B` that checkpoint A is a prefix of B.
    Prove {
        #[command(flatten)]
        store: StoreArgs,
        /// Entry number for an inclusion proof.
        #[arg(long, conflicts_with_all = ["first", "second"])]
        seq: Option<u64>,
        /// Checkpoint size for the inclusion proof.
        #[arg(long, requires = "seq")]
        size: Option<u64>,
        /// Older checkpoint size for a consistency proof.
        #[arg(long, requires = "second")]
        first: Option<u64>,
        /// Newer checkpoint size for a consistency proof.
        #[arg(long, requires = "first")]
        second: Option<u64>,
    },
    /// Checks a proof file offline with nothing but the public key (no data directory needed).
    CheckProof {
        /// The proof, as printed by `audit prove` or served under /v1/audit/proof/….
        file: PathBuf,
        /// The log's Ed25519 public key, hex (from `audit public-key`).
        #[arg(long)]
        public_key: String,
    },
    /// Writes the entries since a time as JSON lines (seq, leaf, entry) for a SIEM or an archive.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Unix seconds or YYYY-MM-DD; everything when absent.
        #[arg(long)]
        since: Option<String>,
        /// Output format: jsonl, or parquet (one column per field, plus the canonical entry and
        /// its leaf hash).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Output file (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
