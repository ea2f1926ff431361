//! No guessing: failed credential checks counted per client address and per principal, each
//! answer after a failure delayed more (doubling), and a lockout after at most ten failures in
//! the window (the CNIL's recommendation): the address refused until the lockout ends, the
//! principal suspended with an alert until an operator restores it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// The most failures a lockout may wait for (the CNIL recommends at most 10).
pub const LOCKOUT_AFTER_MAX: u32 = 10;

/// Most addresses and principals followed at once; past it, the oldest counts are dropped
/// first (every one of them older than the window goes first).
const TRACKED_MAX: usize = 100_000;

/// How failures are met.
#[derive(Debug, Clone)]
pub struct GuessPolicy {
    /// Failures in the window that lock (1 to 10).
    pub lockout_after: u32,
    /// The window failures are counted over (s).
    pub window_secs: i64,
    /// How long an address stays locked (s).
    pub lockout_secs: i64,
    /// The delay of the answer to a first failure; each further one doubles it.
    pub backoff_base: Duration,
    /// The longest delay.
    pub backoff_max: Duration,
    /// Lockouts and delays applied (`false`: failures are still recorded and counted, nothing
    /// is locked nor delayed; for testing tools that send bad credentials on purpose, never for
    /// real data).
    pub lockouts: bool,
}

