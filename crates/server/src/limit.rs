//! Rate limits per client address, for the public endpoints (no token, so no principal to
//! count): each address has two token buckets, one of `per_minute` tokens refilled at that
//! many a minute and one of `per_day` tokens refilled at that many a day; an attempt takes a
//! token from both or is refused with the seconds until both have one. So a burst of
//! `per_minute` attempts is allowed at once, then one every `60 / per_minute` seconds, and at
//! most `per_day` in a burst over a day, then one every `86400 / per_day` seconds.
//!
//! An address is the connection's peer address (as [`crate::api`] reads it for the audit log),
//! IPv4 whole and IPv6 by its /64 (one subscriber's network: an attacker given a /64 does not
//! get 2^64 budgets). Memory is bounded: at most `max_clients` addresses are tracked. An
//! address whose buckets are full again is forgotten (it is as if new); when the table is full
//! of addresses still being counted, a new address is refused rather than one being forgotten
//! early, so that flooding the table from many addresses never resets anyone's count: at worst
//! it denies new addresses for a while, which is refused, never let through.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Attempts allowed per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Per minute (the minute bucket's size).
    pub per_minute: u32,
    /// Per day (the day bucket's size).
    pub per_day: u32,
    /// Most addresses tracked at once.
    pub max_clients: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: 10,
            per_day: 100,
            max_clients: 100_000,
        }
    }
}

/// What the limiter decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead (a token was taken).
    Allow,
    /// Refused: retry after this many seconds.
    Refuse {
        /// Seconds until an attempt would be allowed.
        retry_after: u64,
    },
}

/// An address as counted: IPv4 whole, IPv6 by its first 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(u32),
    V6(u64),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(a) => Client::V4(a.into()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.into()),
                None => Client::V6((u128::from(a) >> 64) as u64),
            },
        }
    }
}

/// A token bucket: `tokens` at `at`, refilled at `size` per `period`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(size: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(size),
            at: now,
        }
    }

    /// The bucket refilled up to `now`.
    fn refill(&mut self, size: u32, period: Duration, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let rate = f64::from(size) / period.as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(size));
        self.at = now;
    }

    /// Seconds until it holds a whole token (0 when it does).
    fn wait(&self, size: u32, period: Duration) -> u64 {
        if self.tokens >= 1.0 {
            return 0;
        }
        let rate = f64::from(size) / period.as_secs_f64();
        ((1.0 - self.tokens) / rate).ceil().max(1.0) as u64
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// An address's two buckets.
#[derive(Debug, Clone, Copy)]
struct Windows {
    minute: Bucket,
    day: Bucket,
}

/// Seconds a new address waits when the table is full of addresses still counted.
const FULL_RETRY: u64 = 60;
/// Least time between two sweeps of the table for forgettable addresses.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Table {
    clients: HashMap<Client, Windows>,
    swept: Option<Instant>,
}

/// Rate limits per client address ([`RateLimit`]); shared by the requests of one endpoint.
pub struct Limiter {
    limit: RateLimit,
    table: Mutex<Table>,
    refused: AtomicU64,
}

impl Limiter {
    /// A limiter with `limit` (sizes of 0 are taken as 1: a limit allows something).
    pub fn new(limit: RateLimit) -> Limiter {
        let limit = RateLimit {
            per_minute: limit.per_minute.max(1),
            per_day: limit.per_day.max(1),
            max_clients: limit.max_clients.max(1),
        };
        Limiter {
            limit,
            table: Mutex::new(Table {
                clients: HashMap::new(),
                swept: None,
            }),
            refused: AtomicU64::new(0),
        }
    }

    /// Attempts refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// An attempt from `ip` now.
    pub fn check(&self, ip: IpAddr) -> Decision {
        self.check_at(ip, Instant::now())
    }

    /// An attempt from `ip` at `now` (times given in order).
    pub fn check_at(&self, ip: IpAddr, now: Instant) -> Decision {
        let d = self.decide(Client::from(ip), now);
        if d != Decision::Allow {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        d
    }

    fn decide(&self, client: Client, now: Instant) -> Decision {
        let RateLimit {
            per_minute,
            per_day,
            max_clients,
        } = self.limit;
        let mut t = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if !t.clients.contains_key(&client) && t.clients.len() >= max_clients {
            self.sweep(&mut t, now);
            if t.clients.len() >= max_clients {
                return Decision::Refuse {
                    retry_after: FULL_RETRY,
                };
            }
        }
        let w = t.clients.entry(client).or_insert_with(|| Windows {
            minute: Bucket::full(per_minute, now),
            day: Bucket::full(per_day, now),
        });
        w.minute.refill(per_minute, MINUTE, now);
        w.day.refill(per_day, DAY, now);
        let wait = w
            .minute
            .wait(per_minute, MINUTE)
            .max(w.day.wait(per_day, DAY));
        if wait > 0 {
            return Decision::Refuse { retry_after: wait };
        }
        w.minute.tokens -= 1.0;
        w.day.tokens -= 1.0;
        Decision::Allow
    }

    /// Forgets the addresses whose buckets are full again (as if they had never come), at most
    /// once per [`SWEEP_EVERY`]: a table full of active addresses is not swept at every request.
    fn sweep(&self, t: &mut Table, now: Instant) {
        if t.swept
            .is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY)
        {
            return;
        }
        t.swept = Some(now);
        let RateLimit {
            per_minute,
            per_day,
            ..
        } = self.limit;
        t.clients.retain(|_, w| {
            let (mut m, mut d) = (w.minute, w.day);
            m.refill(per_minute, MINUTE, now);
            d.refill(per_day, DAY, now);
            m.tokens < f64::from(per_minute) || d.tokens < f64::from(per_day)
        });
    }

