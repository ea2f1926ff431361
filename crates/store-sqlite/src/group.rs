//! Group commit of audit entries: requests hand their entries to one writer thread, which
//! commits everything waiting in a single transaction of `audit.db` (one fsync) and then
//! releases every request of the batch with the outcome. A request never returns before its
//! entry is durable. The same thread moves the entries of write acts from the outbox of
//! `vault.db` (where each act wrote them in its own transaction) into the log, ahead of the
//! batch, and deletes them from the outbox once they are in the log. Requests encode their
//! entries themselves. The writer reads the outbox only when a write act waits for it (or a
//! move failed, or when idle, for entries another process left). Under load it lets requests
//! gather for [`GATHER`] before committing.
//!
//! A second thread, the indexer, keeps the per-person index in `audit-index.db`: the writer
//! tells it the persons of what each commit appended, and it indexes them in batches, without
//! reading them back, so that the log's commits never wait behind indexing.

use crate::index::{index_pending, unindexed, Known};
use crate::outbox::{append_with_outbox, outbox_holds_after, prune_outbox, Appended, Encoded};
use crate::pool::Pool;
use rempart_audit::AuditEntry;
use rempart_store::{AuditTicket, StoreError, TicketSender};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 1024;

/// The nice value the writer thread asks for. Every request waits for the writer's commit, and
/// under load the writer otherwise waits its turn for a CPU behind the request threads at each
/// wake-up (after the gathering window, after the sync), which lengthens every batch.
pub(crate) const WRITER_NICE: i32 = -10;

/// Asks the scheduler to run the calling thread (the writer) at [`WRITER_NICE`]. Raising a
/// priority needs `CAP_SYS_NICE` or a high enough `RLIMIT_NICE` (systemd: `LimitNICE=-10`);
/// without them the writer runs at the normal priority, which is only slower under load.
fn prefer_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), WRITER_NICE) {
            tracing::info!(
                error = %std::io::Error::from(e),
                "the audit writer runs at the normal priority (raising it needs CAP_SYS_NICE or LimitNICE=-10); under load requests wait longer for the audit log"
            );
        }
    }
}

fn stopped() -> AuditTicket {
    AuditTicket::ready(Err(StoreError::Audit(
        "the audit writer has stopped".into(),
    )))
}

/// What a request hands the writer: its entries (encoded on the request's thread), whether the
/// outbox must be moved first (a write act waiting for its entries), and where to report.
struct Job {
    entries: Vec<Encoded>,
    drain: bool,
    slot: TicketSender,
}

