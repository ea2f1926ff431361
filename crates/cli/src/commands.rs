//! What each command does: paths and keys resolved here, the work done by the library crates.

use crate::cli::{
    AuditCommand, Cli, Command, KeysCommand, PolicyCommand, PrincipalCommand, StoreArgs,
    TokenCommand,
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
            let token = create_token(&vault, &principal, &role, &agency, &expires)?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            println!("{token}");
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
            rounds,
            append_to,
        } => bench(
            rempart_bench::BenchOptions {
                exe: std::env::current_exe().context("locating the rempart executable")?,
                files,
                agencies,
                clients,
                seconds,
                command_line: format!(
                    "rempart bench --files {files} --agencies {agencies} --clients {clients} --seconds {seconds} --rounds {rounds} --audit-entries {audit_entries}"
                ),
                audit_entries,
                rounds,
            },
            append_to.as_deref(),
        ),
        Command::BenchBaseline { db, listen } => rempart_bench::serve_baseline(db, &listen),
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
    }
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
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(f, "{report}")?;
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

fn data_dir(s: &Settings) -> Result<PathBuf> {
    if s.store.database_url.is_some() {
        bail!(
            "PostgreSQL (--database) is not available in this version yet; use --data DIR (SQLite)"
        );
    }
    s.store.data.clone().ok_or_else(|| {
        anyhow!("give --data DIR, set REMPART_DATA, or set `data` in the [store] table of the configuration file")
    })
}

fn key_path(s: &Settings, data: &Path) -> Result<PathBuf> {
    if let Some(k) = &s.store.key_file {
        return Ok(k.clone());
    }
    let name = data.file_name().ok_or_else(|| {
        anyhow!(
            "cannot derive a key file name from {}; give --key-file",
            data.display()
        )
    })?;
    let mut file = name.to_os_string();
    file.push(".key");
    Ok(data.with_file_name(file))
}

/// The witness: the file (`--witness`, or DIR.witness beside the data directory), syslog
/// (`--witness-syslog`, `/dev/log` by default) and the optional `--witness-url`.
pub fn witness(s: &Settings) -> Result<Witness> {
    let mut w = Witness::new(witness_file(s)?);
    match s.witness.syslog.as_deref() {
        Some(p) if p == Path::new("off") => {}
        Some(p) if p.as_os_str().is_empty() => {
            bail!("--witness-syslog (witness.syslog) needs a socket path or `off`")
        }
        Some(socket) => w = w.with_syslog(socket, true),
        None => w = w.with_syslog(rempart_vault::DEFAULT_SYSLOG, false),
    }
    if let Some(url) = &s.witness.url {
        w = w.with_http(url.expose_secret())?;
    }
    Ok(w)
}

/// [`witness`], for a command that signs checkpoints: warns (log and standard error) when the
/// witness file is missing or empty while the log already has signed checkpoints, since the
/// next checkpoint starts a new file that lacks them.
pub fn witness_of(s: &Settings, vault: &Vault) -> Result<Witness> {
    let w = witness(s)?;
    if w.is_missing_or_empty()? {
        if let Some(latest) = vault.latest_checkpoint()? {
            tracing::warn!(
                witness = %w.path().display(),
                latest_checkpoint = latest.size,
                "the audit witness file is missing or empty while the log has signed checkpoints"
            );
            eprintln!(
                "rempart: warning: the witness file {} is missing or empty, but the audit log has signed checkpoints (the latest of size {}): it was deleted or emptied, or --witness names another file. Restore it from a copy: the next checkpoint starts a new witness file without the earlier checkpoints, and `rempart audit verify` can then check the log only against the checkpoints that follow",
                w.path().display(),
                latest.size
            );
        }
    }
    Ok(w)
}

fn witness_file(s: &Settings) -> Result<PathBuf> {
    if let Some(w) = &s.witness.file {
        return Ok(w.clone());
    }
    let data = data_dir(s)?;
    let name = data.file_name().ok_or_else(|| {
        anyhow!(
            "cannot derive a witness file name from {}; give --witness",
            data.display()
        )
    })?;
    let mut file = name.to_os_string();
    file.push(".witness");
    Ok(data.with_file_name(file))
}