    /// Addresses tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clients
            .len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_eleventh_attempt_in_a_minute_is_refused_and_another_address_is_not() {
        let l = Limiter::new(RateLimit::default());
        let t0 = Instant::now();
        for n in 0..10 {
            let at = t0 + Duration::from_millis(100 * n);
            assert_eq!(l.check_at(ip("192.0.2.1"), at), Decision::Allow, "{n}");
        }
        let at = t0 + Duration::from_secs(1);
        match l.check_at(ip("192.0.2.1"), at) {
            Decision::Refuse { retry_after } => assert!((1..=6).contains(&retry_after)),
            Decision::Allow => panic!("the eleventh attempt was allowed"),
        }
        assert_eq!(l.check_at(ip("192.0.2.2"), at), Decision::Allow);
        assert_eq!(l.refused(), 1);
        // A minute on, the bucket has refilled.
        let later = t0 + Duration::from_secs(75);
        assert_eq!(l.check_at(ip("192.0.2.1"), later), Decision::Allow);
    }

    #[test]
    fn the_day_limit_holds_across_minutes() {
        let l = Limiter::new(RateLimit {
            per_minute: 10,
            per_day: 25,
            max_clients: 10,
        });
        let t0 = Instant::now();
        let mut allowed = 0;
        // One attempt every 6 s for an hour: the minute bucket always has room.
        for n in 0..600u64 {
            if l.check_at(ip("192.0.2.1"), t0 + Duration::from_secs(6 * n)) == Decision::Allow {
                allowed += 1;
            }
        }
        // 25 at once, then one every 86400 / 25 s: one more in the hour.
        assert_eq!(allowed, 26);
        match l.check_at(ip("192.0.2.1"), t0 + Duration::from_secs(3_600)) {
            Decision::Refuse { retry_after } => assert!(retry_after > 60, "{retry_after}"),
            Decision::Allow => panic!("allowed past the day limit"),
        }
    }

    #[test]
    fn an_ipv6_network_counts_as_one_address_and_mapped_ipv4_as_itself() {
        let l = Limiter::new(RateLimit {
            per_minute: 2,
            per_day: 100,
            max_clients: 10,
        });
        let t = Instant::now();
        assert_eq!(l.check_at(ip("2001:db8:1:2::1"), t), Decision::Allow);
        assert_eq!(l.check_at(ip("2001:db8:1:2:ffff::9"), t), Decision::Allow);
        assert_ne!(l.check_at(ip("2001:db8:1:2:abcd::"), t), Decision::Allow);
        assert_eq!(l.check_at(ip("2001:db8:1:3::1"), t), Decision::Allow);
        assert_eq!(l.check_at(ip("192.0.2.7"), t), Decision::Allow);
        assert_eq!(l.check_at(ip("::ffff:192.0.2.7"), t), Decision::Allow);
        assert_ne!(l.check_at(ip("192.0.2.7"), t), Decision::Allow);
    }

    #[test]
    fn a_full_table_refuses_new_addresses_and_never_forgets_a_counted_one() {
        let l = Limiter::new(RateLimit {
            per_minute: 1,
            per_day: 100,
            max_clients: 3,
        });
        let t0 = Instant::now();
        assert_eq!(l.check_at(ip("192.0.2.1"), t0), Decision::Allow);
        assert_ne!(l.check_at(ip("192.0.2.1"), t0), Decision::Allow);
        // The flood fills the table...
        assert_eq!(l.check_at(ip("198.51.100.1"), t0), Decision::Allow);
        assert_eq!(l.check_at(ip("198.51.100.2"), t0), Decision::Allow);
        assert_eq!(
            l.check_at(ip("198.51.100.3"), t0),
            Decision::Refuse {
                retry_after: FULL_RETRY
            }
        );
        assert_eq!(l.tracked(), 3);
        // ...but the first address is still counted, not forgotten to make room.
        assert_ne!(
            l.check_at(ip("192.0.2.1"), t0 + Duration::from_secs(5)),
            Decision::Allow
        );
        // Once an address's buckets are full again, it is forgotten and a new one fits.
        let day_on = t0 + DAY;
        assert_eq!(l.check_at(ip("198.51.100.3"), day_on), Decision::Allow);
        assert_eq!(l.tracked(), 1);
    }
}
