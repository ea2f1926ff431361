//! SQLite implementation of [`Store`] and [`KeyStore`].

use crate::group::GroupCommit;
use crate::pool::Pool;
use crate::{AuditVisitor, IndexCheck, IndexEntry};
use crate::{
    FactsChange, KeyStore, ListScope, NewPerson, PersonUpdate, PrincipalRecord, Store, StoreError,
    StoredKey, StoredPerson, TokenChange, TokenRecord,
};
use rempart_audit::merkle::{self, Hash, Subtrees, BLOCK, BLOCK_LEVEL};
use rempart_audit::{leaf_of, AuditEntry, Checkpoint};
use rempart_domain::Category;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Arc;

/// File name of the file store inside the data directory.
pub const VAULT_FILE: &str = "vault.db";
/// File name of the key store inside the data directory.
pub const KEYS_FILE: &str = "keys.db";
/// File name of the audit log inside the data directory.
pub const AUDIT_FILE: &str = "audit.db";
/// File name of the audit log's per-person index inside the data directory (derived from the
/// log, rebuilt from it when missing or out of step).
pub const AUDIT_INDEX_FILE: &str = "audit-index.db";

const VAULT_MIGRATIONS: &[&str] = &[
    // 1: files (one sealed column per category), blind indexes, tokens.
    "CREATE TABLE persons (
        id TEXT PRIMARY KEY,
        agency TEXT NOT NULL,
        dk_version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        index_entries BLOB NOT NULL,
        identity BLOB, social_security BLOB, agency_ids BLOB, contact BLOB, situation BLOB,
        education BLOB, professional BLOB, followup BLOB, legal_representatives BLOB
    );
    CREATE INDEX persons_agency ON persons (agency, id);
    CREATE TABLE blind_index (
        kind INTEGER NOT NULL,
        hash BLOB NOT NULL,
        person_id TEXT NOT NULL,
        PRIMARY KEY (kind, hash, person_id)
    ) WITHOUT ROWID;
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        principal TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        suspended INTEGER NOT NULL DEFAULT 0
    );",
    // 2: the audit log (entries in a total order, their Merkle leaves) and its per-person index.
    "CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        entry BLOB NOT NULL,
        leaf BLOB NOT NULL
    );
    CREATE TABLE audit_persons (
        person_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (person_id, seq)
    ) WITHOUT ROWID;",
    // 3: signed checkpoints of the audit log (also written to the witness outside the database).
    "CREATE TABLE audit_checkpoints (
        size INTEGER PRIMARY KEY,
        checkpoint BLOB NOT NULL
    );",
    // 4: the per-person index of the audit log is maintained in batches, behind the log.
    "CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
     INSERT INTO audit_meta (key, value) VALUES ('indexed_through', (SELECT COALESCE(MAX(seq), 0) FROM audit_log));",
    // 5: the roots of the log's aligned perfect subtrees of 2^8 leaves and more (derived from
    // the leaves, written with them), for proofs and checkpoints in O(log n).
    "CREATE TABLE audit_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;",
    // 6: caseloads (the assigned counsellor's login, as in the sealed follow-up category) and
    // partner enrolments, for access policies. Staff logins and organisation codes only: no
    // personal data of the people followed.
    "ALTER TABLE persons ADD COLUMN counsellor TEXT;
    CREATE INDEX persons_caseload ON persons (agency, counsellor, id);
    CREATE TABLE enrolments (
        person_id TEXT NOT NULL,
        partner TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (person_id, partner)
    ) WITHOUT ROWID;
    CREATE INDEX enrolments_partner ON enrolments (partner, person_id);
    INSERT INTO audit_meta (key, value) VALUES ('caseloads_from_followup', (SELECT COUNT(*) > 0 FROM persons));",
    // 7: the audit log moves to `audit.db` (the tables of migrations 2–5 are moved there and
    // dropped by `move_log_out`). A write act puts its entries here, in its own transaction;
    // the audit writer moves them into the log. AUTOINCREMENT: ids are never reused once moved
    // rows are deleted.
    "CREATE TABLE audit_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entry BLOB NOT NULL
    );",
    // 8: the facts authorisation relies on are tagged with a key from the key file (a file's
    // agency, counsellor and enrolments; a token's every field), tokens can be revoked, and
    // principals suspended. Rows stored before get their tags once (`facts_unbound`), by a
    // process holding the key; from then on an untagged row was written without it.
    "ALTER TABLE persons ADD COLUMN facts_tag BLOB;
    ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
    ALTER TABLE tokens ADD COLUMN tag BLOB;
    CREATE INDEX tokens_principal ON tokens (principal, id);
    CREATE TABLE principals (
        name TEXT PRIMARY KEY,
        suspended INTEGER NOT NULL,
        since INTEGER NOT NULL,
        tag BLOB
    );
    INSERT INTO audit_meta (key, value) VALUES ('facts_unbound', (SELECT (SELECT COUNT(*) FROM persons) + (SELECT COUNT(*) FROM tokens) > 0));",
];

/// The audit log, in a database of its own so that appending read entries does not change
/// `vault.db` (whose readers would otherwise reload their page caches after every commit).
const AUDIT_MIGRATIONS: &[&str] = &[
    // 1: entries in a total order and their Merkle leaves; the per-person index, ordered by
    // stretch of the log first (`bucket` = seq >> BUCKET_BITS) so that a batch of new entries
    // lands in the few pages of the current stretch; signed checkpoints; the roots of the aligned
    // perfect subtrees of 2^8 leaves and more; positions (`indexed_through`, `outbox_through`).
    "CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        entry BLOB NOT NULL,
        leaf BLOB NOT NULL
    );
    CREATE TABLE audit_persons (
        bucket INTEGER NOT NULL,
        person_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (bucket, person_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE audit_checkpoints (
        size INTEGER PRIMARY KEY,
        checkpoint BLOB NOT NULL
    );
    CREATE TABLE audit_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO log_meta (key, value) VALUES ('indexed_through', 0), ('outbox_through', 0);",
    // 2: the per-person index moves to `audit-index.db`, written by a thread of its own, so
    // that the log's commits never wait behind indexing (`take_old_index` copies it there
    // before this runs).
    "DROP TABLE audit_persons;
    DELETE FROM log_meta WHERE key = 'indexed_through';",
];

/// The per-person index of the audit log, in a database of its own: derived data, written
/// without fsync (a crash may lose its last batches, which are indexed again from the log).
const INDEX_MIGRATIONS: &[&str] = &[
    // 1: the persons of each entry, ordered by stretch of the log first (`bucket` = seq >>
    // BUCKET_BITS) so that a batch of new entries lands in the few pages of the current
    // stretch; the last entry indexed and its leaf (to tell whether the log is still the one
    // indexed).
    "CREATE TABLE persons (
        bucket INTEGER NOT NULL,
        person_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (bucket, person_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE position (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        through INTEGER NOT NULL,
        leaf BLOB
    );
    INSERT INTO position (id, through, leaf) VALUES (1, 0, NULL);",
];

/// Entries per stretch of the per-person index (`audit_persons.bucket = seq >> BUCKET_BITS`):
/// indexing touches one stretch; the history of a person reads one range per stretch.
const BUCKET_BITS: u32 = 14;

const KEY_MIGRATIONS: &[&str] = &[
    // 1: wrapped per-person data keys.
    "CREATE TABLE data_keys (
        person_id TEXT PRIMARY KEY,
        master_version INTEGER NOT NULL,
        wrapped BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX data_keys_version ON data_keys (master_version, person_id);",
];

fn db(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

/// A read transaction on a reader connection, or nothing to begin when the connection is
/// already inside this thread's snapshot ([`Store::read_snapshot`]).
struct ReadTx<'c> {
    conn: &'c Connection,
    began: bool,
}

impl<'c> ReadTx<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        let began = conn.is_autocommit();
        if began {
            conn.execute_batch("BEGIN DEFERRED")?;
        }
        Ok(ReadTx { conn, began })
    }

    fn finish(mut self) -> rusqlite::Result<()> {
        if self.began {
            self.began = false;
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if self.began {
            // Ending a read transaction discards nothing; a failure leaves the connection to
            // the pool's next `BEGIN`, which reports it.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl std::ops::Deref for ReadTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// How long a statement waits for another process's write lock before it fails.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Write transactions begin IMMEDIATE everywhere (`transaction_with_behavior`): the write lock
/// is taken at BEGIN, under the busy timeout, so that another process writing meanwhile (a CLI
/// command beside `rempart serve`) makes us wait instead of failing on a stale snapshot.
fn init_conn(c: &Connection) -> rusqlite::Result<()> {
    // 16 KiB pages hold several sealed files.
    init_db(c, 16384)
}

/// The audit log's pages are 4 KiB: a commit of a few entries writes its last page to the WAL
/// whole, and the log is read in order.
fn init_log(c: &Connection) -> rusqlite::Result<()> {
    init_db(c, 4096)
}

/// The index is derived from the log: its commits are not synced (WAL keeps it consistent).
fn init_index(c: &Connection) -> rusqlite::Result<()> {
    init_db(c, 4096)?;
    c.execute_batch("PRAGMA synchronous = NORMAL;")
}

/// The indexer keeps the current stretch of the index in its cache.
fn init_index_writer(c: &Connection) -> rusqlite::Result<()> {
    init_index(c)?;
    c.execute_batch("PRAGMA cache_size = -16384;")
}

/// `page_size` only takes effect on a new database.
fn init_db(c: &Connection, page_size: u32) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "page_size", page_size)?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -1024;
         PRAGMA mmap_size = 1073741824;",
    )
}

/// The writer keeps a larger page cache: a bulk import touches index pages all over the
/// B-trees, and spilling them mid-transaction costs more than the memory.
fn init_writer(c: &Connection) -> rusqlite::Result<()> {
    init_conn(c)?;
    c.execute_batch("PRAGMA cache_size = -131072;")
}

fn migrate(pool: &Pool, migrations: &[&str]) -> Result<(), StoreError> {
    let mut w = pool.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin migration"))?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .map_err(db("create schema_migrations"))?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(db("read schema version"))?;
    let supported = migrations.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(db("apply migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            params![i as i64 + 1],
        )
        .map_err(db("record migration"))?;
    }
    tx.commit().map_err(db("commit migration"))
}

fn open_pool(dir: &Path, file: &str, migrations: &[&str]) -> Result<Pool, StoreError> {
    open_pool_with(dir, file, migrations, init_conn, init_writer)
}

fn open_pool_with(
    dir: &Path,
    file: &str,
    migrations: &[&str],
    init: fn(&Connection) -> rusqlite::Result<()>,
    init_writer: fn(&Connection) -> rusqlite::Result<()>,
) -> Result<Pool, StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::NotInitialised(format!(
            "data directory {} does not exist; run `rempart init --data {}` first",
            dir.display(),
            dir.display()
        )));
    }
    let pool = Pool::new(dir.join(file), init, init_writer).map_err(db("open database"))?;
    migrate(&pool, migrations)?;
    Ok(pool)
}

/// Opens the per-person index of the log. It is derived data: a file SQLite reports as corrupt
/// or as not a database is moved aside (`audit-index.db.corrupt`, kept for a look) and a new
/// one is built from the log, instead of keeping the whole store from opening.
fn open_index(dir: &Path) -> Result<Pool, StoreError> {
    let open = || {
        open_pool_with(
            dir,
            AUDIT_INDEX_FILE,
            INDEX_MIGRATIONS,
            init_index,
            init_index_writer,
        )
    };
    match open() {
        Err(StoreError::Database { source, .. })
            if matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ) =>
        {
            let file = dir.join(AUDIT_INDEX_FILE);
            let aside = dir.join(format!("{AUDIT_INDEX_FILE}.corrupt"));
            tracing::warn!(
                aside = %aside.display(),
                "the audit index is corrupt: moved aside, and built again from the log"
            );
            std::fs::rename(&file, &aside).map_err(|e| {
                StoreError::NotInitialised(format!(
                    "moving the corrupt audit index {} aside: {e}",
                    file.display()
                ))
            })?;
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{AUDIT_INDEX_FILE}{suffix}")));
            }
            open()
        }
        other => other,
    }
}