fn audit(command: AuditCommand, of: &dyn Fn(&StoreArgs) -> Result<Settings>) -> Result<()> {
    match command {
        AuditCommand::Checkpoint { store } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let w = witness_of(&s, &vault)?;
            let cp = vault.checkpoint(&w)?;
            println!("{}", serde_json::to_string(&cp)?);
            eprintln!(
                "rempart: checkpoint of {} entries recorded and appended to {}",
                cp.size,
                w.path().display()
            );
            Ok(())
        }
        AuditCommand::Prove {
            store,
            seq,
            size,
            first,
            second,
        } => {
            let vault = open_vault(&of(&store)?)?;
            let me = Principal::local(Agency::parse("LOCAL")?);
            let json = match (seq, first, second) {
                (Some(seq), _, _) => {
                    serde_json::to_string_pretty(&vault.inclusion_proof(&me, seq, size)?)?
                }
                (None, Some(a), Some(b)) => {
                    serde_json::to_string_pretty(&vault.consistency_proof(&me, a, b)?)?
                }
                _ => bail!("give --seq N [--size S], or --first A --second B"),
            };
            println!("{json}");
            Ok(())
        }
        AuditCommand::CheckProof { file, public_key } => {
            let key: [u8; 32] = hex::decode(public_key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow!("--public-key must be 64 hexadecimal characters"))?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let verdict = if value.get("seq").is_some() {
                let p: rempart_audit::InclusionProof =
                    serde_json::from_value(value).context("not an inclusion proof")?;
                p.verify(&key).map(|()| {
                    format!(
                        "entry {} is in the signed log of {} entries{}",
                        p.seq,
                        p.checkpoint.size,
                        if p.redacted {
                            " (its leaf only: the entry is redacted for this caller, and its readable fields are not checked)"
                        } else {
                            ""
                        }
                    )
                })
            } else {
                let p: rempart_audit::ConsistencyProof =
                    serde_json::from_value(value).context("not a consistency proof")?;
                p.verify(&key).map(|()| {
                    format!(
                        "the log of {} entries is a prefix of the log of {}",
                        p.first.size, p.second.size
                    )
                })
            };
            match verdict {
                Ok(msg) => {
                    eprintln!("rempart: proof valid: {msg}");
                    Ok(())
                }
                Err(why) => bail!("proof invalid: {why}"),
            }
        }
        AuditCommand::Export {
            store,
            since,
            format,
            out,
        } => {
            let format: rempart_vault::ExportFormat =
                format.parse().map_err(|e: String| anyhow!(e))?;
            let since = match since.as_deref() {
                None => i64::MIN,
                Some(s) => match s.parse::<i64>() {
                    Ok(t) => t,
                    Err(_) => rempart_domain::parse_date(s)
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|t| t.and_utc().timestamp())
                        .ok_or_else(|| anyhow!("--since must be Unix seconds or YYYY-MM-DD"))?,
                },
            };
            let vault = open_vault(&of(&store)?)?;
            let local = Principal::local(Agency::parse("LOCAL")?);
            let n = match &out {
                Some(path) => {
                    let tmp = path.with_extension("partial");
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(&tmp)
                            .with_context(|| format!("creating {}", tmp.display()))?,
                    );
                    let n = match vault.export_audit(&local, since, format, &mut f) {
                        Ok(n) => n,
                        Err(e) => {
                            drop(f);
                            let _ = std::fs::remove_file(&tmp);
                            return Err(e.into());
                        }
                    };
                    std::io::Write::flush(&mut f)?;
                    f.into_inner()
                        .map_err(|e| e.into_error())?
                        .sync_all()
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, path)?;
                    n
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    let n = vault.export_audit(&local, since, format, &mut out)?;
                    std::io::Write::flush(&mut out)?;
                    n
                }
            };
            eprintln!("rempart: exported {n} audit entries");
            Ok(())
        }
        AuditCommand::Reindex { store } => {
            let vault = open_vault(&of(&store)?)?;
            let pb = bar(vault.audit_len()?, "rebuilding the per-person index");
            let n = vault.rebuild_audit_index(&|d, _| pb.set_position(d))?;
            pb.finish_and_clear();
            eprintln!("rempart: per-person index rebuilt from the log: {n} entries indexed");
            Ok(())
        }
        AuditCommand::PublicKey { store } => {
            let vault = open_vault(&of(&store)?)?;
            println!("{}", hex::encode(vault.audit_public_key()?));
            Ok(())
        }
        AuditCommand::Verify {
            store,
            public_key,
            from_checkpoint,
            no_witness,
        } => {
            let trusted = from_checkpoint
                .as_deref()
                .map(read_checkpoint_file)
                .transpose()?;
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let key: [u8; 32] = match public_key {
                Some(h) => hex::decode(h.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| anyhow!("--public-key must be 64 hexadecimal characters"))?,
                None => vault.audit_public_key()?,
            };
            let w = witness(&s)?;
            let witnessed = if no_witness {
                Witnessed::NotChecked
            } else {
                w.read()?
            };
            let pb = bar(vault.audit_len()?, "verifying the audit log");
            let result = vault.verify_audit_from(&key, &witnessed, trusted.as_ref(), &|d, _| {
                pb.set_position(d)
            });
            pb.finish_and_clear();
            let v = match result {
                Ok(Ok(v)) => v,
                Ok(Err(t)) => bail!("audit log tampered: {t}"),
                Err(VaultError::NoWitness {
                    checkpoints,
                    latest,
                }) => bail!(
                    "audit log not verified: the witness {} {}, but the database holds {checkpoints} signed checkpoint(s), the latest of size {latest}: the witness was deleted or emptied (or --witness names another file), and without it a log cut back together with its checkpoints goes unnoticed. Restore the witness or give its path with --witness; `--no-witness` verifies against the database's checkpoints alone",
                    w.path().display(),
                    if matches!(witnessed, Witnessed::Missing) {
                        "does not exist"
                    } else {
                        "holds no checkpoint"
                    }
                ),
                Err(e) => return Err(e.into()),
            };
            let witness_note = match &witnessed {
                Witnessed::NotChecked => "witness not checked".to_string(),
                _ => format!(
                    "{} in the witness {}",
                    witnessed.checkpoints().len(),
                    w.path().display()
                ),
            };
            eprintln!(
                "rempart: audit log intact: {} entries, {} signed checkpoints ({witness_note}), {} entries after the last checkpoint",
                v.entries, v.checkpoints, v.unchecked_tail
            );
            if no_witness {
                eprintln!(
                    "rempart: the witness was NOT checked (--no-witness): the log matches the checkpoints of the database{}, but a log cut back or rolled back together with them would not be detected",
                    if trusted.is_some() {
                        " and the checkpoint file"
                    } else {
                        ""
                    }
                );
            }
            let pb = bar(v.entries, "checking the per-person index");
            let index = vault.check_audit_index(&|d, _| pb.set_position(d))?;
            pb.finish_and_clear();
            if let Some(seq) = index.first_difference {
                bail!(
                    "the per-person index (audit-index.db) disagrees with the log at entry {seq}: the access history (GET /v1/persons/{{id}}/accesses) could miss entries; the log itself is intact. Rebuild the index with `rempart audit reindex`"
                );
            }
            eprintln!(
                "rempart: per-person index matches the log through entry {} (later entries are read from the log itself)",
                index.through
            );
            Ok(())
        }
    }
}

