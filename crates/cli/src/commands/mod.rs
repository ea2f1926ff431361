//! What each command does: paths and keys resolved here, the work done by the library crates.
//! [`run`] dispatches; each area of commands has its module.

mod alerts;
mod audit;
mod backend;
mod decoys;
mod drill;
mod files;
mod incidents;
mod install;
mod keys;
mod leaks;
mod policy;
mod principals;
mod verify;

pub(crate) use alerts::*;
pub(crate) use audit::*;
pub(crate) use backend::*;
pub(crate) use decoys::*;
pub(crate) use drill::*;
pub(crate) use files::*;
pub(crate) use incidents::*;
pub(crate) use install::*;
pub(crate) use keys::*;
pub(crate) use leaks::*;
pub(crate) use policy::*;
pub(crate) use principals::*;
pub(crate) use verify::*;

use crate::cli::{
    AlertsCommand, AuditCommand, Cli, Command, DecoysCommand, IncidentCommand, KeysCommand,
    LeakCommand, PolicyCommand, PrincipalCommand, StoreArgs, TokenCommand,
};
use crate::progress::bar;
use crate::settings::{Layer, LogFormat, Settings, TokensLayer, VaultLayer};
use anyhow::{anyhow, bail, Context, Result};
use rempart_crypto::{Keyring, Passphrase};
use rempart_domain::{Agency, FranceTravailPattern, Purpose, Role};
use rempart_policy::{Act, Policies};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore, VAULT_FILE};
use rempart_vault::{Principal, SystemClock, Vault, VaultError, Witness, Witnessed};
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(cli: Cli) -> Result<()> {
    let config = cli.config;
    // The settings of the configuration file, overridden by those of the flags (and their
    // environment variables) in `layer`.
    let settings =
        |layer: Layer| -> Result<Settings> { Ok(Settings::load(config.as_deref(), layer)?) };
    let of = |store: &StoreArgs| settings(store.layer());
    match cli.command {
        Command::Init { store, passphrase } => init(&of(&store)?, passphrase),
        Command::Serve {
            store,
            demo,
            demo_files,
            adopt_settings,
            http,
        } => {
            let s = settings(store.layer().over(http.layer()))?;
            init_logging("info", s.log.format);
            if s.serve.checkpoint_every == 0 {
                bail!("--checkpoint-every (serve.checkpoint_every) must be at least 1 second");
            }
            if demo {
                crate::demo::serve_demo(&s, demo_files)
            } else {
                agree_on_counting(&s, adopt_settings)?;
                let app = crate::Application::build(&s)?;
                eprintln!(
                    "rempart: listening on {}://{}",
                    app.scheme(),
                    app.local_addr()?
                );
                app.run()
            }
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    store,
                    principal,
                    role,
                    agency,
                    expires,
                    max_lifetime,
                    scopes,
                    allow,
                    dpop_jkt,
                },
        } => {
            let s = settings(store.layer().over(Layer {
                tokens: TokensLayer { max_lifetime },
                ..Layer::default()
            }))?;
            let max_lifetime = &s.tokens.max_lifetime;
            let max = parse_duration(max_lifetime).context("--max-lifetime")?;
            if parse_duration(&expires)? > max {
                bail!("--expires {expires} is longer than this installation allows (--max-lifetime / REMPART_MAX_TOKEN_LIFETIME / tokens.max_lifetime: {max_lifetime})");
            }
            let vault = open_vault(&s)?;
            let bounds = rempart_vault::TokenBounds::new(&scopes, &allow, dpop_jkt.as_deref())?;
            let token = create_bounded_token(
                &vault,
                &principal,
                &role,
                &agency,
                &expires,
                &bounds,
                s.oidc.is_some(),
            )?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            println!("{token}");
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Rotate {
                    store,
                    id,
                    expires,
                    overlap,
                },
        } => {
            let s = of(&store)?;
            let max = parse_duration(&s.tokens.max_lifetime).context("tokens.max_lifetime")?;
            let ttl = parse_duration(&expires)?;
            if ttl > max {
                bail!("--expires {expires} is longer than this installation allows (tokens.max_lifetime: {})", s.tokens.max_lifetime);
            }
            let vault = open_vault(&s)?;
            let (token, new) = vault
                .rotate_token(&local_admin()?, &id, ttl, parse_duration(&overlap).context("--overlap")?)
                .map_err(|e| match e {
                    VaultError::NotFound => anyhow!("no token {id:?}; `rempart token list` shows them"),
                    e => e.into(),
                })?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            eprintln!(
                "rempart: token {} replaces {id}, which keeps working for {overlap}; the new one is shown once",
                new.id
            );
            println!("{}", token.reveal_once());
            Ok(())
        }
        Command::Token {
            command: TokenCommand::List { store },
        } => {
            let vault = open_vault(&of(&store)?)?;
            let tokens = vault.list_tokens()?;
            println!("id\tprincipal\trole\tagency\tcreated\texpires\tstate");
            for t in tokens {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.principal,
                    t.role,
                    t.agency,
                    rfc3339(t.created_at),
                    rfc3339(t.expires_at),
                    t.state.as_str()
                );
            }
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { store, id },
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let by = local_admin()?;
            match vault.revoke_token(&by, &id) {
                Ok(true) => eprintln!("rempart: token {id} revoked"),
                Ok(false) => eprintln!("rempart: token {id} was already revoked"),
                Err(rempart_vault::VaultError::NotFound) => bail!("no token {id:?}; `rempart token list` shows them"),
                Err(e) => return Err(e.into()),
            }
            vault.checkpoint(&witness(&s)?)?;
            Ok(())
        }
        Command::Principal {
            command: PrincipalCommand::Suspend { store, name },
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let n = vault.suspend_principal(&local_admin()?, &name)?;
            vault.checkpoint(&witness(&s)?)?;
            eprintln!("rempart: principal {name} suspended ({n} tokens refused from now on)");
            Ok(())
        }
        Command::Principal {
            command:
                PrincipalCommand::Restore {
                    store,
                    name,
                    justification,
                },
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let n = vault.restore_principal(&local_admin()?, &name, &justification)?;
            vault.checkpoint(&witness(&s)?)?;
            eprintln!("rempart: principal {name} restored ({n} tokens work again)");
            Ok(())
        }
        Command::Principal { command } => principals(command, &of).map(|_| ()),
        Command::Import {
            store,
            agency,
            file,
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let n = import(&vault, agency.as_deref(), &file)?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            eprintln!("rempart: imported {n} files from {}", file.display());
            Ok(())
        }
        Command::Synth {
            count,
            agencies,
            out,
            seed,
        } => {
            if count == 0 || agencies == 0 {
                bail!("--count and --agencies must be at least 1");
            }
            synth(count, agencies, seed, &out)?;
            eprintln!(
                "rempart: wrote {count} synthetic files for {agencies} agencies to {}",
                out.display()
            );
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    store,
                    batch,
                    retire_old,
                },
        } => rotate(&of(&store)?, batch, retire_old),
        Command::Audit { command } => audit(command, &of),
        Command::Bench {
            files,
            agencies,
            clients,
            seconds,
            audit_entries,
            notices,
            rounds,
            append_to,
            postgres,
        } => bench(
            rempart_bench::BenchOptions {
                exe: std::env::current_exe().context("locating the rempart executable")?,
                files,
                agencies,
                clients,
                seconds,
                command_line: format!(
                    "rempart bench --files {files} --agencies {agencies} --clients {clients} --seconds {seconds} --rounds {rounds} --audit-entries {audit_entries} --notices {notices}{}",
                    if postgres.is_some() { " --postgres URL" } else { "" }
                ),
                audit_entries,
                rounds,
                notices,
                postgres: postgres.map(|u| secrecy::ExposeSecret::expose_secret(&u).to_string()),
            },
            append_to.as_deref(),
        ),
        Command::BenchBaseline {
            db,
            postgres,
            listen,
        } => match (db, postgres) {
            (_, Some(url)) => rempart_bench::serve_baseline_postgres(&url, &listen),
            (Some(db), None) => rempart_bench::serve_baseline(db, &listen),
            (None, None) => bail!("bench-baseline needs --db or --postgres"),
        },
        Command::BenchNoAudit {
            data,
            key_file,
            listen,
        } => {
            check_key_outside_data(&data, &key_file)?;
            rempart_bench::serve_without_read_audit(&data, &key_file, &listen)
        }
        Command::BenchNoPolicy {
            data,
            key_file,
            listen,
        } => {
            check_key_outside_data(&data, &key_file)?;
            rempart_bench::serve_without_policies(&data, &key_file, &listen)
        }
        Command::Policy { command } => policy(command, &settings),
        Command::Decoys { command } => decoys(command, &of),
        Command::Verify { store, code } => verify_code(&of(&store)?, &code),
        Command::Alerts { command } => alerts(command, &of),
        Command::Incident { command } => incident(command, &of),
        Command::Leak { command } => leak(command, &of),
        Command::Drill {
            agencies,
            files_per_agency,
            days,
            seed,
            append_to,
        } => drill(agencies, files_per_agency, days, seed, append_to.as_deref()),
    }
}