/// The file store in `DIR/vault.db`, the audit log in `DIR/audit.db` and its per-person index
/// in `DIR/audit-index.db`.
pub struct SqliteStore {
    pool: Arc<Pool>,
    log: Arc<Pool>,
    index: Arc<Pool>,
    audit: GroupCommit,
    /// This process applied the migration that introduced facts tags (or was told to trust
    /// the untagged rows): it may tag the rows stored before.
    facts_binding: std::sync::atomic::AtomicBool,
}

/// The schema version of a database file, 0 when there is none yet.
fn schema_version(path: &Path) -> i64 {
    if !path.exists() {
        return 0;
    }
    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}

/// The key store in `DIR/keys.db`.
pub struct SqliteKeyStore {
    pool: Pool,
}

const COLUMNS: &str = "id, agency, counsellor, dk_version, identity, social_security, agency_ids, contact, situation, education, professional, followup, legal_representatives, facts_tag";

fn row_to_person(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPerson> {
    let mut fields = Vec::new();
    for (i, c) in Category::ALL.iter().enumerate() {
        if let Some(b) = r.get::<_, Option<Vec<u8>>>(4 + i)? {
            fields.push((*c, b));
        }
    }
    Ok(StoredPerson {
        id: r.get(0)?,
        agency: r.get(1)?,
        counsellor: r.get(2)?,
        partners: Vec::new(),
        dk_version: r.get(3)?,
        fields,
        facts_tag: r.get(4 + Category::ALL.len())?,
    })
}

/// Fills in the partners a file is enrolled with.
fn with_partners(
    c: &rusqlite::Connection,
    mut p: StoredPerson,
) -> Result<StoredPerson, StoreError> {
    let mut st = c
        .prepare_cached("SELECT partner FROM enrolments WHERE person_id = ?1 ORDER BY partner")
        .map_err(db("prepare enrolments"))?;
    let rows = st
        .query_map(params![p.id], |r| r.get(0))
        .map_err(db("read enrolments"))?;
    p.partners = rows
        .collect::<Result<_, _>>()
        .map_err(db("read enrolments"))?;
    Ok(p)
}

impl SqliteStore {
    /// Opens (and migrates) the file store of an existing data directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // Rows stored before access facts were tagged may be tagged only by the process that
        // applies the migration which introduced tags (8): a flag in the database alone could
        // be set again by someone who writes it, to have forged rows tagged.
        let tags_before = schema_version(&dir.join(VAULT_FILE)) < 8;
        let pool = Arc::new(open_pool(dir, VAULT_FILE, VAULT_MIGRATIONS)?);
        let index = Arc::new(open_index(dir)?);
        // Before the log's migration 2 drops the index it held.
        take_old_index(dir)?;
        let log = Arc::new(open_pool_with(
            dir,
            AUDIT_FILE,
            AUDIT_MIGRATIONS,
            init_log,
            init_log,
        )?);
        move_log_out(dir, &pool)?;
        catch_up_nodes(&log)?;
        // Entries of write acts left in the outbox by a crash go into the log before anything
        // else happens.
        drain_outbox(&pool, &log)?;
        outbox_ids_after_log(&pool, &log)?;
        index_in_step(&index, &log)?;
        let audit = GroupCommit::start(log.clone(), pool.clone(), index.clone());
        Ok(SqliteStore {
            pool,
            log,
            index,
            audit,
            facts_binding: std::sync::atomic::AtomicBool::new(tags_before),
        })
    }

    /// After a write act committed with its entries in the outbox: waits until the audit
    /// writer has moved them into the log. A failure is reported in the server's log, not to
    /// the caller: the act and its entries are durable, and the writer retries.
    fn settle(&self) {
        if let Err(e) = self.audit.drain() {
            tracing::error!(error = %e, "audit entries wait in the outbox");
        }
    }

    /// Writes the WAL back into the main file and truncates it (for backups and tests).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        for pool in [&self.pool, &self.log, &self.index] {
            pool.write()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .map_err(db("checkpoint"))?;
        }
        Ok(())
    }
}

/// The blind-index entries of a file, kept in its row so that they can be removed by exact
/// key (keyed hashes only, no plaintext): `kind (1 byte) ‖ hash (32 bytes)` repeated.
fn encode_entries(entries: &[IndexEntry]) -> Vec<u8> {
    let mut v = Vec::with_capacity(entries.len() * 33);
    for (k, h) in entries {
        v.push(*k as u8);
        v.extend_from_slice(h);
    }
    v
}

fn decode_entries(b: &[u8]) -> Result<Vec<IndexEntry>, StoreError> {
    if !b.len().is_multiple_of(33) {
        return Err(StoreError::Corrupt("index entries length"));
    }
    Ok(b.chunks_exact(33)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&c[1..]);
            (i64::from(c[0]), h)
        })
        .collect())
}

const INSERT_INDEX: &str =
    "INSERT OR IGNORE INTO blind_index (kind, hash, person_id) VALUES (?1, ?2, ?3)";
const DELETE_INDEX: &str =
    "DELETE FROM blind_index WHERE kind = ?1 AND hash = ?2 AND person_id = ?3";

fn remove_entries(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<(), StoreError> {
    let old: Option<Vec<u8>> = tx
        .query_row(
            "SELECT index_entries FROM persons WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("read index entries"))?;
    let mut del = tx
        .prepare_cached(DELETE_INDEX)
        .map_err(db("prepare index delete"))?;
    for (kind, hash) in decode_entries(&old.unwrap_or_default())? {
        del.execute(params![kind, &hash[..], id])
            .map_err(db("delete index"))?;
    }
    Ok(())
}

/// Appends entries inside `tx`: each gets the next sequence number, its leaf and its
/// per-person index rows.
/// Puts the entries of a write act into the outbox of `vault.db`, in the act's transaction.
fn outbox(tx: &rusqlite::Transaction<'_>, entries: &[AuditEntry]) -> Result<(), StoreError> {
    let mut ins = tx
        .prepare_cached("INSERT INTO audit_outbox (entry) VALUES (?1)")
        .map_err(db("prepare audit outbox"))?;
    for e in entries {
        ins.execute(params![e.canonical()])
            .map_err(db("audit outbox"))?;
    }
    Ok(())
}

/// The entries of the outbox not yet in the log (`> through`), in order, with the last id.
fn outbox_after(vault: &Pool, through: i64) -> Result<(Vec<Vec<u8>>, i64), StoreError> {
    let c = vault.read().map_err(db("open reader"))?;
    let mut st = c
        .prepare_cached("SELECT id, entry FROM audit_outbox WHERE id > ?1 ORDER BY id")
        .map_err(db("prepare audit outbox"))?;
    let mut rows = st.query(params![through]).map_err(db("audit outbox"))?;
    let (mut out, mut last) = (Vec::new(), through);
    while let Some(r) = rows.next().map_err(db("audit outbox"))? {
        last = r.get(0).map_err(db("audit outbox"))?;
        out.push(r.get(1).map_err(db("audit outbox"))?);
    }
    Ok((out, last))
}

fn meta(c: &Connection, key: &str) -> Result<i64, StoreError> {
    c.prepare_cached("SELECT value FROM log_meta WHERE key = ?1")
        .and_then(|mut st| st.query_row(params![key], |r| r.get(0)))
        .map_err(db("read audit log position"))
}

/// The last entry's position (0 for an empty log). Cached: the writer asks for every batch.
fn log_len(c: &Connection) -> Result<i64, StoreError> {
    c.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(db("read audit position"))
}

/// An entry as the log stores it, encoded by the thread that hands it over, with the persons
/// it names (for the per-person index).
pub(crate) struct Encoded {
    pub(crate) bytes: Vec<u8>,
    pub(crate) persons: Vec<String>,
}

impl Encoded {
    pub(crate) fn new(e: &AuditEntry) -> Encoded {
        Encoded {
            bytes: e.canonical(),
            persons: e.persons.clone(),
        }
    }
}

/// What one transaction of the log appended.
pub(crate) struct Appended {
    /// When the outbox was read: the last outbox id now in the log (the rows up to it may be
    /// deleted).
    pub(crate) outbox_through: Option<i64>,
    /// The persons of the outbox entries moved, in order; they come first.
    pub(crate) moved_persons: Vec<Vec<String>>,
    /// The position of the first entry appended (`None` when nothing was).
    pub(crate) first: Option<i64>,
}

/// In the log's transaction `tx`: appends the outbox entries not yet moved (when `drain`),
/// then `entries`.
pub(crate) fn append_with_outbox(
    tx: &rusqlite::Transaction<'_>,
    vault: &Pool,
    entries: &[Encoded],
    drain: bool,
) -> Result<Appended, StoreError> {
    let mut out = Appended {
        outbox_through: None,
        moved_persons: Vec::new(),
        first: None,
    };
    if drain {
        let through = meta(tx, "outbox_through")?;
        let (moved, last) = outbox_after(vault, through)?;
        if last > through {
            for b in &moved {
                // Written by this store: an entry that does not decode is refused, not logged.
                let e =
                    AuditEntry::parse(b).map_err(|_| StoreError::Corrupt("audit outbox entry"))?;
                out.moved_persons.push(e.persons);
            }
            out.first = append_canonical(tx, moved.iter().map(Vec::as_slice))?;
            tx.execute(
                "UPDATE log_meta SET value = ?1 WHERE key = 'outbox_through'",
                params![last],
            )
            .map_err(db("advance audit outbox"))?;
        }
        out.outbox_through = Some(last);
    }
    let first = append_canonical(tx, entries.iter().map(|e| e.bytes.as_slice()))?;
    out.first = out.first.or(first);
    Ok(out)
}

/// Whether the outbox holds rows after `through` (read without a write lock).
pub(crate) fn outbox_holds_after(vault: &Pool, through: i64) -> Result<bool, StoreError> {
    vault
        .read()
        .map_err(db("open reader"))?
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit_outbox WHERE id > ?1)")
        .and_then(|mut st| st.query_row(params![through], |r| r.get(0)))
        .map_err(db("audit outbox"))
}

/// Deletes the outbox rows already in the log, unless `vault.db` is being written (by this
/// process or another): then it returns `false` and the writer thread tries again later. The
/// writer thread never waits for `vault.db`, so that reads keep being recorded during a long
/// import.
pub(crate) fn prune_outbox(vault: &Pool, through: i64) -> Result<bool, StoreError> {
    let Some(w) = vault.try_write() else {
        return Ok(false);
    };
    w.busy_timeout(std::time::Duration::ZERO)
        .map_err(db("prune audit outbox"))?;
    let done = w.execute("DELETE FROM audit_outbox WHERE id <= ?1", params![through]);
    w.busy_timeout(BUSY_TIMEOUT)
        .map_err(db("prune audit outbox"))?;
    match done {
        Ok(_) => Ok(true),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(e) => Err(db("prune audit outbox")(e)),
    }
}

/// Makes the outbox's next ids larger than every id the log has taken from it. They are after a
/// normal run; after `vault.db` alone was restored from an older copy, the outbox would reuse
/// ids the log considers moved, and their entries would never be moved.
fn outbox_ids_after_log(vault: &Pool, log: &Pool) -> Result<(), StoreError> {
    let through = meta(&*log.read().map_err(db("open reader"))?, "outbox_through")?;
    let next = |c: &Connection| -> Result<i64, StoreError> {
        c.query_row(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_outbox'), 0)",
            [],
            |r| r.get(0),
        )
        .map_err(db("read outbox sequence"))
    };
    // The usual case, read without taking vault.db's write lock.
    if next(&*vault.read().map_err(db("open reader"))?)? >= through {
        return Ok(());
    }
    let mut w = vault.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin outbox sequence"))?;
    let next = next(&tx)?;
    if next < through {
        tracing::warn!(
            through,
            next,
            "vault.db is older than audit.db (restored from a copy?): outbox ids moved past the log's"
        );
        tx.execute(
            "DELETE FROM sqlite_sequence WHERE name = 'audit_outbox'",
            [],
        )
        .map_err(db("outbox sequence"))?;
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('audit_outbox', ?1)",
            params![through],
        )
        .map_err(db("outbox sequence"))?;
    }
    tx.commit().map_err(db("commit outbox sequence"))
}

