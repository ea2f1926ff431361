//! Turns: within one node, the transactions on one key take turns, so that a key many threads
//! of the node update at once (an agency's part) meets the other nodes' changes, not its own
//! node's, and its retries stay few. Only fewer conflicts ride on this, never correctness
//! (`WATCH` gives that): a thread that waited [`Turns::take`]'s bound goes ahead anyway, so
//! that a Redis which stopped answering does not queue a node's threads behind each other.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys are spread over this many turns (two keys may share one: they then take turns too).
const STRIPES: usize = 64;

struct Stripe {
    busy: Mutex<bool>,
    freed: Condvar,
}

/// The turns of one node.
pub(crate) struct Turns {
    stripes: Vec<Stripe>,
    hasher: RandomState,
}

/// A turn held until dropped (or no turn, when the wait ran out).
pub(crate) struct Turn<'a>(Option<&'a Stripe>);

impl Turns {
    pub(crate) fn new() -> Turns {
        Turns {
            stripes: (0..STRIPES)
                .map(|_| Stripe {
                    busy: Mutex::new(false),
                    freed: Condvar::new(),
                })
                .collect(),
            hasher: RandomState::new(),
        }
    }

    /// Waits for `key`'s turn, at most `wait`.
    pub(crate) fn take(&self, key: &str, wait: Duration) -> Turn<'_> {
        let i = (self.hasher.hash_one(key) % STRIPES as u64) as usize;
        let Some(stripe) = self.stripes.get(i) else {
            return Turn(None);
        };
        let deadline = Instant::now() + wait;
        let mut busy = stripe.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while *busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Turn(None);
            }
            busy = stripe
                .freed
                .wait_timeout(busy, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *busy = true;
        Turn(Some(stripe))
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(stripe) = self.0 {
            *stripe.busy.lock().unwrap_or_else(PoisonError::into_inner) = false;
            stripe.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_turn_at_a_time_and_a_bounded_wait() {
        let turns = Turns::new();
        let first = turns.take("k", Duration::from_secs(1));
        assert!(first.0.is_some());
        let start = Instant::now();
        let late = turns.take("k", Duration::from_millis(50));
        assert!(late.0.is_none(), "went ahead without the turn");
        assert!(start.elapsed() >= Duration::from_millis(50));
        drop(late);
        drop(first);
        assert!(turns.take("k", Duration::ZERO).0.is_some());
    }
}
