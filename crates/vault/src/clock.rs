//! The clock, injected so that expiry and date validation can be tested.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the vault reads the time.
pub trait Clock: Send + Sync {
    /// Now, Unix seconds.
    fn now(&self) -> i64;
    /// Today's date (UTC).
    fn today(&self) -> NaiveDate {
        DateTime::<Utc>::from_timestamp(self.now(), 0)
            .unwrap_or_default()
            .date_naive()
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        Utc::now().timestamp()
    }
}

/// A clock that says what it is told, for tests.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock at `t` (Unix seconds).
    pub fn at(t: i64) -> Self {
        FixedClock(AtomicI64::new(t))
    }
    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
