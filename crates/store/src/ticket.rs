//! The promise that audit entries handed to a log are durable ([`AuditTicket`]), and the half
//! a backend keeps to fulfil it ([`TicketSender`]).

use crate::StoreError;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Where the writer reports one request's outcome, to a thread blocked in [`Slot::wait`] or a
/// task awaiting its ticket.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    cv: Condvar,
}

#[derive(Default)]
struct SlotState {
    done: Option<Result<(), String>>,
    /// The task to wake, when the ticket is awaited.
    waker: Option<std::task::Waker>,
    /// Whether a thread waits on the condition variable (notifying costs a system call, which
    /// the writer saves for awaited tickets).
    sleeping: bool,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn complete(&self, r: Result<(), String>) {
        let (sleeping, waker) = {
            let mut g = self.lock();
            g.done = Some(r);
            (g.sleeping, g.waker.take())
        };
        if sleeping {
            self.cv.notify_one();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(&self) -> Result<(), String> {
        let mut g = self.lock();
        loop {
            if let Some(r) = g.done.take() {
                return r;
            }
            g.sleeping = true;
            g = self.cv.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The outcome if it is known; otherwise `waker` is woken once it is.
    fn poll(&self, waker: &std::task::Waker) -> Option<Result<(), String>> {
        let mut g = self.lock();
        let done = g.done.take();
        if done.is_none() && !g.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            g.waker = Some(waker.clone());
        }
        done
    }
}

/// The backend's half of a pending [`AuditTicket`]: reports the outcome once the entries are
/// durable (or failed). Dropped without reporting, the ticket fails.
pub struct TicketSender(Option<Arc<Slot>>);

impl std::fmt::Debug for TicketSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketSender")
    }
}

impl TicketSender {
    /// Reports the outcome (`Err` with a message naming the failure, never a stored value).
    pub fn complete(mut self, r: Result<(), String>) {
        if let Some(slot) = self.0.take() {
            slot.complete(r);
        }
    }
}

impl Drop for TicketSender {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.complete(Err("the audit writer dropped the entries".into()));
        }
    }
}

enum Ticket {
    Ready(Option<Result<(), StoreError>>),
    Pending(Arc<Slot>),
}

/// The promise that audit entries handed over are (or failed to be) durable: wait for it on a
/// thread, or `.await` it without holding one. Whatever it guards must not be released before
/// it completes with `Ok`.
#[must_use = "the act is allowed only once its audit entry is durable"]
pub struct AuditTicket(Ticket);

impl std::fmt::Debug for AuditTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditTicket")
    }
}

impl AuditTicket {
    /// A ticket still open, and the sender that completes it.
    pub fn pending() -> (AuditTicket, TicketSender) {
        let slot = Arc::new(Slot::default());
        (
            AuditTicket(Ticket::Pending(slot.clone())),
            TicketSender(Some(slot)),
        )
    }

    /// A ticket already decided (stores without group commit).
    pub fn ready(r: Result<(), StoreError>) -> AuditTicket {
        AuditTicket(Ticket::Ready(Some(r)))
    }

    /// Blocks until the entries are durable.
    pub fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            Ticket::Ready(r) => r.unwrap_or(Ok(())),
            Ticket::Pending(slot) => slot.wait().map_err(StoreError::Audit),
        }
    }
}

impl std::future::Future for AuditTicket {
    type Output = Result<(), StoreError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.0 {
            Ticket::Ready(r) => std::task::Poll::Ready(r.take().unwrap_or(Ok(()))),
            Ticket::Pending(slot) => match slot.poll(cx.waker()) {
                Some(r) => std::task::Poll::Ready(r.map_err(StoreError::Audit)),
                None => std::task::Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Flag(AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_blocked_thread_and_an_awaiting_task_both_learn_the_outcome() {
        let slot = Arc::new(Slot::default());
        let waiting = slot.clone();
        let t = std::thread::spawn(move || waiting.wait());
        while !slot.lock().sleeping {
            std::thread::yield_now();
        }
        slot.complete(Err("refused".into()));
        assert_eq!(t.join().unwrap(), Err("refused".into()));

        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = std::task::Waker::from(flag.clone());
        let slot = Slot::default();
        assert_eq!(slot.poll(&waker), None);
        assert!(!flag.0.load(Ordering::SeqCst));
        slot.complete(Ok(()));
        assert!(flag.0.load(Ordering::SeqCst), "the task is woken");
        assert_eq!(slot.poll(&waker), Some(Ok(())));
    }

    #[test]
    fn a_sender_dropped_without_an_outcome_fails_the_ticket() {
        let (ticket, sender) = AuditTicket::pending();
        drop(sender);
        assert!(matches!(ticket.wait(), Err(StoreError::Audit(_))));
        let (ticket, sender) = AuditTicket::pending();
        sender.complete(Ok(()));
        assert!(ticket.wait().is_ok());
    }
}
