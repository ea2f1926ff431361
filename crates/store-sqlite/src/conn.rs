//! Connections: how each database is opened and set up, read transactions, and SQLite
//! errors turned into the store's.

use rempart_store::StoreError;
use rusqlite::Connection;

pub(crate) fn db(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::backend(context, source)
}

/// A read transaction on a reader connection, or nothing to begin when the connection is
/// already inside a transaction (a snapshot's).
pub(crate) struct ReadTx<'c> {
    conn: &'c Connection,
    began: bool,
}

impl<'c> ReadTx<'c> {
    pub(crate) fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        let began = conn.is_autocommit();
        if began {
            conn.execute_batch("BEGIN DEFERRED")?;
        }
        Ok(ReadTx { conn, began })
    }

    pub(crate) fn finish(mut self) -> rusqlite::Result<()> {
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
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Write transactions begin IMMEDIATE everywhere (`transaction_with_behavior`): the write lock
/// is taken at BEGIN, under the busy timeout, so that another process writing meanwhile (a CLI
/// command beside `rempart serve`) makes us wait instead of failing on a stale snapshot.
pub(crate) fn init_conn(c: &Connection) -> rusqlite::Result<()> {
    // 16 KiB pages hold several sealed files.
    init_db(c, 16384)
}

/// The audit log's pages are 4 KiB: a commit of a few entries writes its last page to the WAL
/// whole, and the log is read in order.
pub(crate) fn init_log(c: &Connection) -> rusqlite::Result<()> {
    init_db(c, 4096)
}

/// The index is derived from the log: its commits are not synced (WAL keeps it consistent).
pub(crate) fn init_index(c: &Connection) -> rusqlite::Result<()> {
    init_db(c, 4096)?;
    c.execute_batch("PRAGMA synchronous = NORMAL;")
}

/// The indexer keeps the current stretch of the index in its cache.
pub(crate) fn init_index_writer(c: &Connection) -> rusqlite::Result<()> {
    init_index(c)?;
    c.execute_batch("PRAGMA cache_size = -16384;")
}

/// `page_size` only takes effect on a new database.
pub(crate) fn init_db(c: &Connection, page_size: u32) -> rusqlite::Result<()> {
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
pub(crate) fn init_writer(c: &Connection) -> rusqlite::Result<()> {
    init_conn(c)?;
    c.execute_batch("PRAGMA cache_size = -131072;")
}

/// Whether `e` is SQLite reporting a corrupt file or one that is not a database.
pub(crate) fn is_corrupt(e: &StoreError) -> bool {
    match e {
        StoreError::Backend { source, .. } => source
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|c| {
                matches!(
                    c,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                )
            }),
        _ => false,
    }
}