/// Moves what the outbox holds into the log (at opening: entries a crash left there).
fn drain_outbox(vault: &Pool, log: &Pool) -> Result<(), StoreError> {
    // The usual case, read without taking either write lock: an empty outbox.
    let empty: bool = vault
        .read()
        .map_err(db("open reader"))?
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM audit_outbox)", [], |r| {
            r.get(0)
        })
        .map_err(db("audit outbox"))?;
    if empty {
        return Ok(());
    }
    let last = {
        let mut w = log.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin audit"))?;
        let appended = append_with_outbox(&tx, vault, &[], true)?;
        tx.commit().map_err(db("commit audit"))?;
        appended.outbox_through.unwrap_or(0)
    };
    // Left for the writer thread if vault.db is busy.
    prune_outbox(vault, last).map(|_| ())
}

/// Moves the log of an installation made before `audit.db` (migrations 2–5 of `vault.db`) into
/// `audit.db`, then drops it from `vault.db`. Two transactions, in that order, each one
/// idempotent: a crash in between leaves both copies, and the next opening finishes the move.
/// Its per-person index is dropped: the indexer builds it again from the log.
fn move_log_out(dir: &Path, vault: &Pool) -> Result<(), StoreError> {
    let legacy: bool = vault
        .read()
        .map_err(db("open reader"))?
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_log'",
            [],
            |r| r.get(0),
        )
        .map_err(db("look for an older audit log"))?;
    if !legacy {
        return Ok(());
    }
    let mut c = Connection::open(dir.join(AUDIT_FILE)).map_err(db("open audit log"))?;
    init_log(&c).map_err(db("open audit log"))?;
    c.execute(
        "ATTACH DATABASE ?1 AS v",
        params![dir.join(VAULT_FILE).to_string_lossy()],
    )
    .map_err(db("attach the file store"))?;
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit log move"))?;
    tx.execute_batch(
        "INSERT OR IGNORE INTO main.audit_log (seq, entry, leaf) SELECT seq, entry, leaf FROM v.audit_log;
         INSERT OR IGNORE INTO main.audit_checkpoints (size, checkpoint) SELECT size, checkpoint FROM v.audit_checkpoints;
         INSERT OR IGNORE INTO main.audit_nodes (level, idx, hash) SELECT level, idx, hash FROM v.audit_nodes;",
    )
    .map_err(db("move the audit log"))?;
    tx.commit().map_err(db("commit audit log move"))?;
    c.execute_batch("DETACH DATABASE v")
        .map_err(db("detach the file store"))?;
    drop(c);
    let mut w = vault.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit log move"))?;
    tx.execute_batch(
        "DROP TABLE audit_log; DROP TABLE audit_checkpoints; DROP TABLE audit_nodes; DROP TABLE audit_persons;
         DELETE FROM audit_meta WHERE key = 'indexed_through';",
    )
    .map_err(db("drop the moved audit log"))?;
    tx.commit().map_err(db("commit audit log move"))
}

/// Copies the per-person index `audit.db` held before its migration 2 into `audit-index.db`
/// (one idempotent transaction); the migration then drops it. Without the copy the indexer
/// would build it again from the log, which takes a while on a long log.
fn take_old_index(dir: &Path) -> Result<(), StoreError> {
    let log = dir.join(AUDIT_FILE);
    if !log.exists() {
        return Ok(());
    }
    let mut c = Connection::open(dir.join(AUDIT_INDEX_FILE)).map_err(db("open audit index"))?;
    init_index(&c).map_err(db("open audit index"))?;
    c.execute("ATTACH DATABASE ?1 AS l", params![log.to_string_lossy()])
        .map_err(db("attach the audit log"))?;
    let old: bool = c
        .query_row(
            "SELECT COUNT(*) > 0 FROM l.sqlite_schema WHERE type = 'table' AND name = 'audit_persons'",
            [],
            |r| r.get(0),
        )
        .map_err(db("look for an older audit index"))?;
    if old {
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin audit index move"))?;
        tx.execute_batch(
            "INSERT OR IGNORE INTO main.persons (bucket, person_id, seq)
                 SELECT bucket, person_id, seq FROM l.audit_persons;
             UPDATE main.position SET
                 through = (SELECT value FROM l.log_meta WHERE key = 'indexed_through'),
                 leaf = (SELECT leaf FROM l.audit_log WHERE seq =
                     (SELECT value FROM l.log_meta WHERE key = 'indexed_through'))
             WHERE through < COALESCE((SELECT value FROM l.log_meta WHERE key = 'indexed_through'), 0);",
        )
        .map_err(db("move the audit index"))?;
        tx.commit().map_err(db("commit audit index move"))?;
    }
    c.execute_batch("DETACH DATABASE l")
        .map_err(db("detach the audit log"))
}

/// Empties the per-person index: it is built again from the log.
const RESET_INDEX: &str = "DELETE FROM persons; UPDATE position SET through = 0, leaf = NULL;";

/// The last entry indexed (0 for none) and its leaf.
fn index_position(c: &Connection) -> Result<(i64, Option<Vec<u8>>), StoreError> {
    c.prepare_cached("SELECT through, leaf FROM position WHERE id = 1")
        .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(db("read audit index position"))
}

fn leaf_at(log: &Connection, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
    log.prepare_cached("SELECT leaf FROM audit_log WHERE seq = ?1")
        .and_then(|mut st| st.query_row(params![seq], |r| r.get(0)).optional())
        .map_err(db("read audit leaf"))
}

/// Makes sure the index describes this log: the entry it was indexed through must still be
/// there with the same leaf. After `audit.db` was restored from an older copy (or rewritten),
/// the index is emptied, and the indexer builds it again from the log.
fn index_in_step(index: &Pool, log: &Pool) -> Result<(), StoreError> {
    let in_step = |ic: &Connection| -> Result<bool, StoreError> {
        let (through, leaf) = index_position(ic)?;
        if through == 0 {
            return Ok(true);
        }
        let actual = leaf_at(&*log.read().map_err(db("open reader"))?, through)?;
        Ok(actual.is_some() && actual == leaf)
    };
    // The usual case, read without taking the index's write lock.
    if in_step(&*index.read().map_err(db("open reader"))?)? {
        return Ok(());
    }
    let mut w = index.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit index reset"))?;
    if !in_step(&tx)? {
        tracing::warn!(
            "the audit index does not describe audit.db (restored from a copy?): it is built again from the log"
        );
        tx.execute_batch(RESET_INDEX)
            .map_err(db("reset audit index"))?;
    }
    tx.commit().map_err(db("commit audit index reset"))
}

/// Appends entries already in canonical form to the log (in `tx`), with their leaves and the
/// subtrees they complete. Returns the position of the first (`None` if there was none).
fn append_canonical<'a>(
    tx: &rusqlite::Transaction<'_>,
    entries: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Result<Option<i64>, StoreError> {
    if entries.len() == 0 {
        return Ok(None);
    }
    let mut seq = log_len(tx)?;
    let before = seq as u64;
    let mut ins = tx
        .prepare_cached("INSERT INTO audit_log (seq, entry, leaf) VALUES (?1, ?2, ?3)")
        .map_err(db("prepare audit"))?;
    for bytes in entries {
        seq += 1;
        let leaf = leaf_of(seq as u64, bytes);
        ins.execute(params![seq, bytes, &leaf[..]])
            .map_err(db("append audit entry"))?;
    }
    extend_nodes(tx, before, seq as u64)?;
    Ok(Some(before as i64 + 1))
}

/// The leaves `lo..hi` (0-based leaf indexes: entries `lo+1..=hi`), all present.
fn leaves_between(c: &Connection, lo: u64, hi: u64) -> Result<Vec<Hash>, StoreError> {
    let mut st = c
        .prepare_cached("SELECT leaf FROM audit_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
        .map_err(db("prepare audit leaves"))?;
    let mut rows = st
        .query(params![lo as i64, hi as i64])
        .map_err(db("audit leaves"))?;
    let mut out = Vec::with_capacity((hi - lo) as usize);
    while let Some(r) = rows.next().map_err(db("audit leaves"))? {
        let b = r
            .get_ref(0)
            .and_then(|v| v.as_blob().map_err(Into::into))
            .map_err(db("audit leaves"))?;
        out.push(<[u8; 32]>::try_from(b).map_err(|_| StoreError::Corrupt("audit leaf"))?);
    }
    if out.len() as u64 != hi - lo {
        return Err(StoreError::Corrupt("audit log has a gap"));
    }
    Ok(out)
}

fn node_at(c: &Connection, level: u32, idx: u64) -> Result<Hash, StoreError> {
    let b: Vec<u8> = c
        .prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")
        .map_err(db("prepare audit node"))?
        .query_row(params![level, idx as i64], |r| r.get(0))
        .optional()
        .map_err(db("audit node"))?
        .ok_or(StoreError::Corrupt("audit subtree missing"))?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| StoreError::Corrupt("audit subtree"))
}

/// Records the whole subtrees completed when the log grew from `before` to `after` entries:
/// each completed block of leaves, then its parents while it is a right child.
fn extend_nodes(c: &Connection, before: u64, after: u64) -> Result<(), StoreError> {
    let mut ins = c
        .prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
        .map_err(db("prepare audit node"))?;
    for block in before / BLOCK..after / BLOCK {
        let mut hash = merkle::root(&leaves_between(c, block * BLOCK, (block + 1) * BLOCK)?);
        let (mut level, mut idx) = (BLOCK_LEVEL, block);
        ins.execute(params![level, idx as i64, &hash[..]])
            .map_err(db("record audit node"))?;
        while idx & 1 == 1 {
            hash = merkle::node_hash(&node_at(c, level, idx - 1)?, &hash);
            level += 1;
            idx >>= 1;
            ins.execute(params![level, idx as i64, &hash[..]])
                .map_err(db("record audit node"))?;
        }
    }
    Ok(())
}

/// (leaves covered by stored blocks, leaves in the log).
fn nodes_position(c: &Connection) -> Result<(u64, u64), StoreError> {
    let (blocks, len): (i64, i64) = c
        .query_row(
            "SELECT (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_nodes WHERE level = ?1),
                    (SELECT COALESCE(MAX(seq), 0) FROM audit_log)",
            params![BLOCK_LEVEL],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db("read audit subtrees"))?;
    Ok((blocks as u64 * BLOCK, len as u64))
}

/// Builds the whole subtrees of a log written before they were kept (or by an older binary).
/// Up to date (the usual case), it only reads.
fn catch_up_nodes(pool: &Pool) -> Result<(), StoreError> {
    let behind = |(covered, len): (u64, u64)| len / BLOCK * BLOCK > covered;
    let reader = pool.read().map_err(db("open reader"))?;
    let position = nodes_position(&reader)?;
    drop(reader);
    if !behind(position) {
        return Ok(());
    }
    let mut w = pool.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit subtrees"))?;
    let (covered, len) = nodes_position(&tx)?;
    if behind((covered, len)) {
        extend_nodes(&tx, covered, len)?;
    }
    tx.commit().map_err(db("commit audit subtrees"))
}

/// [`Subtrees`] over one pooled connection, keeping the last block of leaves read.
struct SqliteSubtrees<'a> {
    conn: crate::pool::Pooled<'a>,
    block: Option<(u64, Vec<Hash>)>,
}

