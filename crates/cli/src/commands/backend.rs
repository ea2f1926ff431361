//! Where an installation keeps its data: a data directory (SQLite, the embedded default), or
//! two PostgreSQL databases, files and keys. The master key file is outside both.

use super::*;
use rempart_store::{KeyStore, SharedGuard, Store};
use rempart_store_postgres::{PgKeyStore, PgStore};
use secrecy::SecretString;

/// The store of an installation, from the settings.
pub(crate) enum Backend {
    /// `--data DIR`.
    Sqlite(PathBuf),
    /// `--database URL --keys-database URL`.
    Postgres {
        /// The files database.
        files: SecretString,
        /// The keys database.
        keys: SecretString,
    },
}

/// The backend the settings name: `--database` with `--keys-database` (PostgreSQL), or
/// `--data`; never both.
pub(crate) fn backend(s: &Settings) -> Result<Backend> {
    match (&s.store.database_url, &s.store.keys_database_url, &s.store.data) {
        (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => bail!(
            "give either --data DIR (SQLite) or --database and --keys-database (PostgreSQL), not both"
        ),
        (Some(files), Some(keys), None) => {
            if files.expose_secret() == keys.expose_secret() {
                bail!("--keys-database must name another database than --database: a dump of the files database must hold no key");
            }
            Ok(Backend::Postgres {
                files: files.clone(),
                keys: keys.clone(),
            })
        }
        (Some(_), None, None) => bail!(
            "--database needs --keys-database (keys_database_url): the wrapped data keys live in a database of their own"
        ),
        (None, Some(_), None) => bail!("--keys-database goes with --database (database_url)"),
        (None, None, _) => Ok(Backend::Sqlite(data_dir(s)?)),
    }
}

impl Backend {
    /// The master key file: `--key-file`, or DIR.key beside a data directory.
    pub(crate) fn key_file(&self, s: &Settings) -> Result<PathBuf> {
        match self {
            Backend::Sqlite(data) => key_path(s, data),
            Backend::Postgres { .. } => s.store.key_file.clone().ok_or_else(|| {
                anyhow!("with --database, give the master key file with --key-file (key_file)")
            }),
        }
    }

    /// Fails, saying how to make one, unless the installation exists.
    pub(crate) fn check_exists(&self) -> Result<()> {
        match self {
            Backend::Sqlite(data) => {
                if !data.join(VAULT_FILE).exists() {
                    bail!(
                        "{} is not a Rempart data directory; run `rempart init --data {}` first",
                        data.display(),
                        data.display()
                    );
                }
                Ok(())
            }
            // Opening checks the schemas, and says to run `rempart init` when they are not there.
            Backend::Postgres { .. } => Ok(()),
        }
    }

    /// Opens the store and the key store (their schemas must be this binary's), and where the
    /// nodes can share containment's counts: the files database on PostgreSQL; nowhere on
    /// SQLite (one node).
    pub(crate) fn open(&self) -> Result<Opened> {
        Ok(match self {
            Backend::Sqlite(data) => Opened {
                store: Arc::new(SqliteStore::open(data)?),
                keys: Arc::new(SqliteKeyStore::open(data)?),
                shared: None,
            },
            Backend::Postgres { files, keys } => {
                let store = Arc::new(
                    PgStore::open(files.expose_secret()).context("opening the files database")?,
                );
                Opened {
                    store: store.clone(),
                    keys: Arc::new(
                        PgKeyStore::open(keys.expose_secret())
                            .context("opening the keys database")?,
                    ),
                    shared: Some(store),
                }
            }
        })
    }
}

/// An installation's stores, open.
pub(crate) struct Opened {
    /// Everything but the keys.
    pub(crate) store: Arc<dyn Store>,
    /// The wrapped data keys.
    pub(crate) keys: Arc<dyn KeyStore>,
    /// Where the nodes share containment's counts, when the store can hold them.
    pub(crate) shared: Option<Arc<dyn SharedGuard>>,
}

/// Where the nodes share containment's counts when `[store] redis_url` names a Redis: that
/// Redis (reached now; its URL is never printed).
pub(crate) fn redis_counts(s: &Settings) -> Result<Option<Arc<rempart_guard_redis::RedisGuard>>> {
    let Some(url) = &s.store.redis_url else {
        return Ok(None);
    };
    let redis = rempart_guard_redis::RedisGuard::connect(url.expose_secret(), &s.store.redis_prefix)
        .context("reaching the Redis of --redis (store.redis_url), where the nodes share containment's counts")?;
    Ok(Some(Arc::new(redis)))
}

/// What a node's containment depends on, which every node of an installation must share: where
/// the counts are kept (without credentials), `[guard]` as parsed (so that `7d` and `168h` are
/// one probation) and the lockouts of `[auth]`. Hashed.
fn counting_fingerprint(s: &Settings, place: &str) -> Result<String> {
    use sha2::Digest;
    let guard = match s.guard.config()? {
        None => "off".to_string(),
        Some(mut config) => {
            // In one order, whatever the map's.
            let mut limits: Vec<_> = config.limits.drain().collect();
            limits.sort_by(|a, b| a.0.cmp(&b.0));
            format!(
                "{limits:?} {config:?} four_eyes_above={}",
                s.guard.four_eyes_above
            )
        }
    };
    let settings = format!("v1\n{guard}\n{:?}\n{place}", s.auth.policy()?);
    Ok(hex::encode(sha2::Sha256::digest(settings.as_bytes())))
}

/// On PostgreSQL, before a node serves: that it counts where, and with the budgets and lockouts,
/// the installation's nodes count (recorded by the first node that started; `adopt` replaces
/// it with this node's), so that a node configured apart does not count apart. Nothing to
/// check on the embedded store (one node).
pub(crate) fn agree_on_counting(s: &Settings, adopt: bool) -> Result<()> {
    let Backend::Postgres { files, .. } = backend(s)? else {
        return Ok(());
    };
    let place = match redis_counts(s)? {
        Some(redis) => redis.place().to_string(),
        None => "the files database".to_string(),
    };
    let mine = counting_fingerprint(s, &place)?;
    let recorded = PgStore::agree(files.expose_secret(), "containment", &mine, adopt)
        .context("reading the settings the installation's nodes count with")?;
    if recorded != mine && !adopt {
        bail!(
            "this node would count apart from the installation's other nodes: its containment \
             settings (where the counts are kept: {place}; [guard]; the lockouts of [auth]) \
             differ from those the nodes were started with. Give every node the same [guard], \
             [auth] lockouts, store.redis_url and store.redis_prefix; to make this node's the \
             installation's, start it with --adopt-settings, then restart every other node \
             with them"
        );
    }
    if recorded != mine {
        eprintln!("rempart: this node's containment settings are now the installation's: restart every other node with them");
    }
    Ok(())
}