/// A signed checkpoint kept outside the installation: one JSON object (as `audit checkpoint`
/// prints it and `GET /v1/audit/checkpoint` serves it).
fn read_checkpoint_file(path: &Path) -> Result<rempart_audit::Checkpoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(text.trim()).map_err(|e| {
        anyhow!(
            "{} is not a checkpoint (a JSON object with size, root, time and signature, as printed by `rempart audit checkpoint`): {} error at line {}, column {}",
            path.display(),
            match e.classify() {
                serde_json::error::Category::Io => "read",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "field",
                serde_json::error::Category::Eof => "truncation",
            },
            e.line(),
            e.column()
        )
    })
}

fn passphrase() -> Result<Option<Passphrase>> {
    match std::env::var("REMPART_PASSPHRASE") {
        Ok(s) if !s.is_empty() => Ok(Some(Passphrase::new(s)?)),
        _ => Ok(None),
    }
}

/// The absolute form of a path whose last component may not exist yet.
fn absolute(p: &Path) -> Result<PathBuf> {
    if p.exists() {
        return p
            .canonicalize()
            .with_context(|| format!("resolving {}", p.display()));
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = p
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", p.display()))?;
    let parent = parent
        .canonicalize()
        .with_context(|| format!("directory {} does not exist", parent.display()))?;
    Ok(parent.join(name))
}

/// Refuses a key file inside the data directory (both paths absolute, symbolic links
/// resolved): a copy of the data must never carry the key that opens it. Checked by `init`
/// and by every command that opens an installation.
fn refuse_key_inside_data(data: &Path, key_file: &Path) -> Result<()> {
    if key_file.starts_with(data) {
        bail!(
            "refusing a key file inside the data directory ({} is inside {}): a copy of the data must never carry its key; keep the key file outside it and give its path with --key-file",
            key_file.display(),
            data.display()
        );
    }
    Ok(())
}

/// [`refuse_key_inside_data`] for an existing installation. A key file that does not resolve
/// does not exist: loading it reports that.
fn check_key_outside_data(data: &Path, key_file: &Path) -> Result<()> {
    match (absolute(data), absolute(key_file)) {
        (Ok(data), Ok(key_file)) => refuse_key_inside_data(&data, &key_file),
        _ => Ok(()),
    }
}

/// Creates the data directory and the key file; refuses a key file inside the data directory.
pub fn init(s: &Settings, with_passphrase: bool) -> Result<()> {
    let data = absolute(&data_dir(s)?)?;
    let key_file = absolute(&key_path(s, &data)?)?;
    refuse_key_inside_data(&data, &key_file)?;
    if data.exists()
        && std::fs::read_dir(&data)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "data directory {} already exists and is not empty",
            data.display()
        );
    }
    if key_file.exists() {
        bail!(
            "key file {} already exists; refusing to overwrite it",
            key_file.display()
        );
    }
    let pass =
        if with_passphrase {
            Some(passphrase()?.ok_or_else(|| {
                anyhow!("--passphrase needs the passphrase in REMPART_PASSPHRASE")
            })?)
        } else {
            None
        };
    create_private_dir(&data)?;
    Keyring::generate().create_file(&key_file, pass.as_ref())?;
    SqliteStore::open(&data)?;
    SqliteKeyStore::open(&data)?;
    eprintln!("rempart: data directory {}", data.display());
    eprintln!(
        "rempart: key file {} (keep it out of backups of the data directory)",
        key_file.display()
    );
    Ok(())
}