/// The handle requests use; dropping it stops the writer thread and waits for it, so that
/// the database is closed when the store is.
pub(crate) struct GroupCommit {
    /// Shared by every request without a lock (a `Sender` is `Sync`).
    tx: Option<Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the writer tells the indexer after a commit.
enum Note {
    /// Entries `first, first + 1, …` were appended, naming these persons.
    Appended(i64, Vec<Vec<String>>),
    /// A commit failed: whether anything was appended is not certain.
    Unknown,
    /// The writer is idle: index whatever the log holds.
    Idle,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl GroupCommit {
    /// The writer of the log in `log`, which also drains the outbox of `vault`, and the
    /// indexer of `index`.
    pub(crate) fn start(log: Arc<Pool>, vault: Arc<Pool>, index: Arc<Pool>) -> GroupCommit {
        let (tx, rx) = channel::<Job>();
        let (notes, noted) = channel::<Note>();
        let reader = log.clone();
        // Without an indexer the history is still complete (the tail is scanned), only slower.
        let indexer = std::thread::Builder::new()
            .name("rempart-audit-indexer".into())
            .spawn(move || indexer(&index, &reader, noted))
            .map_err(|e| tracing::error!(error = %e, "the audit indexer could not start"))
            .ok();
        // If the thread cannot be started, every append reports it (fail closed).
        let thread = std::thread::Builder::new()
            .name("rempart-audit-writer".into())
            .spawn(move || {
                prefer_this_thread();
                writer(&log, &vault, rx, &notes);
                // The indexer stops once the writer's notes end.
                drop(notes);
                if let Some(t) = indexer {
                    let _ = t.join();
                }
            })
            .ok();
        let tx = thread.as_ref().map(|_| tx);
        GroupCommit { tx, thread }
    }

    /// Appends `entries` durably, together with whatever other requests are waiting.
    pub(crate) fn append(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.submit(entries).wait()
    }

    /// Waits until the outbox, as committed before this call, is in the log.
    pub(crate) fn drain(&self) -> Result<(), StoreError> {
        self.send(Vec::new(), true).wait()
    }

    /// Hands `entries` to the writer; the ticket completes once they are durable.
    pub(crate) fn submit(&self, entries: &[AuditEntry]) -> AuditTicket {
        self.send(entries.iter().map(Encoded::new).collect(), false)
    }

    fn send(&self, entries: Vec<Encoded>, drain: bool) -> AuditTicket {
        let Some(tx) = &self.tx else {
            return stopped();
        };
        let (ticket, slot) = AuditTicket::pending();
        match tx.send(Job {
            entries,
            drain,
            slot,
        }) {
            Ok(()) => ticket,
            Err(std::sync::mpsc::SendError(job)) => {
                job.slot
                    .complete(Err("the audit writer has stopped".into()));
                ticket
            }
        }
    }
}

/// Entries the writer lets wait before it tells the indexer (when idle, it tells at once):
/// sorted by person, a larger batch writes each index page fewer times, and the indexer is
/// woken once per batch.
const INDEX_BACKLOG: usize = 4096;
/// Most entries indexed in one transaction.
const INDEX_BATCH: usize = 50_000;

/// Indexes what waits (up to [`INDEX_BATCH`] entries, and not past entry `through` when
/// given); returns how many entries it indexed.
fn index(index: &Pool, log: &Pool, known: &mut Known, through: Option<i64>) -> usize {
    let done = (|| {
        let reader = log.read().map_err(|e| e.to_string())?;
        let mut w = index.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        // One snapshot of the log for its length and the entries read back.
        reader
            .execute_batch("BEGIN DEFERRED")
            .map_err(|e| e.to_string())?;
        let n = index_pending(&tx, &reader, INDEX_BATCH, through, known);
        let _ = reader.execute_batch("COMMIT");
        let n = n.map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok::<usize, String>(n)
    })();
    done.unwrap_or_else(|e| {
        // The index is derived data; the entries are safe. It is retried on the next round,
        // from the log itself.
        known.clear();
        tracing::error!(error = %e, "audit per-person indexing failed");
        0
    })
}

fn backlog(index: &Pool, log: &Pool) -> i64 {
    let (Ok(i), Ok(l)) = (index.read(), log.read()) else {
        return 0;
    };
    unindexed(&i, &l).unwrap_or(0)
}

/// The indexer thread: indexes what the writer's notes tell, without reading it back from the
/// log; when the writer is idle, whatever else the log holds (entries of other processes, or
/// of a commit whose outcome was unknown).
fn indexer(index_pool: &Pool, log: &Pool, rx: Receiver<Note>) {
    let mut known = Known::default();
    // Whether the note asks for everything the log holds.
    let apply = |known: &mut Known, note: Note| match note {
        Note::Appended(first, persons) => {
            known.extend(first, persons);
            false
        }
        Note::Unknown => {
            known.clear();
            false
        }
        Note::Idle => true,
    };
    loop {
        let Ok(note) = rx.recv() else { return };
        let mut idle = apply(&mut known, note);
        while let Ok(note) = rx.try_recv() {
            idle |= apply(&mut known, note);
        }
        if !idle {
            // Only what was told: what was appended since is told in a later note.
            if let Some(last) = known.last() {
                index(index_pool, log, &mut known, Some(last));
            }
            continue;
        }
        while backlog(index_pool, log) > 0 {
            if index(index_pool, log, &mut known, None) == 0 {
                break;
            }
            match rx.try_recv() {
                // New notes come first: they keep the known run whole.
                Ok(note) => {
                    apply(&mut known, note);
                    break;
                }
                // The store is closing: what is left is indexed at the next opening.
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
    }
}

/// Outbox rows moved into the log and not yet deleted, past which the writer deletes them
/// even under load (when idle, at once).
const PRUNE_BACKLOG: i64 = 1024;

/// The writer's view of the outbox: the last id moved into the log, the last one deleted, and
/// whether entries may wait there that no batch has moved (a move failed).
#[derive(Default)]
struct Outbox {
    moved: i64,
    pruned: i64,
    dirty: bool,
}

impl Outbox {
    fn prune(&mut self, vault: &Pool) {
        if self.moved > self.pruned {
            match prune_outbox(vault, self.moved) {
                Ok(true) => self.pruned = self.moved,
                // vault.db is being written: next round.
                Ok(false) => {}
                // The rows are in the log already; deleting them is retried.
                Err(e) => tracing::error!(error = %e, "pruning the audit outbox failed"),
            }
        }
    }
}

/// How long the persons of appended entries may wait in the writer before it tells the
/// indexer, when fewer than [`INDEX_BACKLOG`] entries wait.
const NOTE_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// The persons of entries `first, first + 1, …` appended and not yet told to the indexer.
struct Untold {
    first: i64,
    persons: Vec<Vec<String>>,
    since: std::time::Instant,
}

/// The writer's state between batches.
struct Writer<'a> {
    outbox: Outbox,
    /// Where the persons of what is appended go: one note per [`INDEX_BACKLOG`] entries (or
    /// after [`NOTE_DELAY`], or when idle), not one per commit, which would wake the indexer
    /// at every commit.
    notes: &'a Sender<Note>,
    untold: Option<Untold>,
}

impl Writer<'_> {
    /// Entries `first, …` were appended, naming `persons`.
    fn appended(&mut self, first: i64, persons: Vec<Vec<String>>) {
        match &mut self.untold {
            Some(u) if u.first + u.persons.len() as i64 == first => u.persons.extend(persons),
            _ => {
                self.tell();
                self.untold = Some(Untold {
                    first,
                    persons,
                    since: std::time::Instant::now(),
                });
            }
        }
        if self
            .untold
            .as_ref()
            .is_some_and(|u| u.persons.len() >= INDEX_BACKLOG || u.since.elapsed() >= NOTE_DELAY)
        {
            self.tell();
        }
    }

    /// Tells the indexer what it was not told yet.
    fn tell(&mut self) {
        if let Some(u) = self.untold.take() {
            // A stopped indexer leaves the index behind; the history scans the tail.
            let _ = self.notes.send(Note::Appended(u.first, u.persons));
        }
    }

    /// One transaction of the log: the outbox's new entries (when `drain`, or when a move
    /// failed before), then `entries`.
    fn commit(
        &mut self,
        log: &Pool,
        vault: &Pool,
        entries: Vec<Encoded>,
        drain: bool,
    ) -> Result<(), String> {
        let drain = drain || self.outbox.dirty;
        let done = (|| {
            let mut w = log.write();
            let tx = w
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| e.to_string())?;
            let appended =
                append_with_outbox(&tx, vault, &entries, drain).map_err(|e| e.to_string())?;
            tx.commit().map_err(|e| e.to_string())?;
            Ok::<Appended, String>(appended)
        })();
        match done {
            Ok(a) => {
                if let Some(through) = a.outbox_through {
                    self.outbox.moved = through;
                    self.outbox.dirty = false;
                }
                if let Some(first) = a.first {
                    let mut persons = a.moved_persons;
                    persons.extend(entries.into_iter().map(|e| e.persons));
                    self.appended(first, persons);
                }
                Ok(())
            }
            Err(e) => {
                if drain {
                    self.outbox.dirty = true;
                }
                // Whether anything was appended is not certain: index from the log itself.
                self.tell();
                let _ = self.notes.send(Note::Unknown);
                Err(e)
            }
        }
    }

