//! An installation: its data directory, key file and witness resolved from the settings,
//! created (`init`) and opened; the server's limits and TLS read from them.

use super::*;

pub(crate) fn data_dir(s: &Settings) -> Result<PathBuf> {
    s.store.data.clone().ok_or_else(|| {
        anyhow!("give --data DIR, set REMPART_DATA, or set `data` in the [store] table of the configuration file")
    })
}

pub(crate) fn key_path(s: &Settings, data: &Path) -> Result<PathBuf> {
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

pub(crate) fn witness_file(s: &Settings) -> Result<PathBuf> {
    if let Some(w) = &s.witness.file {
        return Ok(w.clone());
    }
    if s.store.database_url.is_some() {
        bail!("with --database, give the audit witness file with --witness (witness.file), on a disk of this node that the database's accounts cannot write");
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

pub(crate) fn passphrase() -> Result<Option<Passphrase>> {
    match std::env::var("REMPART_PASSPHRASE") {
        Ok(s) if !s.is_empty() => Ok(Some(Passphrase::new(s)?)),
        _ => Ok(None),
    }
}

/// The absolute form of a path whose last component may not exist yet.
pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
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
pub(crate) fn refuse_key_inside_data(data: &Path, key_file: &Path) -> Result<()> {
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
pub(crate) fn check_key_outside_data(data: &Path, key_file: &Path) -> Result<()> {
    match (absolute(data), absolute(key_file)) {
        (Ok(data), Ok(key_file)) => refuse_key_inside_data(&data, &key_file),
        _ => Ok(()),
    }
}

/// Creates the data directory and the key file; refuses a key file inside the data directory.
pub fn init(s: &Settings, with_passphrase: bool) -> Result<()> {
    let Backend::Sqlite(data) = backend(s)? else {
        return init_postgres(s, with_passphrase);
    };
    let data = absolute(&data)?;
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
    let pass = init_passphrase(with_passphrase)?;
    create_private_dir(&data)?;
    Keyring::generate().create_file(&key_file, pass.as_ref())?;
    rempart_store_sqlite::SqliteStore::open(&data)?;
    rempart_store_sqlite::SqliteKeyStore::open(&data)?;
    eprintln!("rempart: data directory {}", data.display());
    eprintln!(
        "rempart: key file {} (keep it out of backups of the data directory)",
        key_file.display()
    );
    Ok(())
}

fn init_passphrase(with_passphrase: bool) -> Result<Option<Passphrase>> {
    if !with_passphrase {
        return Ok(None);
    }
    Ok(Some(passphrase()?.ok_or_else(|| {
        anyhow!("--passphrase needs the passphrase in REMPART_PASSPHRASE")
    })?))
}

/// `rempart init --database URL --keys-database URL --key-file FILE`: creates (or upgrades) the
/// schemas of both databases, and creates the key file unless it exists. Run again after an
/// upgrade of Rempart, with a role that may change the schema; the nodes' own role needs none.
fn init_postgres(s: &Settings, with_passphrase: bool) -> Result<()> {
    let Backend::Postgres { files, keys } = backend(s)? else {
        bail!("init_postgres without --database");
    };
    let key_file =
        absolute(&s.store.key_file.clone().ok_or_else(|| {
            anyhow!("with --database, give the master key file with --key-file")
        })?)?;
    rempart_store_postgres::PgStore::init(files.expose_secret())
        .context("preparing the files database")?;
    rempart_store_postgres::PgKeyStore::init(keys.expose_secret())
        .context("preparing the keys database")?;
    eprintln!("rempart: the files and keys databases hold this version's schema");
    if key_file.exists() {
        // Loaded, to fail now rather than at the first start if it is not a key file.
        Keyring::load(&key_file, passphrase()?.as_ref())?;
        eprintln!("rempart: key file {} kept", key_file.display());
    } else {
        let pass = init_passphrase(with_passphrase)?;
        Keyring::generate().create_file(&key_file, pass.as_ref())?;
        eprintln!(
            "rempart: key file {} (keep it out of the databases' backups; every node needs it)",
            key_file.display()
        );
    }
    Ok(())
}

pub(crate) fn create_private_dir(p: &Path) -> Result<()> {
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

pub(crate) fn pattern(s: &Settings) -> Result<FranceTravailPattern> {
    Ok(FranceTravailPattern::new(&s.vault.france_travail_pattern)?)
}

pub(crate) fn load_keyring(s: &Settings, backend: &Backend) -> Result<(Keyring, PathBuf)> {
    let key_file = backend.key_file(s)?;
    if let Backend::Sqlite(data) = backend {
        check_key_outside_data(data, &key_file)?;
    }
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

pub(crate) fn vault_with(
    backend: &Backend,
    ring: Keyring,
    pattern: FranceTravailPattern,
    policies: Policies,
) -> Result<Vault> {
    let opened = backend.open()?;
    let vault = Vault::new(
        opened.store,
        opened.keys,
        Arc::new(ring),
        Arc::new(SystemClock),
        pattern,
        Arc::new(policies),
    );
    Ok(match opened.shared {
        Some(parts) => vault.with_shared_counts(parts),
        None => vault,
    })
}

pub fn open_vault(s: &Settings) -> Result<Vault> {
    let backend = backend(s)?;
    backend.check_exists()?;
    let policies = load_policies(s.vault.policies.as_deref())?;
    let (ring, _) = load_keyring(s, &backend)?;
    let vault = vault_with(&backend, ring, pattern(s)?, policies)?;
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
    let verify = s
        .verify
        .limit()
        .map_err(|key| anyhow!("verify.{key} must be at least 1"))?;
    let public_url = s.auth.public_url()?;
    if public_url.is_none() && tls.is_some() {
        tracing::warn!("HTTPS without auth.public_url: DPoP proofs must name the server by its address (https://IP:PORT); clients that reach it by a name need auth.public_url");
    }
    Ok(rempart_server::ServeOptions {
        verify,
        header_timeout: std::time::Duration::from_secs(f.header_timeout),
        idle_timeout: std::time::Duration::from_secs(f.idle_timeout),
        max_connections: f.max_connections,
        max_in_flight: f.max_in_flight,
        tls,
        breach: std::sync::Arc::new(crate::delivery::breach(s)?),
        public_url,
        trusted_proxies: s.auth.proxies()?,
        sign_in: match &s.oidc {
            Some(o) => o.sign_in()?,
            None => None,
        },
        ..rempart_server::ServeOptions::default()
    })
}