fn create_private_dir(p: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(p)
        .with_context(|| format!("creating {}", p.display()))
}

fn pattern(s: &Settings) -> Result<FranceTravailPattern> {
    Ok(FranceTravailPattern::new(&s.vault.france_travail_pattern)?)
}

fn load_keyring(s: &Settings, data: &Path) -> Result<(Keyring, PathBuf)> {
    let key_file = key_path(s, data)?;
    check_key_outside_data(data, &key_file)?;
    let ring = Keyring::load(&key_file, passphrase()?.as_ref())?;
    Ok((ring, key_file))
}

/// The access policies of `--policies FILE`, or the default ones; refused with the file,
/// line and reason when they do not parse or do not fit the schema.
pub fn load_policies(file: Option<&Path>) -> Result<Policies> {
    let loaded = match file {
        None => Policies::default_policies(),
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading the policy file {}", f.display()))?;
            Policies::parse(&text, &f.display().to_string())
        }
    };
    loaded.context("loading the access policies")
}

fn vault_with(
    data: &Path,
    ring: Keyring,
    pattern: FranceTravailPattern,
    policies: Policies,
) -> Result<Vault> {
    let store = Arc::new(SqliteStore::open(data)?);
    let keys = Arc::new(SqliteKeyStore::open(data)?);
    Ok(Vault::new(
        store,
        keys,
        Arc::new(ring),
        Arc::new(SystemClock),
        pattern,
        Arc::new(policies),
    ))
}

