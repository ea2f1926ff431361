//! A small connection pool: SQLite connections are cheap but not `Sync`; readers take one
//! from the pool, the single writer is behind its own mutex (SQLite allows one writer).

use rusqlite::Connection;
use std::cell::RefCell;
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
    /// Taken from this thread's snapshot, and given back to it.
    pinned: bool,
}

thread_local! {
    /// The reader connection of this thread's snapshot, inside its read transaction, and the
    /// pool it belongs to (by address).
    static PINNED: RefCell<Option<(usize, Connection)>> = const { RefCell::new(None) };
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
            if self.pinned {
                let id = self.pool.id();
                PINNED.with(|p| *p.borrow_mut() = Some((id, c)));
                return;
            }
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

    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// This thread's snapshot connection, if it belongs to this pool.
    fn take_pinned(&self) -> Option<Connection> {
        let id = self.id();
        PINNED.with(|p| {
            let mut p = p.borrow_mut();
            match p.as_ref() {
                Some((owner, _)) if *owner == id => p.take().map(|(_, c)| c),
                _ => None,
            }
        })
    }

    /// Starts this thread's snapshot: until [`Pool::unpin`], every `read()` of this thread
    /// gets the same connection inside one read transaction. Nested calls are no-ops (false).
    pub(crate) fn pin(&self) -> rusqlite::Result<bool> {
        if PINNED.with(|p| p.borrow().is_some()) {
            return Ok(false);
        }
        let mut r = self.read()?;
        let c = r
            .conn
            .take()
            .unwrap_or_else(|| unreachable!("present until drop"));
        // The snapshot is taken by the first read, not here: nothing is read in between.
        if let Err(e) = c.execute_batch("BEGIN DEFERRED") {
            self.give_back(c);
            return Err(e);
        }
        let id = self.id();
        PINNED.with(|p| *p.borrow_mut() = Some((id, c)));
        Ok(true)
    }

    /// Ends this thread's snapshot of this pool, if it has one.
    pub(crate) fn unpin(&self) {
        if let Some(c) = self.take_pinned() {
            // A read transaction has nothing to keep; a connection that cannot end it is
            // dropped rather than handed back inside a transaction.
            if c.execute_batch("ROLLBACK").is_ok() && c.is_autocommit() {
                self.give_back(c);
            }
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
        if let Some(c) = self.take_pinned() {
            return Ok(Pooled {
                pool: self,
                conn: Some(c),
                pinned: true,
            });
        }
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
            pinned: false,
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