    /// Between batches, when nothing came: entries another process left in the outbox, the
    /// outbox's moved rows.
    fn idle(&mut self, log: &Pool, vault: &Pool) {
        let waiting =
            self.outbox.dirty || outbox_holds_after(vault, self.outbox.moved).unwrap_or(true);
        if waiting {
            if let Err(e) = self.commit(log, vault, Vec::new(), true) {
                tracing::error!(error = %e, "moving the audit outbox failed");
            }
        }
        self.outbox.prune(vault);
        self.tell();
        let _ = self.notes.send(Note::Idle);
    }
}

/// Under load (the last batch held two requests or more), how long the writer lets requests
/// gather before it commits, unless [`GATHER_ENOUGH`] entries already wait: fewer, larger
/// commits cost less CPU per entry (one fsync each), for at most this much more latency. Idle,
/// a request is committed at once.
const GATHER: std::time::Duration = std::time::Duration::from_micros(300);

/// Entries past which the writer commits without gathering more.
const GATHER_ENOUGH: usize = 32;

/// Moves the jobs waiting in `rx` into `jobs`, while their entries number fewer than `max`.
fn take_waiting(rx: &Receiver<Job>, jobs: &mut Vec<Job>, count: &mut usize, max: usize) {
    while *count < max {
        match rx.try_recv() {
            Ok(j) => {
                *count += j.entries.len();
                jobs.push(j);
            }
            Err(_) => break,
        }
    }
}

fn writer(pool: &Pool, vault: &Pool, rx: Receiver<Job>, notes: &Sender<Note>) {
    let mut state = Writer {
        outbox: Outbox::default(),
        notes,
        untold: None,
    };
    let mut loaded = false;
    loop {
        let first = match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(j) => j,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                state.idle(pool, vault);
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                state.tell();
                state.outbox.prune(vault);
                return;
            }
        };
        let mut count = first.entries.len();
        let mut jobs = vec![first];
        take_waiting(&rx, &mut jobs, &mut count, MAX_BATCH);
        // A batch already large enough (requests piled up behind a slow commit) goes at once.
        if loaded && count < GATHER_ENOUGH {
            std::thread::sleep(GATHER);
            take_waiting(&rx, &mut jobs, &mut count, MAX_BATCH);
        }
        loaded = jobs.len() >= 2;
        let drain = jobs.iter().any(|j| j.drain);
        let mut entries = Vec::with_capacity(count);
        let mut slots = Vec::with_capacity(jobs.len());
        for j in jobs {
            entries.extend(j.entries);
            slots.push(j.slot);
        }
        let result = state.commit(pool, vault, entries, drain);
        for slot in slots {
            slot.complete(result.clone());
        }
        if state.outbox.moved - state.outbox.pruned >= PRUNE_BACKLOG {
            state.outbox.prune(vault);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(rx: &Receiver<Note>) -> Vec<(i64, usize)> {
        rx.try_iter()
            .map(|n| match n {
                Note::Appended(first, persons) => (first, persons.len()),
                Note::Unknown => (-1, 0),
                Note::Idle => (0, 0),
            })
            .collect()
    }

    #[test]
    fn the_indexer_is_told_once_per_backlog_not_at_every_commit() {
        let (notes, rx) = channel();
        let mut w = Writer {
            outbox: Outbox::default(),
            notes: &notes,
            untold: None,
        };
        let persons = |n: usize| vec![vec!["p".to_string()]; n];
        w.appended(1, persons(10));
        w.appended(11, persons(10));
        assert_eq!(told(&rx), [], "20 entries wait in the writer");
        w.appended(21, persons(INDEX_BACKLOG - 20));
        assert_eq!(
            told(&rx),
            [(1, INDEX_BACKLOG)],
            "one note for the whole run"
        );
        // Another process appended entry 4097: the run breaks, what came before is told.
        w.appended(INDEX_BACKLOG as i64 + 1, persons(5));
        w.appended(INDEX_BACKLOG as i64 + 7, persons(5));
        assert_eq!(told(&rx), [(INDEX_BACKLOG as i64 + 1, 5)]);
        // A run older than NOTE_DELAY is told at the next commit.
        let u = w.untold.as_mut().unwrap();
        u.since = u.since.checked_sub(NOTE_DELAY).unwrap();
        w.appended(INDEX_BACKLOG as i64 + 12, persons(1));
        assert_eq!(told(&rx), [(INDEX_BACKLOG as i64 + 7, 6)]);
        w.tell();
        assert_eq!(told(&rx), [], "nothing left untold");
    }

    /// The nice values of this process's audit writer threads, from `/proc`.
    #[cfg(target_os = "linux")]
    fn writer_nice_values() -> Vec<i32> {
        let mut out = Vec::new();
        for t in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = t.unwrap().path();
            let (Ok(comm), Ok(stat)) = (
                std::fs::read_to_string(dir.join("comm")),
                std::fs::read_to_string(dir.join("stat")),
            ) else {
                continue; // the thread ended meanwhile
            };
            if comm.trim() == "rempart-audit-w" {
                // Fields after the command's closing parenthesis start at the 3rd (state);
                // the nice value is the 19th.
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .unwrap()
                    .1
                    .split_whitespace()
                    .collect();
                out.push(fields[16].parse().unwrap());
            }
        }
        out
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_writer_thread_asks_to_run_before_the_request_threads() {
        use rustix::{process, thread};
        let inherited = process::getpriority_process(Some(thread::gettid())).unwrap();
        // Whether this process may raise a thread's priority (root or CAP_SYS_NICE may).
        let allowed = std::thread::spawn(|| {
            process::setpriority_process(Some(thread::gettid()), WRITER_NICE).is_ok()
        })
        .join()
        .unwrap();
        let expected = if allowed { WRITER_NICE } else { inherited };
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            // A thread names itself once started: the store's may not have yet.
            let nice = writer_nice_values();
            if !nice.is_empty() && nice.iter().all(|n| *n == expected) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "writer threads at {nice:?}, expected {expected}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            process::getpriority_process(Some(thread::gettid())).unwrap(),
            inherited,
            "only the writer thread changes priority"
        );
        drop(store);
    }
}