impl Subtrees for SqliteSubtrees<'_> {
    type Error = StoreError;

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        node_at(&self.conn, level, index)
    }

    fn leaves(&mut self, lo: u64, hi: u64) -> Result<Vec<Hash>, StoreError> {
        let b = lo / BLOCK;
        if hi > (b + 1) * BLOCK {
            return leaves_between(&self.conn, lo, hi);
        }
        // A proof asks for several ranges of the same block: read it once, as far as needed.
        let have = self
            .block
            .as_ref()
            .is_some_and(|(cb, l)| *cb == b && (b * BLOCK + l.len() as u64) >= hi);
        if !have {
            let l = leaves_between(&self.conn, b * BLOCK, hi)?;
            self.block = Some((b, l));
        }
        let l = self
            .block
            .as_ref()
            .map(|(_, l)| l.as_slice())
            .unwrap_or(&[]);
        let (from, to) = ((lo - b * BLOCK) as usize, (hi - b * BLOCK) as usize);
        l.get(from..to)
            .map(<[Hash]>::to_vec)
            .ok_or(StoreError::Corrupt("audit log has a gap"))
    }
}

/// Entries appended to the log and not yet in the per-person index.
pub(crate) fn unindexed(index: &Connection, log: &Connection) -> Result<i64, StoreError> {
    Ok(log_len(log)? - index_position(index)?.0)
}

/// The persons named by entries a writer appended and has not indexed yet: entry
/// `first + i` names `persons[i]`. Lets the writer index without reading its entries back.
#[derive(Default)]
pub(crate) struct Known {
    first: i64,
    persons: std::collections::VecDeque<Vec<String>>,
}

impl Known {
    /// Entries `first, first + 1, …` were appended, naming `persons`. Entries someone else
    /// appended in between break the run: what was known before is dropped (and read back).
    pub(crate) fn extend(&mut self, first: i64, persons: impl IntoIterator<Item = Vec<String>>) {
        if self.first + self.persons.len() as i64 != first {
            self.persons.clear();
            self.first = first;
        }
        self.persons.extend(persons);
    }

    /// Forgets everything (after a commit whose outcome is unknown).
    pub(crate) fn clear(&mut self) {
        self.persons.clear();
    }

    /// The last entry known, if any.
    pub(crate) fn last(&self) -> Option<i64> {
        (!self.persons.is_empty()).then(|| self.first + self.persons.len() as i64 - 1)
    }

    /// The persons of entries `lo..=hi` if all are known; everything up to `hi` is forgotten
    /// either way.
    fn take(&mut self, lo: i64, hi: i64) -> Option<Vec<(i64, Vec<String>)>> {
        let end = self.first + self.persons.len() as i64;
        let covered = self.first <= lo && hi < end;
        let mut out = Vec::new();
        while self.first <= hi {
            let Some(p) = self.persons.pop_front() else {
                break;
            };
            if covered && self.first >= lo {
                out.push((self.first, p));
            }
            self.first += 1;
        }
        covered.then_some(out)
    }
}

/// Adds up to `limit` entries of the log (read in one transaction on `log`), and none past
/// entry `through` when given, to the per-person index (in its transaction `tx`), sorted by person so that each index page is written once
/// per batch rather than once per request. The index is derived data: the entries themselves
/// were committed before any data left. The persons of entries in `known` are taken from
/// there; the others are read back from the log.
pub(crate) fn index_pending(
    tx: &rusqlite::Transaction<'_>,
    log: &Connection,
    limit: usize,
    through: Option<i64>,
    known: &mut Known,
) -> Result<usize, StoreError> {
    let (from, _) = index_position(tx)?;
    let to = log_len(log)?
        .min(from + limit as i64)
        .min(through.unwrap_or(i64::MAX));
    if to <= from {
        return Ok(0);
    }
    let mut rows: Vec<(i64, String, i64)> = Vec::new();
    if let Some(entries) = known.take(from + 1, to) {
        for (seq, persons) in entries {
            rows.extend(persons.into_iter().map(|p| (seq >> BUCKET_BITS, p, seq)));
        }
    } else {
        let mut st = log
            .prepare_cached(
                "SELECT seq, entry FROM audit_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
            )
            .map_err(db("prepare audit indexing"))?;
        let mut q = st.query(params![from, to]).map_err(db("audit indexing"))?;
        while let Some(r) = q.next().map_err(db("audit indexing"))? {
            let seq: i64 = r.get(0).map_err(db("audit indexing"))?;
            let bytes = r
                .get_ref(1)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit indexing"))?;
            let persons =
                AuditEntry::persons_of(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
            rows.extend(persons.into_iter().map(|p| (seq >> BUCKET_BITS, p, seq)));
        }
    }
    rows.sort_unstable();
    rows.dedup();
    let leaf = leaf_at(log, to)?.ok_or(StoreError::Corrupt("audit log has a gap"))?;
    let mut ins = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO persons (bucket, person_id, seq) VALUES (?1, ?2, ?3)",
        )
        .map_err(db("prepare audit index"))?;
    for (bucket, p, seq) in &rows {
        ins.execute(params![bucket, p, seq])
            .map_err(db("index audit entry"))?;
    }
    tx.execute(
        "UPDATE position SET through = ?1, leaf = ?2 WHERE id = 1",
        params![to, leaf],
    )
    .map_err(db("advance audit index"))?;
    Ok((to - from) as usize)
}