fn policy(command: PolicyCommand, settings: &dyn Fn(Layer) -> Result<Settings>) -> Result<()> {
    match command {
        PolicyCommand::Check {
            store,
            principal,
            role,
            agency,
            action,
            person,
            purpose,
            break_glass,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow!("--role must be one of {}", Role::expected()))?;
            let agency = Agency::parse(&agency).map_err(|e| anyhow!("--agency: {e}"))?;
            let act = Act::parse(&action).ok_or_else(|| {
                anyhow!("--action must be one of read, create, update, erase, assign, enrol, read_accesses")
            })?;
            let purpose = Purpose::parse(&purpose)
                .ok_or_else(|| anyhow!("--purpose must be one of {}", Purpose::expected()))?;
            let vault = open_vault(&settings(store.layer())?)?;
            let mut who = Principal::described(&principal, role, agency);
            if break_glass {
                who = who.with_break_glass("(policy check)".into());
            }
            let e = vault
                .explain(&who, &person, act, purpose)
                .with_context(|| format!("explaining a decision on file {person}"))?;
            println!(
                "{} ({}, {}) · {} · file {person} (agency {}, counsellor {}, partners [{}], {}) · purpose {}{}",
                who.name(),
                who.role().as_str(),
                who.agency().as_str(),
                act.as_str(),
                e.agency,
                e.counsellor.as_deref().unwrap_or("none"),
                e.partners.join(", "),
                if e.minor { "minor" } else { "adult" },
                purpose.as_str(),
                if break_glass { " · break-glass" } else { "" },
            );
            for (target, v) in &e.decisions {
                let why = if v.policies.is_empty() {
                    "no policy permits it (refused by default)".to_string()
                } else if v.allowed {
                    format!("permitted by {}", v.policies.join(", "))
                } else {
                    format!("forbidden by {}", v.policies.join(", "))
                };
                println!(
                    "  {:<24} {:<8} {why}",
                    target,
                    if v.allowed { "ALLOW" } else { "DENY" }
                );
                for err in &v.errors {
                    println!("  {:<24} error in a policy: {err}", "");
                }
            }
            Ok(())
        }
        PolicyCommand::Table { policies } => {
            let s = settings(Layer {
                vault: VaultLayer {
                    policies,
                    france_travail_pattern: None,
                },
                ..Layer::default()
            })?;
            print!(
                "{}",
                rempart_policy::role_table(&load_policies(s.vault.policies.as_deref())?)
            );
            Ok(())
        }
        PolicyCommand::Validate { file } => {
            let p = load_policies(Some(&file))?;
            println!(
                "{}: {} policies, valid against the schema",
                file.display(),
                p.len()
            );
            Ok(())
        }
        PolicyCommand::Default => {
            print!("{}", rempart_policy::DEFAULT_POLICIES);
            Ok(())
        }
        PolicyCommand::Schema => {
            print!("{}", rempart_policy::SCHEMA);
            Ok(())
        }
    }
}

pub fn open_vault(s: &Settings) -> Result<Vault> {
    let data = data_dir(s)?;
    if !data.join(VAULT_FILE).exists() {
        bail!(
            "{} is not a Rempart data directory; run `rempart init --data {}` first",
            data.display(),
            data.display()
        );
    }
    let policies = load_policies(s.vault.policies.as_deref())?;
    let (ring, _) = load_keyring(s, &data)?;
    let vault = vault_with(&data, ring, pattern(s)?, policies)?;
    let n = vault
        .backfill_caseloads()
        .context("filling in the caseloads of files stored before them")?;
    if n > 0 {
        eprintln!("rempart: {n} files stored before caseloads were assigned to their counsellor");
    }
    let n = vault
        .bind_legacy_facts(
            std::env::var_os("REMPART_TRUST_UNTAGGED_ROWS").is_some_and(|v| v == "1"),
        )
        .context("tagging the access facts of files and tokens stored before tags")?;
    if n > 0 {
        eprintln!("rempart: the access facts of {n} files and tokens stored before this version were tagged with the key");
    }
    Ok(vault)
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

pub fn create_token(
    vault: &Vault,
    principal: &str,
    role: &str,
    agency: &str,
    expires: &str,
) -> Result<String> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow!(
            "unknown role {role:?}; expected one of {}",
            Role::expected()
        )
    })?;
    let agency = Agency::parse(agency)?;
    let p = principal.trim();
    if p.is_empty()
        || p.len() > 64
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        bail!("--principal must be 1 to 64 letters, digits, dots, dashes, underscores or @");
    }
    let ttl = parse_duration(expires)?;
    let (token, rec) =
        vault.create_token(&Principal::local(agency.clone()), p, role, &agency, ttl)?;
    eprintln!(
        "rempart: token {} for {} ({}, {}) valid {}; it is shown once and only its hash is kept",
        rec.id, rec.principal, rec.role, rec.agency, expires
    );
    Ok(token.reveal_once().to_string())
}