/// A time given as Unix seconds or a date (`YYYY-MM-DD`, midnight UTC); `flag` names it in
/// the error.
pub(crate) fn unix_or_date(s: &str, flag: &str) -> Result<i64> {
    match s.parse::<i64>() {
        Ok(t) => Ok(t),
        Err(_) => rempart_domain::parse_date(s)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(|| anyhow!("{flag} must be Unix seconds or YYYY-MM-DD")),
    }
}

/// Appends `text` and a new line to the file at `path`, created if need be.
pub(crate) fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))
}

fn bench(opts: rempart_bench::BenchOptions, append_to: Option<&Path>) -> Result<()> {
    if opts.agencies == 0
        || opts.clients == 0
        || opts.rounds == 0
        || opts.seconds <= 0.0
        || !opts.seconds.is_finite()
    {
        bail!("--agencies, --clients, --rounds and --seconds must be positive");
    }
    let report = rempart_bench::run(&opts)?;
    println!("{report}");
    if let Some(path) = append_to {
        append(path, &report)?;
    }
    Ok(())
}

pub fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The local administrator running a command (principal `cli`, agency `LOCAL`).
fn local_admin() -> Result<Principal> {
    Ok(Principal::local(Agency::parse("LOCAL")?))
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

fn parse_duration(s: &str) -> Result<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("--expires must be a number followed by d, h, m or s (e.g. 90d)"))?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" | "" => Some(n),
        _ => None,
    }
    .ok_or_else(|| anyhow!("--expires must be a number followed by d, h, m or s (e.g. 90d)"))?;
    if secs <= 0 || secs > 400 * 86_400 {
        bail!("--expires must be between 1s and 400d");
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d").unwrap(), 90 * 86_400);
        assert_eq!(parse_duration("2h").unwrap(), 7_200);
        assert_eq!(parse_duration("5").unwrap(), 5);
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("9x").is_err());
        assert!(parse_duration("999999999999999999d").is_err());
    }
}