/// The persons the index records for the entries of stretch `bucket` up to `through`, against
/// `expected`, the persons those entries name (sorted, without repeats): the first entry where
/// they differ.
fn first_difference(
    expected: Vec<(String, i64)>,
    index: &Connection,
    bucket: i64,
    through: i64,
) -> Result<Option<i64>, StoreError> {
    let actual: Vec<(String, i64)> = index
        .prepare_cached(
            "SELECT person_id, seq FROM persons WHERE bucket = ?1 AND seq <= ?2
             ORDER BY person_id, seq",
        )
        .and_then(|mut st| {
            st.query_map(params![bucket, through], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db("read audit index"))?;
    if actual == expected {
        return Ok(None);
    }
    let (a, e): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
        (actual.iter().collect(), expected.iter().collect());
    Ok(a.symmetric_difference(&e).map(|(_, seq)| *seq).min())
}

/// [`Store::check_audit_index`] on a snapshot of the index and one of the log.
fn check_index(
    index: &Connection,
    log: &Connection,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<IndexCheck, StoreError> {
    let (through, leaf) = index_position(index)?;
    let len = log_len(log)?;
    let found = |first: Option<i64>| IndexCheck {
        through: through.max(0) as u64,
        first_difference: first.map(|s| s.max(1) as u64),
    };
    if through > len || (through > 0 && leaf_at(log, through)? != leaf) {
        // Not this log's index (it is emptied and rebuilt at the next opening).
        return Ok(found(Some(through.min(len + 1))));
    }
    let mut expected: Vec<(String, i64)> = Vec::new();
    let mut rows: i64 = 0;
    let mut bucket = 0i64;
    {
        let mut st = log
            .prepare_cached("SELECT seq, entry FROM audit_log WHERE seq <= ?1 ORDER BY seq")
            .map_err(db("prepare audit index check"))?;
        let mut q = st
            .query(params![through])
            .map_err(db("audit index check"))?;
        while let Some(r) = q.next().map_err(db("audit index check"))? {
            let seq: i64 = r.get(0).map_err(db("audit index check"))?;
            if seq >> BUCKET_BITS != bucket {
                expected.sort_unstable();
                expected.dedup();
                rows += expected.len() as i64;
                if let Some(d) =
                    first_difference(std::mem::take(&mut expected), index, bucket, through)?
                {
                    return Ok(found(Some(d)));
                }
                progress(seq as u64 - 1, through as u64);
                bucket = seq >> BUCKET_BITS;
            }
            let bytes = r
                .get_ref(1)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit index check"))?;
            let persons =
                AuditEntry::persons_of(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
            expected.extend(persons.into_iter().map(|p| (p, seq)));
        }
    }
    expected.sort_unstable();
    expected.dedup();
    rows += expected.len() as i64;
    if let Some(d) = first_difference(expected, index, bucket, through)? {
        return Ok(found(Some(d)));
    }
    progress(through as u64, through as u64);
    // Every stretch matched; rows anywhere else (past the position, or in another stretch than
    // their entry's) are extra.
    let total: i64 = index
        .query_row("SELECT COUNT(*) FROM persons", [], |r| r.get(0))
        .map_err(db("read audit index"))?;
    if total != rows {
        let stray: Option<i64> = index
            .query_row(
                "SELECT MIN(seq) FROM persons WHERE seq > ?1 OR bucket != (seq >> ?2)",
                params![through, BUCKET_BITS],
                |r| r.get(0),
            )
            .map_err(db("read audit index"))?;
        return Ok(found(Some(stray.unwrap_or(through + 1))));
    }
    Ok(found(None))
}

impl SqliteStore {
    /// Whether rows stored before facts tags are still to be tagged (the upgrade's flag) and
    /// this process may tag them.
    fn may_bind_facts(&self, c: &Connection) -> Result<bool, StoreError> {
        let pending: i64 = c
            .query_row(
                "SELECT COALESCE((SELECT value FROM audit_meta WHERE key = 'facts_unbound'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(db("read facts flag"))?;
        Ok(pending != 0
            && self
                .facts_binding
                .load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// Writes a file's new facts tag, only if the row still holds the one the change was computed
/// from; otherwise `Conflict` (the caller's transaction is rolled back when dropped).
fn set_facts_tag(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    f: &FactsChange,
) -> Result<(), StoreError> {
    let n = tx
        .execute(
            "UPDATE persons SET facts_tag = ?1 WHERE id = ?2 AND facts_tag IS ?3",
            params![f.tag, id, f.expected],
        )
        .map_err(db("tag file facts"))?;
    if n == 0 {
        return Err(StoreError::Conflict("the file"));
    }
    Ok(())
}

impl Store for SqliteStore {
    fn begin_read_snapshot(&self) -> Result<bool, StoreError> {
        self.pool.pin().map_err(db("begin read snapshot"))
    }

    fn end_read_snapshot(&self) {
        self.pool.unpin();
    }

    fn insert_persons(
        &self,
        persons: &[NewPerson],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin insert"))?;
        outbox(&tx, audit)?;
        {
            let cols: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            let sql = format!(
                "INSERT INTO persons (id, agency, counsellor, dk_version, created_at, updated_at, index_entries, facts_tag, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, {})",
                cols.join(", "),
                (8..8 + cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
            );
            let mut ins = tx.prepare_cached(&sql).map_err(db("prepare insert"))?;
            // Sorted inserts touch each B-tree page once instead of at random.
            let mut sorted: Vec<&NewPerson> = persons.iter().collect();
            sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            for p in sorted {
                let mut values: Vec<Option<&[u8]>> = vec![None; Category::ALL.len()];
                for (c, b) in &p.fields {
                    if let Some(pos) = Category::ALL.iter().position(|x| x == c) {
                        values[pos] = Some(b.as_slice());
                    }
                }
                let entries = encode_entries(&p.index);
                let mut params: Vec<&dyn rusqlite::ToSql> = vec![
                    &p.id,
                    &p.agency,
                    &p.counsellor,
                    &p.dk_version,
                    &p.now,
                    &entries,
                    &p.facts_tag,
                ];
                for v in &values {
                    params.push(v);
                }
                ins.execute(params.as_slice()).map_err(db("insert file"))?;
            }
            let mut idx = tx
                .prepare_cached(INSERT_INDEX)
                .map_err(db("prepare index insert"))?;
            let mut entries: Vec<(i64, &[u8; 32], &str)> = persons
                .iter()
                .flat_map(|p| p.index.iter().map(move |(k, h)| (*k, h, p.id.as_str())))
                .collect();
            entries.sort_unstable();
            for (kind, hash, id) in entries {
                idx.execute(params![kind, &hash[..], id])
                    .map_err(db("insert index"))?;
            }
        }
        tx.commit().map_err(db("commit insert"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        // One read transaction for the row and its enrolments: one snapshot, and one start of
        // a transaction instead of one per statement.
        let tx = ReadTx::begin(&c).map_err(db("begin read"))?;
        let found = {
            let mut st = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM persons WHERE id = ?1"))
                .map_err(db("prepare read"))?;
            st.query_row(params![id], row_to_person)
                .optional()
                .map_err(db("read file"))?
        };
        let found = found.map(|p| with_partners(&tx, p)).transpose()?;
        tx.finish().map_err(db("end read"))?;
        Ok(found)
    }

    fn update_person(
        &self,
        id: &str,
        agency: &str,
        u: &PersonUpdate,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin update"))?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM persons WHERE id = ?1 AND agency = ?2",
                params![id, agency],
                |_| Ok(()),
            )
            .optional()
            .map_err(db("find file"))?;
        if exists.is_none() {
            return Ok(false);
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        remove_entries(&tx, id)?;
        for (c, v) in &u.fields {
            // Column names come from the Category enum, never from input.
            tx.execute(
                &format!("UPDATE persons SET {} = ?1 WHERE id = ?2", c.as_str()),
                params![v, id],
            )
            .map_err(db("update category"))?;
        }
        tx.execute(
            "UPDATE persons SET updated_at = ?1, index_entries = ?2 WHERE id = ?3",
            params![u.now, encode_entries(&u.index), id],
        )
        .map_err(db("update file"))?;
        if let Some(counsellor) = &u.counsellor {
            tx.execute(
                "UPDATE persons SET counsellor = ?1 WHERE id = ?2",
                params![counsellor, id],
            )
            .map_err(db("assign counsellor"))?;
        }
        if let Some(f) = &u.facts {
            set_facts_tag(&tx, id, f)?;
        }
        {
            let mut idx = tx
                .prepare_cached(INSERT_INDEX)
                .map_err(db("prepare index insert"))?;
            for (kind, hash) in &u.index {
                idx.execute(params![kind, &hash[..], id])
                    .map_err(db("insert index"))?;
            }
        }
        tx.commit().map_err(db("commit update"))?;
        drop(w);
        self.settle();
        Ok(true)
    }

    fn delete_person(&self, id: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin delete"))?;
        outbox(&tx, std::slice::from_ref(audit))?;
        remove_entries(&tx, id)?;
        tx.execute("DELETE FROM enrolments WHERE person_id = ?1", params![id])
            .map_err(db("delete enrolments"))?;
        let n = tx
            .execute("DELETE FROM persons WHERE id = ?1", params![id])
            .map_err(db("delete file"))?;
        tx.commit().map_err(db("commit delete"))?;
        drop(w);
        self.settle();
        Ok(n > 0)
    }

    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let limit = limit as i64;
        let rows: Vec<String> = match scope {
            ListScope::Agency(agency) => {
                let mut st = c
                    .prepare_cached(
                        "SELECT b.person_id FROM blind_index b JOIN persons p ON p.id = b.person_id WHERE b.kind = ?1 AND b.hash = ?2 AND p.agency = ?3 ORDER BY b.person_id LIMIT ?4",
                    )
                    .map_err(db("prepare search"))?;
                let rows = st
                    .query_map(params![kind, &hash[..], agency, limit], |r| r.get(0))
                    .map_err(db("search"))?;
                rows.collect::<Result<_, _>>().map_err(db("search"))?
            }
            ListScope::Caseload { agency, counsellor } => {
                let mut st = c
                    .prepare_cached(
                        "SELECT b.person_id FROM blind_index b JOIN persons p ON p.id = b.person_id WHERE b.kind = ?1 AND b.hash = ?2 AND p.agency = ?3 AND p.counsellor = ?4 ORDER BY b.person_id LIMIT ?5",
                    )
                    .map_err(db("prepare search"))?;
                let rows = st
                    .query_map(params![kind, &hash[..], agency, counsellor, limit], |r| {
                        r.get(0)
                    })
                    .map_err(db("search"))?;
                rows.collect::<Result<_, _>>().map_err(db("search"))?
            }
            ListScope::Enrolled(partner) => {
                let mut st = c
                    .prepare_cached(
                        "SELECT b.person_id FROM blind_index b JOIN enrolments e ON e.person_id = b.person_id WHERE b.kind = ?1 AND b.hash = ?2 AND e.partner = ?3 ORDER BY b.person_id LIMIT ?4",
                    )
                    .map_err(db("prepare search"))?;
                let rows = st
                    .query_map(params![kind, &hash[..], partner, limit], |r| r.get(0))
                    .map_err(db("search"))?;
                rows.collect::<Result<_, _>>().map_err(db("search"))?
            }
        };
        Ok(rows)
    }

    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        let conn = self.pool.read().map_err(db("open reader"))?;
        // One read transaction for the page and the enrolments of its files.
        let c = ReadTx::begin(&conn).map_err(db("begin read"))?;
        let after = after.unwrap_or("");
        let limit = limit as i64;
        let rows: Vec<StoredPerson> = match scope {
            ListScope::Agency(agency) => {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM persons WHERE agency = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                    ))
                    .map_err(db("prepare list"))?;
                let rows = st
                    .query_map(params![agency, after, limit], row_to_person)
                    .map_err(db("list"))?;
                rows.collect::<Result<_, _>>().map_err(db("list"))?
            }
            ListScope::Caseload { agency, counsellor } => {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM persons WHERE agency = ?1 AND counsellor = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
                    ))
                    .map_err(db("prepare caseload"))?;
                let rows = st
                    .query_map(params![agency, counsellor, after, limit], row_to_person)
                    .map_err(db("caseload"))?;
                rows.collect::<Result<_, _>>().map_err(db("caseload"))?
            }
            ListScope::Enrolled(partner) => {
                let cols = COLUMNS
                    .split(", ")
                    .map(|x| format!("p.{x}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {cols} FROM enrolments e JOIN persons p ON p.id = e.person_id WHERE e.partner = ?1 AND e.person_id > ?2 ORDER BY e.person_id LIMIT ?3"
                    ))
                    .map_err(db("prepare enrolled"))?;
                let rows = st
                    .query_map(params![partner, after, limit], row_to_person)
                    .map_err(db("enrolled"))?;
                rows.collect::<Result<_, _>>().map_err(db("enrolled"))?
            }
        };
        let rows = rows
            .into_iter()
            .map(|p| with_partners(&c, p))
            .collect::<Result<Vec<_>, _>>()?;
        c.finish().map_err(db("end read"))?;
        Ok(rows)
    }

    fn caseload_backfill(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let pending: i64 = c
            .query_row(
                "SELECT COALESCE((SELECT value FROM audit_meta WHERE key = 'caseloads_from_followup'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(db("read backfill flag"))?;
        if pending == 0 {
            return Ok(Vec::new());
        }
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM persons WHERE counsellor IS NULL AND followup IS NOT NULL AND id > ?1 ORDER BY id LIMIT ?2"
            ))
            .map_err(db("prepare backfill"))?;
        let rows = st
            .query_map(params![after.unwrap_or(""), limit as i64], row_to_person)
            .map_err(db("backfill"))?;
        rows.collect::<Result<_, _>>().map_err(db("backfill"))
    }

    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin backfill"))?;
        if !assignments.is_empty() {
            outbox(&tx, std::slice::from_ref(audit))?;
        }
        for (id, counsellor) in assignments {
            tx.execute(
                "UPDATE persons SET counsellor = ?1 WHERE id = ?2 AND counsellor IS NULL",
                params![counsellor, id],
            )
            .map_err(db("backfill caseload"))?;
        }
        if done {
            tx.execute(
                "UPDATE audit_meta SET value = 0 WHERE key = 'caseloads_from_followup'",
                [],
            )
            .map_err(db("finish backfill"))?;
        }
        tx.commit().map_err(db("commit backfill"))?;
        drop(w);
        if !assignments.is_empty() {
            self.settle();
        }
        Ok(())
    }

    fn set_enrolment(
        &self,
        person: &str,
        partner: &str,
        enrolled: bool,
        facts: &FactsChange,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin enrolment"))?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM persons WHERE id = ?1",
                params![person],
                |_| Ok(()),
            )
            .optional()
            .map_err(db("find file"))?;
        if exists.is_none() {
            return Ok(false);
        }
        let changed = if enrolled {
            tx.execute(
                "INSERT OR IGNORE INTO enrolments (person_id, partner, since) VALUES (?1, ?2, ?3)",
                params![person, partner, now],
            )
            .map_err(db("enrol"))?
        } else {
            tx.execute(
                "DELETE FROM enrolments WHERE person_id = ?1 AND partner = ?2",
                params![person, partner],
            )
            .map_err(db("end enrolment"))?
        };
        if changed == 0 {
            return Ok(false);
        }
        set_facts_tag(&tx, person, facts)?;
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit enrolment"))?;
        drop(w);
        self.settle();
        Ok(true)
    }

    fn count_persons(&self) -> Result<u64, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row("SELECT COUNT(*) FROM persons", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(db("count"))
    }

    fn insert_token(&self, t: &TokenRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin token insert"))?;
        if crate::tokens::principal(&tx, &t.principal)?.is_some_and(|p| p.suspended)
            || crate::tokens::suspended_tokens(&tx, &t.principal)?
        {
            return Err(StoreError::PrincipalSuspended);
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.execute(
            "INSERT INTO tokens (id, hash, principal, role, agency, created_at, expires_at, suspended, revoked_at, tag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![t.id, &t.hash[..], t.principal, t.role, t.agency, t.created_at, t.expires_at, t.suspended, t.revoked_at, t.tag],
        )
        .map_err(db("insert token"))?;
        tx.commit().map_err(db("commit token insert"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.audit.append(entries)
    }

    fn submit_audit(&self, entries: &[AuditEntry]) -> crate::AuditTicket {
        self.audit.submit(entries)
    }

    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        // The index's snapshot first, then the log's: everything indexed is in the log already
        // (the indexer reads only committed entries), so the indexed part and the scanned tail
        // meet exactly.
        let ic = self.index.read().map_err(db("open reader"))?;
        let itx = ReadTx::begin(&ic).map_err(db("begin history"))?;
        let c = self.log.read().map_err(db("open reader"))?;
        let tx = ReadTx::begin(&c).map_err(db("begin history"))?;
        let (through, _) = index_position(&itx)?;
        let through = through.min(log_len(&tx)?);
        let mut out = Vec::new();
        {
            let mut tail = tx
                .prepare_cached("SELECT seq, entry FROM audit_log WHERE seq > ?1 ORDER BY seq DESC")
                .map_err(db("prepare audit tail"))?;
            let mut q = tail.query(params![through]).map_err(db("audit tail"))?;
            while let Some(r) = q.next().map_err(db("audit tail"))? {
                let seq: i64 = r.get(0).map_err(db("audit tail"))?;
                let bytes = r
                    .get_ref(1)
                    .and_then(|v| v.as_blob().map_err(Into::into))
                    .map_err(db("audit tail"))?;
                let e = AuditEntry::parse(bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
                if out.len() < limit && e.persons.iter().any(|p| p == person) {
                    out.push((seq as u64, e));
                }
            }
        }
        // The indexed part, newest stretch first, until `limit`.
        let mut seqs = itx
            .prepare_cached(
                "SELECT seq FROM persons WHERE bucket = ?1 AND person_id = ?2 AND seq <= ?3
                 ORDER BY seq DESC LIMIT ?4",
            )
            .map_err(db("prepare audit history"))?;
        let mut entry = tx
            .prepare_cached("SELECT entry FROM audit_log WHERE seq = ?1")
            .map_err(db("prepare audit history"))?;
        let mut bucket = through >> BUCKET_BITS;
        while bucket >= 0 && out.len() < limit {
            let found: Vec<i64> = seqs
                .query_map(
                    params![bucket, person, through, (limit - out.len()) as i64],
                    |r| r.get(0),
                )
                .and_then(Iterator::collect)
                .map_err(db("audit history"))?;
            for seq in found {
                let bytes: Vec<u8> = entry
                    .query_row(params![seq], |r| r.get(0))
                    .optional()
                    .map_err(db("audit history"))?
                    .ok_or(StoreError::Corrupt(
                        "audit index names an entry not in the log",
                    ))?;
                let e =
                    AuditEntry::parse(&bytes).map_err(|_| StoreError::Corrupt("audit entry"))?;
                // A row added to the index by hand must not put someone else's entry in this
                // history (`audit verify` names it).
                if !e.persons.iter().any(|p| p == person) {
                    tracing::warn!(
                        seq,
                        "the audit index names an entry that does not name the person: skipped (run `rempart audit verify`)"
                    );
                    continue;
                }
                out.push((seq as u64, e));
            }
            bucket -= 1;
        }
        Ok(out)
    }

    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached("SELECT seq, entry, leaf FROM audit_log WHERE seq > ?1 ORDER BY seq")
            .map_err(db("prepare audit scan"))?;
        let mut rows = st.query(params![after as i64]).map_err(db("audit scan"))?;
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(db("audit scan"))? {
            let seq = r.get::<_, i64>(0).map_err(db("audit scan"))? as u64;
            // Borrowed blobs: no copy per entry.
            let entry = r
                .get_ref(1)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit scan"))?;
            let leaf = r
                .get_ref(2)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit scan"))?;
            n += 1;
            if !visit(seq, entry, leaf) {
                break;
            }
        }
        Ok(n)
    }

    fn audit_subtrees(&self) -> Result<Box<crate::AuditSubtrees<'_>>, StoreError> {
        Ok(Box::new(SqliteSubtrees {
            conn: self.log.read().map_err(db("open reader"))?,
            block: None,
        }))
    }

    fn insert_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(cp).map_err(|_| StoreError::Corrupt("checkpoint"))?;
        self.log
            .write()
            .execute(
                "INSERT OR REPLACE INTO audit_checkpoints (size, checkpoint) VALUES (?1, ?2)",
                params![cp.size as i64, bytes],
            )
            .map(|_| ())
            .map_err(db("insert checkpoint"))
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached("SELECT checkpoint FROM audit_checkpoints ORDER BY size")
            .map_err(db("prepare checkpoints"))?;
        let rows = st
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(db("checkpoints"))?;
        let mut out = Vec::new();
        for r in rows {
            let b = r.map_err(db("checkpoints"))?;
            out.push(serde_json::from_slice(&b).map_err(|_| StoreError::Corrupt("checkpoint"))?);
        }
        Ok(out)
    }

    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        let bytes: Option<Vec<u8>> = c
            .prepare_cached("SELECT checkpoint FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
            .map_err(db("latest checkpoint"))?;
        bytes
            .map(|b| serde_json::from_slice(&b).map_err(|_| StoreError::Corrupt("checkpoint")))
            .transpose()
    }

    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError> {
        // The index's snapshot first, then the log's: everything indexed is in the log.
        let ic = self.index.read().map_err(db("open reader"))?;
        let itx = ReadTx::begin(&ic).map_err(db("begin audit index check"))?;
        let c = self.log.read().map_err(db("open reader"))?;
        let tx = ReadTx::begin(&c).map_err(db("begin audit index check"))?;
        let checked = check_index(&ic, &c, progress)?;
        tx.finish().map_err(db("end audit index check"))?;
        itx.finish().map_err(db("end audit index check"))?;
        Ok(checked)
    }

    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError> {
        {
            let mut w = self.index.write();
            let tx = w
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("begin audit index reset"))?;
            tx.execute_batch(RESET_INDEX)
                .map_err(db("reset audit index"))?;
            tx.commit().map_err(db("commit audit index reset"))?;
        }
        let total = self.audit_len()?;
        let mut known = Known::default();
        loop {
            let done = {
                let reader = self.log.read().map_err(db("open reader"))?;
                let rtx = ReadTx::begin(&reader).map_err(db("begin audit indexing"))?;
                let mut w = self.index.write();
                let tx = w
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(db("begin audit indexing"))?;
                let n = index_pending(&tx, &reader, 50_000, None, &mut known)?;
                tx.commit().map_err(db("commit audit indexing"))?;
                rtx.finish().map_err(db("end audit indexing"))?;
                n
            };
            let (through, _) = index_position(&*self.index.read().map_err(db("open reader"))?)?;
            progress((through.max(0) as u64).min(total), total);
            if done == 0 {
                return Ok(through.max(0) as u64);
            }
        }
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        // The number of the last entry: O(log n), where COUNT(*) reads the whole log. The
        // two differ only if entries were deleted, which `audit verify` reports.
        log_len(&c).map(|n| n as u64)
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        crate::tokens::by_hash(&c, hash)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        crate::tokens::all(&c)
    }

    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin token change"))?;
        crate::tokens::change(&tx, principal, changes)?;
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit token change"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn trust_untagged_rows(&self) {
        self.facts_binding
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        crate::tokens::principal(&c, name)
    }

    fn unbound_facts(
        &self,
        limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError> {
        let conn = self.pool.read().map_err(db("open reader"))?;
        let c = ReadTx::begin(&conn).map_err(db("begin read"))?;
        if !self.may_bind_facts(&c)? {
            return Ok((Vec::new(), Vec::new()));
        }
        let persons: Vec<StoredPerson> = {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM persons WHERE facts_tag IS NULL ORDER BY id LIMIT ?1"
                ))
                .map_err(db("prepare unbound files"))?;
            let rows = st
                .query_map(params![limit as i64], row_to_person)
                .map_err(db("unbound files"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("unbound files"))?
        };
        let persons = persons
            .into_iter()
            .map(|p| with_partners(&c, p))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens = crate::tokens::untagged(&c, limit)?;
        c.finish().map_err(db("end read"))?;
        Ok((persons, tokens))
    }

    fn bind_facts(
        &self,
        persons: &[(String, Vec<u8>)],
        tokens: &[(String, Vec<u8>)],
        done: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin binding"))?;
        if !self.may_bind_facts(&tx)? {
            // Done already (by another process), or not this process's to do: a row untagged
            // now was not stored before.
            return Ok(());
        }
        for (id, tag) in persons {
            tx.execute(
                "UPDATE persons SET facts_tag = ?1 WHERE id = ?2 AND facts_tag IS NULL",
                params![tag, id],
            )
            .map_err(db("bind file facts"))?;
        }
        for (id, tag) in tokens {
            tx.execute(
                "UPDATE tokens SET tag = ?1 WHERE id = ?2 AND tag IS NULL",
                params![tag, id],
            )
            .map_err(db("bind token"))?;
        }
        if done {
            tx.execute(
                "UPDATE audit_meta SET value = 0 WHERE key = 'facts_unbound'",
                [],
            )
            .map_err(db("finish binding"))?;
        }
        if !persons.is_empty() || !tokens.is_empty() || done {
            outbox(&tx, std::slice::from_ref(audit))?;
        }
        tx.commit().map_err(db("commit binding"))?;
        drop(w);
        self.settle();
        Ok(())
    }
}

