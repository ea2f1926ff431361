//! Group commit of audit entries on one node: requests hand their entries to one writer
//! thread, which appends everything waiting in a single transaction (one lock of the
//! sequencer, one commit, one wait for the replica) and then releases every request of the
//! batch with the outcome. A request never returns before its entry is durable.

use crate::db::{in_tx, Tx};
use crate::log::{append_in, Encoded};
use crate::pool::Pool;
use rempart_audit::AuditEntry;
use rempart_store::{AuditTicket, StoreError, TicketSender};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 1024;

struct Job {
    entries: Vec<Encoded>,
    slot: TicketSender,
}

/// The handle requests use; dropping it stops the writer thread and waits for it.
pub(crate) struct GroupCommit {
    tx: Option<Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl GroupCommit {
    pub(crate) fn start(pool: Arc<Pool>) -> GroupCommit {
        let (tx, rx) = channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("rempart-audit-writer".into())
            .spawn(move || writer(&pool, &rx))
            .ok();
        if thread.is_none() {
            tracing::error!("the audit writer thread could not be started");
        }
        GroupCommit {
            tx: thread.as_ref().map(|_| tx),
            thread,
        }
    }

    /// Hands `entries` to the writer; the ticket completes once they are committed.
    pub(crate) fn submit(&self, entries: &[AuditEntry]) -> AuditTicket {
        if entries.is_empty() {
            return AuditTicket::ready(Ok(()));
        }
        let Some(tx) = &self.tx else {
            return AuditTicket::ready(Err(StoreError::Audit(
                "the audit writer has stopped".into(),
            )));
        };
        let (ticket, slot) = AuditTicket::pending();
        let job = Job {
            entries: entries.iter().map(Encoded::new).collect(),
            slot,
        };
        // A send fails only if the writer is gone: the slot, dropped with the job, fails the
        // ticket.
        let _ = tx.send(job);
        ticket
    }
}

fn writer(pool: &Pool, rx: &Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut count = jobs[0].entries.len();
        while count < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    count += j.entries.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let outcome = in_tx(pool, "append audit entries", |tx: &mut Tx<'_>| {
            let all: Vec<Encoded> = jobs
                .iter_mut()
                .flat_map(|j| std::mem::take(&mut j.entries))
                .collect();
            append_in(tx, &all).map(|_| ())
        });
        let reported = outcome.map_err(|e| {
            tracing::error!(error = %e, "audit entries could not be committed");
            e.to_string()
        });
        for j in jobs {
            j.slot.complete(reported.clone());
        }
    }
}