pub fn import(vault: &Vault, agency: Option<&str>, file: &Path) -> Result<usize> {
    let agency = agency.map(Agency::parse).transpose()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let files = match rempart_ingest::parse_csv(&bytes, agency.as_ref(), &vault.rules()) {
        Ok(f) => f,
        Err(rempart_ingest::ImportError::Lines { errors, total }) => {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            if total > errors.len() {
                eprintln!("{}: … and {} more", file.display(), total - errors.len());
            }
            bail!(
                "{total} error(s) in {}; nothing was imported",
                file.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("importing {}", file.display())),
    };
    let pb = bar(files.len() as u64, "importing");
    let n = vault.import(&files, &|d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    Ok(n)
}

pub fn synth(count: usize, agencies: usize, seed: u64, out: &Path) -> Result<()> {
    let files = rempart_synth::generate(count, agencies, seed);
    let tmp = out.with_extension("csv.partial");
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    rempart_synth::write_csv(&files, std::io::BufWriter::new(f))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    Ok(())
}

fn rotate(s: &Settings, batch: usize, retire_old: bool) -> Result<()> {
    let data = data_dir(s)?;
    if !data.join(VAULT_FILE).exists() {
        bail!("{} is not a Rempart data directory", data.display());
    }
    let pass = passphrase()?;
    let (mut ring, key_file) = load_keyring(s, &data)?;
    let pending = vault_with(
        &data,
        Keyring::load(&key_file, pass.as_ref())?,
        pattern(s)?,
        load_policies(s.vault.policies.as_deref())?,
    )?
    .pending_rewrap()?;
    if pending > 0 {
        eprintln!(
            "rempart: resuming the unfinished rotation to master key v{} ({pending} keys left)",
            ring.current_version()
        );
    } else {
        let v = ring.rotate();
        // The new version is on disk before any data key is wrapped under it.
        ring.replace_file(&key_file, pass.as_ref())?;
        eprintln!(
            "rempart: master key v{v} installed in {}",
            key_file.display()
        );
    }
    let current = ring.current_version();
    let vault = vault_with(
        &data,
        Keyring::load(&key_file, pass.as_ref())?,
        pattern(s)?,
        load_policies(s.vault.policies.as_deref())?,
    )?;
    let total = vault.pending_rewrap()?;
    let pb = bar(total, "re-wrapping data keys");
    let report = vault.rewrap_all(batch, &|d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    eprintln!(
        "rempart: {} data keys re-wrapped under master key v{current}; no file was decrypted",
        report.rewrapped
    );
    vault.checkpoint(&witness_of(s, &vault)?)?;
    if retire_old {
        ring.retire_before(current);
        ring.replace_file(&key_file, pass.as_ref())?;
        eprintln!(
            "rempart: older master key versions removed from {}",
            key_file.display()
        );
    }
    Ok(())
}

/// The connection limits, timeouts and TLS of `serve`'s settings; the certificate and key are
/// read and checked here, before anything is served.
pub fn serve_options(s: &Settings) -> Result<rempart_server::ServeOptions> {
    let f = &s.serve;
    for (flag, key, zero) in [
        ("--header-timeout", "header_timeout", f.header_timeout == 0),
        ("--idle-timeout", "idle_timeout", f.idle_timeout == 0),
        (
            "--max-connections",
            "max_connections",
            f.max_connections == 0,
        ),
        ("--max-in-flight", "max_in_flight", f.max_in_flight == 0),
    ] {
        if zero {
            bail!("{flag} must be at least 1 (serve.{key} in a configuration file)");
        }
    }
    let tls = match (&s.tls.cert, &s.tls.key) {
        (Some(cert), Some(key)) => Some(rempart_server::tls_config(cert, key)?),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key (tls.cert and tls.key) go together"),
    };
    Ok(rempart_server::ServeOptions {
        header_timeout: std::time::Duration::from_secs(f.header_timeout),
        idle_timeout: std::time::Duration::from_secs(f.idle_timeout),
        max_connections: f.max_connections,
        max_in_flight: f.max_in_flight,
        tls,
    })
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