impl Default for GuessPolicy {
    fn default() -> Self {
        GuessPolicy {
            lockout_after: LOCKOUT_AFTER_MAX,
            window_secs: 900,
            lockout_secs: 900,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            lockouts: true,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    first: i64,
    locked_until: Option<i64>,
}

/// What one more failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    /// The answer's delay.
    pub delay: Duration,
    /// The address is locked from now on, until this time.
    pub address_locked: Option<i64>,
    /// The principal reached the lockout: suspend it.
    pub principal_locked: bool,
    /// Failures counted for the address in the window.
    pub address_failures: u32,
    /// Failures counted for the principal in the window.
    pub principal_failures: u32,
}

/// The counts, in memory (one process; shared across nodes in a later version).
#[derive(Debug, Default)]
pub(crate) struct Guesses {
    pub(crate) policy: GuessPolicy,
    addresses: HashMap<IpAddr, Count>,
    principals: HashMap<String, Count>,
}

/// IPv6 clients are counted by /64 (one host holds a whole /64).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn bump<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Count>,
    k: &K,
    now: i64,
    window: i64,
) -> u32 {
    if map.len() >= TRACKED_MAX && !map.contains_key(k) {
        map.retain(|_, c| now - c.first < window || c.locked_until.is_some_and(|u| u > now));
        if map.len() >= TRACKED_MAX {
            // Still full: drop the oldest count rather than stop counting new ones.
            if let Some(oldest) = map
                .iter()
                .filter(|(_, c)| c.locked_until.is_none())
                .min_by_key(|(_, c)| c.first)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
    }
    let c = map.entry(k.clone()).or_insert(Count {
        failures: 0,
        first: now,
        locked_until: None,
    });
    if now - c.first >= window && c.locked_until.is_none_or(|u| u <= now) {
        *c = Count {
            failures: 0,
            first: now,
            locked_until: None,
        };
    }
    c.failures = c.failures.saturating_add(1);
    c.failures
}

impl Guesses {
    pub(crate) fn new(policy: GuessPolicy) -> Guesses {
        Guesses {
            policy: GuessPolicy {
                lockout_after: policy.lockout_after.clamp(1, LOCKOUT_AFTER_MAX),
                ..policy
            },
            ..Guesses::default()
        }
    }

    /// Until when `ip` is locked, if it is.
    pub(crate) fn locked(&self, ip: IpAddr, now: i64) -> Option<i64> {
        self.addresses
            .get(&key(ip))
            .and_then(|c| c.locked_until)
            .filter(|u| *u > now)
    }

    /// The delay before answering `ip` after its failures (none when it has none).
    pub(crate) fn delay(&self, ip: IpAddr, now: i64) -> Duration {
        let n = self
            .addresses
            .get(&key(ip))
            .filter(|c| now - c.first < self.policy.window_secs)
            .map_or(0, |c| c.failures);
        self.delay_for(n)
    }

    fn delay_for(&self, failures: u32) -> Duration {
        if failures == 0 || !self.policy.lockouts {
            return Duration::ZERO;
        }
        let factor = 1u32 << (failures - 1).min(16);
        self.policy
            .backoff_base
            .saturating_mul(factor)
            .min(self.policy.backoff_max)
    }

    /// Counts one failure from `ip` (if known) against `principal` (if the credential named
    /// one).
    pub(crate) fn fail(&mut self, ip: Option<IpAddr>, principal: Option<&str>, now: i64) -> Failed {
        let window = self.policy.window_secs;
        let limit = self.policy.lockout_after;
        let mut out = Failed {
            delay: Duration::ZERO,
            address_locked: None,
            principal_locked: false,
            address_failures: 0,
            principal_failures: 0,
        };
        if let Some(ip) = ip {
            let k = key(ip);
            let n = bump(&mut self.addresses, &k, now, window);
            out.address_failures = n;
            if n >= limit && self.policy.lockouts {
                if let Some(c) = self.addresses.get_mut(&k) {
                    if c.locked_until.is_none_or(|u| u <= now) {
                        let until = now + self.policy.lockout_secs;
                        c.locked_until = Some(until);
                        out.address_locked = Some(until);
                    }
                }
            }
        }
        if let Some(p) = principal {
            let k = p.to_ascii_lowercase();
            let n = bump(&mut self.principals, &k, now, window);
            out.principal_failures = n;
            if n == limit && self.policy.lockouts {
                out.principal_locked = true;
            }
        }
        out.delay = self.delay_for(out.address_failures.max(out.principal_failures));
        out
    }

    /// A principal restored by an operator starts counting afresh.
    pub(crate) fn forgive(&mut self, principal: &str) {
        self.principals.remove(&principal.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn the_tenth_failure_locks_the_address_and_the_principal() {
        let mut g = Guesses::new(GuessPolicy::default());
        let a = ip("192.0.2.7");
        for n in 1..10 {
            let f = g.fail(Some(a), Some("c.durand"), 100);
            assert_eq!(
                (f.address_locked, f.principal_locked),
                (None, false),
                "failure {n}"
            );
            assert!(g.locked(a, 100).is_none());
        }
        let f = g.fail(Some(a), Some("C.Durand"), 100);
        assert_eq!(f.address_locked, Some(1000));
        assert!(f.principal_locked);
        assert_eq!(g.locked(a, 999), Some(1000));
        assert_eq!(g.locked(a, 1000), None, "until the lockout ends");
        // The principal is reported once; its suspension holds it.
        assert!(
            !g.fail(Some(ip("198.51.100.1")), Some("c.durand"), 101)
                .principal_locked
        );
    }

    #[test]
    fn at_most_ten_whatever_is_configured() {
        let g = Guesses::new(GuessPolicy {
            lockout_after: 50,
            ..GuessPolicy::default()
        });
        assert_eq!(g.policy.lockout_after, 10);
    }

    #[test]
    fn failures_outside_the_window_start_again_and_delays_double() {
        let mut g = Guesses::new(GuessPolicy::default());
        let a = ip("2001:db8::1");
        assert_eq!(g.fail(Some(a), None, 0).delay, Duration::from_millis(250));
        assert_eq!(
            g.fail(Some(ip("2001:db8::2")), None, 1).delay,
            Duration::from_millis(500),
            "one /64"
        );
        assert_eq!(g.delay(a, 2), Duration::from_millis(500));
        assert_eq!(g.fail(Some(a), None, 2).delay, Duration::from_secs(1));
        assert_eq!(
            g.fail(Some(a), None, 2000).address_failures,
            1,
            "a new window"
        );
        for _ in 0..20 {
            g.fail(Some(ip("203.0.113.9")), None, 3000);
        }
        assert_eq!(g.delay(ip("203.0.113.9"), 3000), Duration::from_secs(8));
        assert_eq!(
            g.fail(Some(ip("::ffff:192.0.2.9")), None, 0)
                .address_failures,
            1
        );
        assert_eq!(
            g.fail(Some(ip("192.0.2.9")), None, 0).address_failures,
            2,
            "mapped is the v4 address"
        );
    }
}