impl SqliteKeyStore {
    /// Opens (and migrates) the key store of an existing data directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Ok(SqliteKeyStore {
            pool: open_pool(dir, KEYS_FILE, KEY_MIGRATIONS)?,
        })
    }
}

impl KeyStore for SqliteKeyStore {
    fn put_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin key insert"))?;
        {
            let mut st = tx
                .prepare_cached("INSERT INTO data_keys (person_id, master_version, wrapped) VALUES (?1, ?2, ?3)")
                .map_err(db("prepare key insert"))?;
            let mut sorted: Vec<&StoredKey> = keys.iter().collect();
            sorted.sort_unstable_by(|a, b| a.person.cmp(&b.person));
            for k in sorted {
                st.execute(params![k.person, k.master_version, k.wrapped])
                    .map_err(db("insert key"))?;
            }
        }
        tx.commit().map_err(db("commit key insert"))
    }

    fn get_key(&self, person: &str) -> Result<Option<StoredKey>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT person_id, master_version, wrapped FROM data_keys WHERE person_id = ?1",
            )
            .map_err(db("prepare key read"))?;
        st.query_row(params![person], |r| {
            Ok(StoredKey {
                person: r.get(0)?,
                master_version: r.get(1)?,
                wrapped: r.get(2)?,
            })
        })
        .optional()
        .map_err(db("read key"))
    }

    fn destroy_key(&self, person: &str) -> Result<bool, StoreError> {
        let w = self.pool.write();
        // secure_delete overwrites the freed cells; the TRUNCATE checkpoint then empties the
        // WAL, so no earlier frame holding the key survives in keys.db-wal.
        let n = w
            .execute(
                "DELETE FROM data_keys WHERE person_id = ?1",
                params![person],
            )
            .map_err(db("destroy key"))?;
        w.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(db("checkpoint key store"))?;
        Ok(n > 0)
    }

    fn keys_below_version(&self, version: u32, limit: usize) -> Result<Vec<StoredKey>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT person_id, master_version, wrapped FROM data_keys WHERE master_version < ?1 ORDER BY master_version, person_id LIMIT ?2",
            )
            .map_err(db("prepare key scan"))?;
        let rows = st
            .query_map(params![version, limit as i64], |r| {
                Ok(StoredKey {
                    person: r.get(0)?,
                    master_version: r.get(1)?,
                    wrapped: r.get(2)?,
                })
            })
            .map_err(db("scan keys"))?;
        rows.collect::<Result<_, _>>().map_err(db("scan keys"))
    }

    fn count_below_version(&self, version: u32) -> Result<u64, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            "SELECT COUNT(*) FROM data_keys WHERE master_version < ?1",
            params![version],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(db("count keys"))
    }

    fn rewrap_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin rewrap"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "UPDATE data_keys SET master_version = ?2, wrapped = ?3 WHERE person_id = ?1",
                )
                .map_err(db("prepare rewrap"))?;
            for k in keys {
                st.execute(params![k.person, k.master_version, k.wrapped])
                    .map_err(db("rewrap key"))?;
            }
        }
        tx.commit().map_err(db("commit rewrap"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, agency: &str) -> NewPerson {
        NewPerson {
            id: id.into(),
            agency: agency.into(),
            counsellor: Some("c.a".into()),
            dk_version: 1,
            fields: vec![
                (Category::Identity, vec![1, 2, 3]),
                (Category::Contact, vec![4, 5]),
            ],
            index: vec![(1, [9; 32])],
            now: 100,
            facts_tag: vec![id.as_bytes()[0]; 32],
        }
    }

    #[test]
    fn insert_read_search_list_update_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.insert_persons(&[person("a", "ML-1"), person("b", "ML-2")], &[])
            .unwrap();
        let a = s.get_person("a").unwrap().unwrap();
        assert_eq!(a.fields.len(), 2);
        assert_eq!(
            s.find_by_index(1, &[9; 32], &ListScope::Agency("ML-1"), 10)
                .unwrap(),
            vec!["a".to_string()],
            "a search sees the files of its scope only"
        );
        assert_eq!(
            s.find_by_index(1, &[9; 32], &ListScope::Agency("ML-2"), 10)
                .unwrap(),
            vec!["b".to_string()]
        );
        assert_eq!(
            s.list_persons(&ListScope::Agency("ML-2"), None, 10)
                .unwrap()
                .len(),
            1
        );
        assert!(s
            .list_persons(&ListScope::Agency("ML-2"), Some("b"), 10)
            .unwrap()
            .is_empty());
        let caseload = |c| {
            s.list_persons(
                &ListScope::Caseload {
                    agency: "ML-1",
                    counsellor: c,
                },
                None,
                10,
            )
            .unwrap()
            .len()
        };
        assert_eq!((caseload("c.a"), caseload("c.b")), (1, 0));
        // Enrolments: written with their entry, read back with the file, listed by partner.
        let tagged = |old: u8, new: u8| FactsChange {
            expected: Some(vec![old; 32]),
            tag: vec![new; 32],
        };
        assert!(
            matches!(
                s.set_enrolment("a", "AFPA", true, &tagged(7, 8), 5, &entry()),
                Err(StoreError::Conflict(_))
            ),
            "a change computed from another tag is refused"
        );
        assert!(
            s.get_person("a").unwrap().unwrap().partners.is_empty(),
            "and nothing written"
        );
        assert!(s
            .set_enrolment("a", "AFPA", true, &tagged(b'a', 1), 5, &entry())
            .unwrap());
        assert_eq!(
            s.get_person("a").unwrap().unwrap().facts_tag,
            Some(vec![1; 32])
        );
        assert!(
            !s.set_enrolment("a", "AFPA", true, &tagged(1, 2), 6, &entry())
                .unwrap(),
            "already"
        );
        assert!(
            !s.set_enrolment("zz", "AFPA", true, &tagged(1, 2), 6, &entry())
                .unwrap(),
            "no file"
        );
        assert_eq!(
            s.find_by_index(1, &[9; 32], &ListScope::Enrolled("AFPA"), 10)
                .unwrap(),
            vec!["a".to_string()]
        );
        assert_eq!(
            s.get_person("a").unwrap().unwrap().partners,
            vec!["AFPA".to_string()]
        );
        let enrolled = s
            .list_persons(&ListScope::Enrolled("AFPA"), None, 10)
            .unwrap();
        assert_eq!(enrolled.len(), 1);
        assert_eq!(enrolled[0].partners, vec!["AFPA".to_string()]);
        let len = s.audit_len().unwrap();
        let u = PersonUpdate {
            fields: vec![(Category::Contact, None)],
            index: vec![(2, [8; 32])],
            counsellor: Some(Some("c.b".into())),
            facts: Some(FactsChange {
                expected: Some(vec![1; 32]),
                tag: vec![3; 32],
            }),
            now: 200,
        };
        assert!(
            !s.update_person("a", "ML-2", &u, &entry()).unwrap(),
            "update is scoped to the agency"
        );
        assert!(s.update_person("a", "ML-1", &u, &entry()).unwrap());
        assert_eq!(s.audit_len().unwrap(), len + 1);
        let a = s.get_person("a").unwrap().unwrap();
        assert_eq!(a.fields.len(), 1);
        assert_eq!(a.counsellor.as_deref(), Some("c.b"));
        assert_eq!((caseload("c.a"), caseload("c.b")), (0, 1));
        assert!(s
            .find_by_index(1, &[9; 32], &ListScope::Agency("ML-1"), 10)
            .unwrap()
            .is_empty());
        assert!(s.delete_person("a", &entry()).unwrap());
        assert!(s.get_person("a").unwrap().is_none());
        assert!(s
            .list_persons(&ListScope::Enrolled("AFPA"), None, 10)
            .unwrap()
            .is_empty());
        assert_eq!(s.count_persons().unwrap(), 1);
    }

    fn entry() -> AuditEntry {
        AuditEntry {
            time: 1,
            principal: "c".into(),
            token_id: "t".into(),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action: rempart_audit::Action::Update,
            persons: vec!["a".into()],
            categories: vec![],
            purpose: None,
            client: None,
            request_id: None,
            outcome: rempart_audit::Outcome::Allowed,
            detail: None,
        }
    }

    /// The times of `person`'s history, newest first.
    fn history_times(s: &SqliteStore, person: &str, limit: usize) -> Vec<i64> {
        s.audit_for_person(person, limit)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.time)
            .collect()
    }

    /// Indexes up to `limit` pending entries at once.
    fn index_now(s: &SqliteStore, limit: usize) -> usize {
        let reader = s.log.read().unwrap();
        let log = ReadTx::begin(&reader).unwrap();
        let mut w = s.index.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let n = index_pending(&tx, &log, limit, None, &mut Known::default()).unwrap();
        tx.commit().unwrap();
        n
    }

    /// Entries of `s`'s log not yet in its index.
    fn unindexed_in(s: &SqliteStore) -> i64 {
        unindexed(&s.index.read().unwrap(), &s.log.read().unwrap()).unwrap()
    }

    /// Waits until the indexer has caught up with the log (it does when idle).
    fn wait_indexed(s: &SqliteStore) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while unindexed_in(s) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not indexed"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn the_history_of_a_person_joins_the_indexed_part_and_the_unindexed_tail() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let mut e = entry();
        for i in 0..10 {
            e.persons = vec![if i % 2 == 0 { "a".into() } else { "b".into() }];
            e.time = i;
            s.append_audit(std::slice::from_ref(&e)).unwrap();
            if i == 5 {
                assert_eq!(index_now(&s, 1000), 6);
            }
        }
        let times = |limit| history_times(&s, "a", limit);
        assert_eq!(
            times(10),
            [8, 6, 4, 2, 0],
            "newest first, across the boundary"
        );
        assert_eq!(times(3), [8, 6, 4]);
        assert_eq!(times(1), [8]);
        // The indexer may have indexed the tail meanwhile (it does so when idle).
        assert!(unindexed_in(&s) <= 4);
    }

    #[test]
    fn known_persons_are_used_only_for_a_run_they_cover_whole() {
        let ps = |n: &str| vec![n.to_string()];
        let mut k = Known::default();
        k.extend(5, [ps("a"), ps("b"), ps("c")]);
        k.extend(8, [ps("d")]);
        assert_eq!(k.last(), Some(8));
        assert_eq!(
            k.take(6, 7),
            Some(vec![(6, ps("b")), (7, ps("c"))]),
            "entry 5 was indexed by someone else"
        );
        assert_eq!(k.last(), Some(8));
        // Someone else appended 9: the run breaks and only what follows is known.
        k.extend(10, [ps("e")]);
        assert_eq!(k.take(9, 10), None);
        assert_eq!(k.last(), None);
        k.extend(11, [ps("f"), ps("g")]);
        assert_eq!(k.take(11, 13), None, "13 is not known");
        assert_eq!(k.last(), None);
    }

    #[test]
    fn the_index_matches_the_log_when_another_store_appends_in_between() {
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(dir.path()).unwrap();
        let b = SqliteStore::open(dir.path()).unwrap();
        let batch = |who: &str, round: usize| -> Vec<AuditEntry> {
            (0..100)
                .map(|i| {
                    let mut e = entry();
                    e.persons = vec![format!("{who}{}", (round * 100 + i) % 7)];
                    e
                })
                .collect()
        };
        // a's writer indexes under load after 4,096 entries, from the persons it knows; b's
        // entries then break its run, and its next indexing reads the log back.
        for round in 0..90 {
            a.append_audit(&batch("a", round)).unwrap();
            if round == 45 {
                b.append_audit(&batch("b", round)).unwrap();
            }
        }
        // Wait for both indexers to index the tail (they do when idle).
        wait_indexed(&a);
        let mut total = 0;
        for who in ["a", "b"] {
            for i in 0..7 {
                let person = format!("{who}{i}");
                let history = a.audit_for_person(&person, 100_000).unwrap();
                for (seq, e) in &history {
                    assert_eq!(e.persons, std::slice::from_ref(&person), "entry {seq}");
                }
                total += history.len();
            }
        }
        assert_eq!(total, 9100);
        assert_eq!(a.audit_len().unwrap(), 9100);
    }

    #[test]
    fn the_history_of_a_person_spans_the_stretches_of_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let stretch = 1i64 << BUCKET_BITS;
        // Person "a" at the start, the end and across the boundaries of three stretches.
        let a_at = [1, 2, stretch - 1, stretch, stretch + 1, 2 * stretch + 7];
        let n = 2 * stretch + 10;
        let entries: Vec<AuditEntry> = (1..=n)
            .map(|seq| {
                let mut e = entry();
                e.time = seq;
                e.persons = vec![if a_at.contains(&seq) { "a" } else { "b" }.into()];
                e
            })
            .collect();
        s.append_audit(&entries).unwrap();
        // All but the last few: the tail is found by scanning.
        index_now(&s, (n - 5) as usize);
        let times = |limit| history_times(&s, "a", limit);
        let mut newest_first = a_at.to_vec();
        newest_first.reverse();
        assert_eq!(times(100), newest_first);
        assert_eq!(times(4), newest_first[..4]);
        assert_eq!(times(2), newest_first[..2]);
        assert!(s.audit_for_person("nobody", 10).unwrap().is_empty());
    }

    /// The canonical bytes of `entry()` at `time`.
    #[test]
    fn the_latest_checkpoint_is_read_alone_among_many() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.latest_checkpoint().unwrap(), None);
        let cp = |size: u64| Checkpoint::new(size, &[size as u8; 32], size as i64, &[7; 64]);
        // Recorded out of order: the latest is the largest, not the last inserted.
        for i in 0..2_000u64 {
            s.insert_checkpoint(&cp((i * 7_919) % 2_000 + 1)).unwrap();
        }
        assert_eq!(s.latest_checkpoint().unwrap(), Some(cp(2_000)));
        assert_eq!(s.checkpoints().unwrap().len(), 2_000);
        // An older row that does not parse is not read.
        let c = Connection::open(dir.path().join(AUDIT_FILE)).unwrap();
        c.execute(
            "UPDATE audit_checkpoints SET checkpoint = x'00' WHERE size = 1000",
            [],
        )
        .unwrap();
        assert_eq!(s.latest_checkpoint().unwrap(), Some(cp(2_000)));
        assert!(matches!(
            s.checkpoints(),
            Err(StoreError::Corrupt("checkpoint"))
        ));
    }

    fn canonical_at(time: i64) -> Vec<u8> {
        let mut e = entry();
        e.time = time;
        e.persons = vec!["a".into()];
        e.canonical()
    }

    #[test]
    fn entries_a_crash_left_in_the_outbox_are_in_the_log_at_the_next_opening() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.append_audit(&[entry()]).unwrap();
        drop(s);
        // As if a write act had committed and the process had died before its entries moved.
        let c = Connection::open(dir.path().join(VAULT_FILE)).unwrap();
        for t in [10, 11] {
            c.execute(
                "INSERT INTO audit_outbox (entry) VALUES (?1)",
                params![canonical_at(t)],
            )
            .unwrap();
        }
        drop(c);
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.audit_len().unwrap(), 3);
        assert_eq!(
            history_times(&s, "a", 10),
            [11, 10, 1],
            "moved after the log, in the order of the outbox"
        );
        let left: i64 = s
            .pool
            .read()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM audit_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "moved rows leave the outbox");
        drop(s);
        // Opening again moves nothing twice.
        assert_eq!(
            SqliteStore::open(dir.path()).unwrap().audit_len().unwrap(),
            3
        );
    }

    #[test]
    fn after_vault_db_alone_is_restored_from_an_older_copy_write_entries_still_reach_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.checkpoint().unwrap();
        drop(s);
        let old = std::fs::read(dir.path().join(VAULT_FILE)).unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.insert_persons(&[person("a", "ML-1")], &[entry(), entry()])
            .unwrap();
        assert_eq!(s.audit_len().unwrap(), 2);
        s.checkpoint().unwrap();
        drop(s);
        // vault.db from before the two entries; audit.db as it is.
        std::fs::write(dir.path().join(VAULT_FILE), old).unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.insert_persons(&[person("b", "ML-1")], &[entry()])
            .unwrap();
        assert_eq!(s.audit_len().unwrap(), 3, "the new entry is in the log");
    }

    #[test]
    fn reads_are_recorded_while_vault_db_is_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        // Outbox rows moved into the log and not yet deleted: the writer thread will try.
        s.insert_persons(&[person("a", "ML-1")], &[entry()])
            .unwrap();
        // A long write transaction of vault.db (an import), past the writer's idle round.
        let held = s.pool.write();
        std::thread::sleep(std::time::Duration::from_millis(400));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|sc| {
            sc.spawn(|| tx.send(s.append_audit(&[entry()])).unwrap());
            let r = rx.recv_timeout(std::time::Duration::from_secs(10));
            drop(held);
            assert!(
                matches!(r, Ok(Ok(()))),
                "a read's entry waited for vault.db's writer: {r:?}"
            );
        });
        assert_eq!(s.audit_len().unwrap(), 2);
    }

    #[test]
    fn a_write_act_returns_once_its_entry_is_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let mut e = entry();
        e.persons = vec!["a".into()];
        s.insert_persons(&[person("a", "ML-1")], std::slice::from_ref(&e))
            .unwrap();
        assert_eq!(s.audit_len().unwrap(), 1);
        assert_eq!(s.audit_for_person("a", 10).unwrap().len(), 1);
    }

    /// A database at an older schema (`migrations`) holding a log of 300 entries naming "a",
    /// then `sql`.
    fn old_layout(path: &Path, migrations: &[&str], sql: &str) {
        let old = Pool::new(path.to_path_buf(), init_conn, init_conn).unwrap();
        migrate(&old, migrations).unwrap();
        let mut w = old.write();
        let tx = w.transaction().unwrap();
        let bytes: Vec<Vec<u8>> = (1..=300).map(canonical_at).collect();
        append_canonical(&tx, bytes.iter().map(Vec::as_slice)).unwrap();
        tx.execute_batch(sql).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn the_log_of_an_installation_made_before_audit_db_moves_there_whole() {
        let dir = tempfile::tempdir().unwrap();
        // The layout of migrations 1–6: the log inside vault.db.
        old_layout(
            &dir.path().join(VAULT_FILE),
            &VAULT_MIGRATIONS[..6],
            "INSERT INTO audit_persons (person_id, seq) VALUES ('a', 1), ('a', 2);
             UPDATE audit_meta SET value = 2 WHERE key = 'indexed_through';
             INSERT INTO audit_checkpoints (size, checkpoint) VALUES (300, x'7b7d');",
        );
        let leaves = |c: &Connection| -> Vec<Vec<u8>> {
            let mut st = c
                .prepare("SELECT leaf FROM audit_log ORDER BY seq")
                .unwrap();
            let rows = st.query_map([], |r| r.get(0)).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        let before = leaves(&Connection::open(dir.path().join(VAULT_FILE)).unwrap());
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.audit_len().unwrap(), 300);
        assert_eq!(leaves(&s.log.read().unwrap()), before);
        assert_eq!(s.audit_for_person("a", 1000).unwrap().len(), 300);
        let moved: (i64, i64) = s
            .log
            .read()
            .unwrap()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM audit_checkpoints), (SELECT COUNT(*) FROM audit_nodes)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(moved, (1, 1), "checkpoints and subtrees");
        let left: i64 = s
            .pool
            .read()
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('audit_log', 'audit_persons', 'audit_nodes', 'audit_checkpoints')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "the moved tables are gone from vault.db");
        drop(s);
        assert_eq!(
            SqliteStore::open(dir.path()).unwrap().audit_len().unwrap(),
            300
        );
    }

    #[test]
    fn the_index_audit_db_held_moves_to_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        // The layout of audit.db's migration 1: the index beside the log. Entry 7 names only
        // "a": a row for "z" can only come from the copy, not from indexing the log again.
        old_layout(
            &dir.path().join(AUDIT_FILE),
            &AUDIT_MIGRATIONS[..1],
            "INSERT INTO audit_persons (bucket, person_id, seq)
                 SELECT 0, 'a', seq FROM audit_log WHERE seq <= 200;
             INSERT INTO audit_persons (bucket, person_id, seq) VALUES (0, 'z', 7);
             UPDATE log_meta SET value = 200 WHERE key = 'indexed_through';",
        );
        let s = SqliteStore::open(dir.path()).unwrap();
        let (through, leaf) = index_position(&s.index.read().unwrap()).unwrap();
        assert_eq!(through, 200);
        assert_eq!(leaf, leaf_at(&s.log.read().unwrap(), 200).unwrap());
        // Read from the index itself: the history skips an entry that does not name "z".
        let z: Vec<i64> = s
            .index
            .read()
            .unwrap()
            .prepare("SELECT seq FROM persons WHERE person_id = 'z'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(z, [7], "copied");
        assert!(s.audit_for_person("z", 10).unwrap().is_empty());
        assert_eq!(s.audit_for_person("a", 1000).unwrap().len(), 300);
        let left: (i64, i64) = s
            .log
            .read()
            .unwrap()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM sqlite_schema WHERE name = 'audit_persons'),
                        (SELECT COUNT(*) FROM log_meta WHERE key = 'indexed_through')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(left, (0, 0), "the old index is gone from audit.db");
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        wait_indexed(&s);
        assert_eq!(s.audit_for_person("a", 1000).unwrap().len(), 300);
    }

    #[test]
    fn an_index_of_another_log_is_built_again_from_this_one() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let mut e = entry();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            e.persons = vec!["a".into()];
            s.append_audit(&vec![e.clone(); 10]).unwrap();
            wait_indexed(&s);
            let o = SqliteStore::open(other.path()).unwrap();
            e.persons = vec!["b".into()];
            o.append_audit(&vec![e.clone(); 6]).unwrap();
            o.checkpoint().unwrap();
        }
        // audit.db replaced by another log (a restore from an older copy looks the same to
        // the index: its position is past the log, or names another leaf).
        std::fs::copy(other.path().join(AUDIT_FILE), dir.path().join(AUDIT_FILE)).unwrap();
        let _ = std::fs::remove_file(dir.path().join(format!("{AUDIT_FILE}-wal")));
        let s = SqliteStore::open(dir.path()).unwrap();
        assert!(
            s.audit_for_person("a", 100).unwrap().is_empty(),
            "the old index names entries this log does not have"
        );
        assert_eq!(s.audit_for_person("b", 100).unwrap().len(), 6);
        wait_indexed(&s);
        assert_eq!(s.audit_for_person("b", 100).unwrap().len(), 6);
        assert!(s.audit_for_person("a", 100).unwrap().is_empty());
    }

    #[test]
    fn the_log_takes_entries_while_the_index_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        // Another connection holds the index's write lock: the indexer waits for it, the log's
        // writer must not.
        let blocker = Connection::open(dir.path().join(AUDIT_INDEX_FILE)).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut e = entry();
        e.persons = vec!["a".into()];
        for _ in 0..3 {
            s.append_audit(&vec![e.clone(); 2000]).unwrap();
        }
        s.append_audit(std::slice::from_ref(&e)).unwrap();
        assert_eq!(s.audit_len().unwrap(), 6001);
        assert_eq!(unindexed_in(&s), 6001, "nothing indexed while locked");
        assert_eq!(s.audit_for_person("a", 10_000).unwrap().len(), 6001);
        blocker.execute_batch("COMMIT").unwrap();
        wait_indexed(&s);
        assert_eq!(s.audit_for_person("a", 10_000).unwrap().len(), 6001);
    }

    #[test]
    fn closing_the_store_does_not_wait_for_the_whole_index_backlog() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        // A long log nobody indexed (written by an older binary, or restored).
        let total: i64 = 4 * 50_000;
        {
            let mut c = Connection::open(dir.path().join(AUDIT_FILE)).unwrap();
            let tx = c.transaction().unwrap();
            let one = canonical_at(1);
            append_canonical(&tx, (0..total as usize).map(|_| one.as_slice())).unwrap();
            tx.commit().unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while unindexed_in(&s) == total {
            assert!(std::time::Instant::now() < deadline, "indexing never began");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        assert!(
            unindexed_in(&s) > 0,
            "the indexer stops between batches once the store closes"
        );
        assert_eq!(s.audit_for_person("a", 10).unwrap().len(), 10);
    }

    #[test]
    fn two_writers_on_one_database_wait_for_each_other_instead_of_failing() {
        // As `rempart serve` and a CLI command (or the benchmark's second server) do.
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(dir.path()).unwrap();
        let b = SqliteStore::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for store in [&a, &b] {
                for _ in 0..4 {
                    s.spawn(move || {
                        for _ in 0..50 {
                            store.append_audit(&[entry()]).unwrap();
                            let n = unique();
                            let mut hash = [0u8; 32];
                            hash[..8].copy_from_slice(&n.to_be_bytes());
                            store
                                .insert_token(
                                    &TokenRecord {
                                        id: format!("t{n}"),
                                        hash,
                                        principal: "p".into(),
                                        role: "dpo".into(),
                                        agency: "ML-1".into(),
                                        created_at: 0,
                                        expires_at: 1,
                                        suspended: false,
                                        revoked_at: None,
                                        tag: None,
                                    },
                                    &entry(),
                                )
                                .unwrap();
                        }
                    });
                }
            }
        });
        assert_eq!(a.audit_len().unwrap(), 800);
    }

    #[test]
    fn a_read_snapshot_sees_one_state_until_dropped_and_only_on_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.insert_persons(&[person("a", "ML-1")], &[]).unwrap();
        let snap = crate::read_snapshot(&s).unwrap();
        assert!(s.get_person("a").unwrap().is_some());
        // Nested: nothing to start, and dropping it does not end the outer one.
        drop(crate::read_snapshot(&s).unwrap());
        s.insert_persons(&[person("b", "ML-1")], &[]).unwrap();
        // Every kind of read of this thread keeps the state it started with.
        assert!(s.get_person("b").unwrap().is_none());
        assert_eq!(s.count_persons().unwrap(), 1);
        assert_eq!(
            s.list_persons(&ListScope::Agency("ML-1"), None, 10)
                .unwrap()
                .len(),
            1
        );
        // Another thread reads the current state.
        std::thread::scope(|t| {
            t.spawn(|| assert!(s.get_person("b").unwrap().is_some()));
        });
        drop(snap);
        assert!(s.get_person("b").unwrap().is_some());
        assert_eq!(s.count_persons().unwrap(), 2);
        // The connection went back to the pool outside any transaction.
        let c = s.pool.read().unwrap();
        assert!(c.is_autocommit());
    }

    fn unique() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(1);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn insert_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        assert!(s
            .insert_persons(&[person("a", "X"), person("a", "X")], &[entry()])
            .is_err());
        assert_eq!(s.count_persons().unwrap(), 0);
        assert_eq!(
            s.audit_len().unwrap(),
            0,
            "the audit entry went with the failed insert"
        );
    }

    #[test]
    fn a_corrupt_index_is_moved_aside_and_built_again_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.append_audit(&[entry(), entry()]).unwrap();
        wait_indexed(&s);
        drop(s);
        let file = dir.path().join(AUDIT_INDEX_FILE);
        std::fs::write(&file, vec![0x5Au8; 8192]).unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("{AUDIT_INDEX_FILE}{suffix}")));
        }
        let s =
            SqliteStore::open(dir.path()).expect("a corrupt index does not keep the store closed");
        assert!(dir
            .path()
            .join(format!("{AUDIT_INDEX_FILE}.corrupt"))
            .exists());
        wait_indexed(&s);
        assert_eq!(history_times(&s, "a", 10).len(), 2);
        let checked = s.check_audit_index(&mut |_, _| {}).unwrap();
        assert_eq!((checked.through, checked.first_difference), (2, None));
    }

    #[test]
    fn migrations_are_recorded_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        drop(SqliteStore::open(dir.path()).unwrap());
        let c = Connection::open(dir.path().join(VAULT_FILE)).unwrap();
        c.execute("INSERT INTO schema_migrations VALUES (99, 0)", [])
            .unwrap();
        drop(c);
        assert!(matches!(
            SqliteStore::open(dir.path()),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn destroyed_keys_leave_no_bytes_in_the_key_store_files() {
        let dir = tempfile::tempdir().unwrap();
        let k = SqliteKeyStore::open(dir.path()).unwrap();
        let secret = vec![0xA7u8; 60];
        k.put_keys(&[StoredKey {
            person: "p".into(),
            master_version: 1,
            wrapped: secret.clone(),
        }])
        .unwrap();
        k.put_keys(&[StoredKey {
            person: "q".into(),
            master_version: 1,
            wrapped: vec![1; 60],
        }])
        .unwrap();
        assert!(k.destroy_key("p").unwrap());
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()));
        }
        assert!(k.get_key("q").unwrap().is_some());
    }

    #[test]
    fn rewrap_does_not_resurrect_a_destroyed_key() {
        let dir = tempfile::tempdir().unwrap();
        let k = SqliteKeyStore::open(dir.path()).unwrap();
        k.put_keys(&[StoredKey {
            person: "p".into(),
            master_version: 1,
            wrapped: vec![1; 60],
        }])
        .unwrap();
        let batch = k.keys_below_version(2, 10).unwrap();
        k.destroy_key("p").unwrap();
        k.rewrap_keys(&[StoredKey {
            master_version: 2,
            ..batch[0].clone()
        }])
        .unwrap();
        assert!(k.get_key("p").unwrap().is_none());
        assert_eq!(k.count_below_version(2).unwrap(), 0);
    }
}
