//! A small connection pool: SQLite connections are cheap but not `Sync`; readers take one
//! from the pool, the single writer is behind its own mutex (SQLite allows one writer).

use rusqlite::Connection;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) struct Pool {
    path: PathBuf,
    init: fn(&Connection) -> rusqlite::Result<()>,
    idle: Mutex<Vec<Connection>>,
    writer: Mutex<Connection>,
}

pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl Pooled<'_> {
    /// Closes the connection instead of handing it back (one left inside a transaction).
    pub(crate) fn discard(mut self) {
        self.conn = None;
    }
}

impl Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("present until drop"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.give_back(c);
        }
    }
}

impl Pool {
    fn give_back(&self, c: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < 32 {
            idle.push(c);
        }
    }
}

pub(crate) struct Writer<'a>(MutexGuard<'a, Connection>);

impl Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0
    }
}
impl DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

impl Pool {
    pub(crate) fn new(
        path: PathBuf,
        init: fn(&Connection) -> rusqlite::Result<()>,
        init_writer: fn(&Connection) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<Pool> {
        let writer = Connection::open(&path)?;
        init_writer(&writer)?;
        Ok(Pool {
            path,
            init,
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(writer),
        })
    }

    pub(crate) fn read(&self) -> rusqlite::Result<Pooled<'_>> {
        let existing = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match existing {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                (self.init)(&c)?;
                c
            }
        };
        Ok(Pooled {
            pool: self,
            conn: Some(conn),
        })
    }

    pub(crate) fn write(&self) -> Writer<'_> {
        Writer(self.writer.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The writer, unless another thread of this process holds it.
    pub(crate) fn try_write(&self) -> Option<Writer<'_>> {
        match self.writer.try_lock() {
            Ok(g) => Some(Writer(g)),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(Writer(p.into_inner())),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}
