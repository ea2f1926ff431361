//! No guessing: failed credential checks counted per client address and per principal, each
//! answer after a failure delayed more (doubling), and a lockout after at most ten failures in
//! the window (the CNIL's recommendation): the address refused until the lockout ends, the
//! principal suspended with an alert until an operator restores it.

use rempart_store::{SharedGuard, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
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

/// Failures counted for one address or principal: as kept in this process, and as shared
/// with the other nodes (JSON).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Count {
    failures: u32,
    first: i64,
    locked_until: Option<i64>,
    /// For a principal: its suspension was raised in this window (marked once it was), so
    /// that it is raised once, at the limit or past it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    reported: bool,
}

impl Count {
    /// One more failure at `now`, after `before` (none, or a count that may have run out).
    fn bumped(before: Option<Count>, now: i64, window: i64) -> Count {
        let fresh = Count {
            failures: 0,
            first: now,
            locked_until: None,
            reported: false,
        };
        let mut c = match before {
            Some(c) if now - c.first < window || c.locked_until.is_some_and(|u| u > now) => c,
            _ => fresh,
        };
        c.failures = c.failures.saturating_add(1);
        c
    }

    fn locked(&self, now: i64) -> Option<i64> {
        self.locked_until.filter(|u| *u > now)
    }

    /// What holds back at `now`: the lockout in force, then the failures within the window.
    fn weight(&self, now: i64, window: i64) -> (Option<i64>, u32) {
        let failures = if now - self.first < window {
            self.failures
        } else {
            0
        };
        (self.locked(now), failures)
    }

    /// Of two counts of one address (this node's, the shared one), the one that holds back
    /// most at `now`.
    fn worse(a: Option<Count>, b: Option<Count>, now: i64, window: i64) -> Option<Count> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.weight(now, window) >= b.weight(now, window) {
                a
            } else {
                b
            }),
            (a, b) => a.or(b),
        }
    }
}

/// What one more failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failed {
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

/// The counts kept in this process: alone, or while the shared counts cannot be reached.
#[derive(Debug, Default)]
struct Local {
    addresses: HashMap<IpAddr, Count>,
    principals: HashMap<String, Count>,
}

/// The counts: in this process, or shared by the nodes (`SharedGuard`, given to each call),
/// so that a guesser meets the same limits whichever node it reaches. When the shared counts
/// cannot be reached, this process's own count in the meantime (each node then locks after
/// the limit on its own); containment refuses personal data meanwhile anyway.
#[derive(Debug, Default)]
pub(crate) struct Guesses {
    pub(crate) policy: GuessPolicy,
    local: Mutex<Local>,
    /// The last call to the shared counts failed (logged once per outage).
    down: AtomicBool,
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

fn address_key(ip: IpAddr) -> String {
    format!("a:{}", key(ip))
}

fn principal_key(name: &str) -> String {
    format!("p:{}", name.to_ascii_lowercase())
}

/// Keeps `c` as `k`'s count in `map`, making room first: every count past its window and
/// lockout goes, then, still full, the oldest.
fn keep<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Count>,
    k: &K,
    c: Count,
    now: i64,
    window: i64,
) {
    if map.len() >= TRACKED_MAX && !map.contains_key(k) {
        map.retain(|_, c| now - c.first < window || c.locked_until.is_some_and(|u| u > now));
        if map.len() >= TRACKED_MAX {
            // Still full: drop the oldest count rather than stop counting new ones (a lockout
            // last, the one that ends first).
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| (c.locked_until.is_some(), c.locked_until, c.first))
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
    }
    map.insert(k.clone(), c);
}

/// One more failure of `k` counted in `map` alone, with `lock` applied to the count that
/// results; the count, and what `lock` returned.
fn bump_here<K: std::hash::Hash + Eq + Clone, T>(
    map: &mut HashMap<K, Count>,
    k: &K,
    now: i64,
    window: i64,
    lock: impl Fn(&mut Count) -> T,
) -> (Count, T) {
    let mut c = Count::bumped(map.get(k).copied(), now, window);
    let locked = lock(&mut c);
    keep(map, k, c, now, window);
    (c, locked)
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

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `result` of a call to the shared counts: its value, or `None` (logged once per outage)
    /// for the local counts to answer.
    fn shared<T>(&self, result: Result<T, StoreError>) -> Option<T> {
        match result {
            Ok(v) => {
                if self.down.swap(false, Ordering::SeqCst) {
                    tracing::warn!("failed credential checks are counted across the nodes again");
                }
                Some(v)
            }
            Err(e) => {
                if !self.down.swap(true, Ordering::SeqCst) {
                    tracing::error!(error = %e, "the shared counts of failed credential checks cannot be reached: each node counts its own meanwhile");
                }
                None
            }
        }
    }

    /// The address's count: this node's, and the shared one when `shared`, the worse of the
    /// two (a lockout this node set while the shared counts could not be reached stands); a
    /// shared lockout is kept here too, for an outage to come. A shared count nobody can read
    /// is a lockout.
    fn address(&self, shared: Option<&dyn SharedGuard>, ip: IpAddr, now: i64) -> Option<Count> {
        let local = self.local().addresses.get(&key(ip)).copied();
        let Some(part) = shared.and_then(|s| self.shared(s.failures(&address_key(ip), now))) else {
            return local;
        };
        let remote = part.map(|b| {
            serde_json::from_slice(&b).unwrap_or(Count {
                failures: self.policy.lockout_after,
                first: now,
                locked_until: Some(now.saturating_add(self.policy.lockout_secs)),
                reported: true,
            })
        });
        if let Some(c) = remote.filter(|c| c.locked(now).is_some()) {
            keep(
                &mut self.local().addresses,
                &key(ip),
                c,
                now,
                self.policy.window_secs,
            );
        }
        Count::worse(local, remote, now, self.policy.window_secs)
    }

    /// Until when `ip` is locked, if it is.
    pub(crate) fn locked(
        &self,
        shared: Option<&dyn SharedGuard>,
        ip: IpAddr,
        now: i64,
    ) -> Option<i64> {
        self.address(shared, ip, now).and_then(|c| c.locked(now))
    }

    /// The delay before answering `ip` after its failures (none when it has none).
    pub(crate) fn delay(&self, shared: Option<&dyn SharedGuard>, ip: IpAddr, now: i64) -> Duration {
        let n = self
            .address(shared, ip, now)
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

    /// Until when a shared count written at `now` is kept: as long as its window or a lockout
    /// may matter (a count past its window is counted afresh, a lockout past its time is not
    /// one).
    fn kept_until(&self, now: i64) -> i64 {
        now.saturating_add(self.policy.window_secs.max(self.policy.lockout_secs))
    }

    /// One more failure under `key` in the shared counts, after the worse of theirs and
    /// `also` (this node's), with `lock` applied to the count that results; the count, and
    /// what `lock` returned. `None`: unreachable.
    fn bump_shared<T>(
        &self,
        shared: &dyn SharedGuard,
        key: &str,
        now: i64,
        also: Option<Count>,
        lock: &impl Fn(&mut Count) -> T,
    ) -> Option<(Count, T)> {
        let window = self.policy.window_secs;
        let mut out = None;
        let result = shared.update_failures(key, now, self.kept_until(now), &mut |before| {
            // A count nobody can read is taken for one short of the limit: never a fresh
            // budget.
            let before = match before.map(serde_json::from_slice::<Count>) {
                None => None,
                Some(Ok(c)) => Some(c),
                Some(Err(_)) => Some(Count {
                    failures: self.policy.lockout_after.saturating_sub(1),
                    first: now,
                    locked_until: None,
                    reported: false,
                }),
            };
            let mut c = Count::bumped(Count::worse(before, also, now, window), now, window);
            let locked = lock(&mut c);
            let bytes = serde_json::to_vec(&c).ok()?;
            out = Some((c, locked));
            Some(bytes)
        });
        self.shared(result).and(out)
    }

    /// Locks an address's count that reached the limit: until when, if newly.
    fn lock_address(&self, c: &mut Count, now: i64) -> Option<i64> {
        if c.failures >= self.policy.lockout_after
            && self.policy.lockouts
            && c.locked_until.is_none_or(|u| u <= now)
        {
            let until = now.saturating_add(self.policy.lockout_secs);
            c.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// Counts one failure from `ip` (if known) against `principal` (if the credential named
    /// one), in the shared counts when `shared`.
    pub(crate) fn fail(
        &self,
        shared: Option<&dyn SharedGuard>,
        ip: Option<IpAddr>,
        principal: Option<&str>,
        now: i64,
    ) -> Failed {
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
            // This node's count joins the shared one: failures counted here alone while the
            // shared counts did not answer are not forgotten when they answer again; the
            // result is kept here too, for an outage to come.
            let k = key(ip);
            let lock = |c: &mut Count| self.lock_address(c, now);
            let mine = self.local().addresses.get(&k).copied();
            let (c, locked) = match shared
                .and_then(|s| self.bump_shared(s, &address_key(ip), now, mine, &lock))
            {
                Some((c, locked)) => {
                    let mut local = self.local();
                    let kept = Count::worse(local.addresses.get(&k).copied(), Some(c), now, window)
                        .unwrap_or(c);
                    keep(&mut local.addresses, &k, kept, now, window);
                    (c, locked)
                }
                None => bump_here(&mut self.local().addresses, &k, now, window, lock),
            };
            out.address_failures = c.failures;
            out.address_locked = locked;
        }
        if let Some(p) = principal {
            // At the limit or past it, until its suspension is raised ([`Guesses::reported`]).
            // The shared count alone while it answers (a restore clears it on every node);
            // this node's meanwhile.
            let lock = |c: &mut Count| c.failures >= limit && self.policy.lockouts && !c.reported;
            let (c, locked) = match shared
                .and_then(|s| self.bump_shared(s, &principal_key(p), now, None, &lock))
            {
                Some(counted) => counted,
                None => bump_here(
                    &mut self.local().principals,
                    &p.to_ascii_lowercase(),
                    now,
                    window,
                    lock,
                ),
            };
            out.principal_failures = c.failures;
            out.principal_locked = locked;
        }
        out.delay = self.delay_for(out.address_failures.max(out.principal_failures));
        out
    }

    /// The suspension of `principal`, past its limit, was raised: not again in this window.
    pub(crate) fn reported(&self, shared: Option<&dyn SharedGuard>, principal: &str, now: i64) {
        let window = self.policy.window_secs;
        let name = principal.to_ascii_lowercase();
        let mark = |c: Option<Count>| Count {
            reported: true,
            ..c.unwrap_or(Count {
                failures: 0,
                first: now,
                locked_until: None,
                reported: true,
            })
        };
        {
            let mut local = self.local();
            if let Some(c) = local.principals.get(&name).copied() {
                keep(&mut local.principals, &name, mark(Some(c)), now, window);
            }
        }
        if let Some(s) = shared {
            let marked = s.update_failures(
                &principal_key(principal),
                now,
                self.kept_until(now),
                &mut |c| {
                    let c = c.and_then(|b| serde_json::from_slice::<Count>(b).ok());
                    serde_json::to_vec(&mark(c)).ok()
                },
            );
            self.shared(marked);
        }
    }

    /// A principal restored by an operator starts counting afresh.
    pub(crate) fn forgive(&self, shared: Option<&dyn SharedGuard>, principal: &str, now: i64) {
        self.local()
            .principals
            .remove(&principal.to_ascii_lowercase());
        if let Some(s) = shared {
            // Kept past its time at once: read as no count.
            let forgiven = s.update_failures(&principal_key(principal), now, now, &mut |_| {
                serde_json::to_vec(&Count {
                    failures: 0,
                    first: now,
                    locked_until: None,
                    reported: false,
                })
                .ok()
            });
            if let Err(e) = forgiven {
                tracing::error!(error = %e, principal, "a restored principal's failed checks could not be cleared across the nodes");
            }
        }
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
        let g = Guesses::new(GuessPolicy::default());
        let a = ip("192.0.2.7");
        for n in 1..10 {
            let f = g.fail(None, Some(a), Some("c.durand"), 100);
            assert_eq!(
                (f.address_locked, f.principal_locked),
                (None, false),
                "failure {n}"
            );
            assert!(g.locked(None, a, 100).is_none());
        }
        let f = g.fail(None, Some(a), Some("C.Durand"), 100);
        assert_eq!(f.address_locked, Some(1000));
        assert!(f.principal_locked);
        assert_eq!(g.locked(None, a, 999), Some(1000));
        assert_eq!(g.locked(None, a, 1000), None, "until the lockout ends");
        // Until its suspension is raised, every failure past the limit asks for it (one that
        // could not be raised is tried again); once raised, not again in the window.
        assert!(
            g.fail(None, Some(ip("198.51.100.1")), Some("c.durand"), 101)
                .principal_locked
        );
        g.reported(None, "C.DURAND", 101);
        assert!(
            !g.fail(None, Some(ip("198.51.100.1")), Some("c.durand"), 102)
                .principal_locked
        );
        // A restore: counted afresh.
        g.forgive(None, "c.durand", 103);
        let f = g.fail(None, None, Some("c.durand"), 104);
        assert_eq!((f.principal_failures, f.principal_locked), (1, false));
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
        let g = Guesses::new(GuessPolicy::default());
        let a = ip("2001:db8::1");
        assert_eq!(
            g.fail(None, Some(a), None, 0).delay,
            Duration::from_millis(250)
        );
        assert_eq!(
            g.fail(None, Some(ip("2001:db8::2")), None, 1).delay,
            Duration::from_millis(500),
            "one /64"
        );
        assert_eq!(g.delay(None, a, 2), Duration::from_millis(500));
        assert_eq!(g.fail(None, Some(a), None, 2).delay, Duration::from_secs(1));
        assert_eq!(
            g.fail(None, Some(a), None, 2000).address_failures,
            1,
            "a new window"
        );
        for _ in 0..20 {
            g.fail(None, Some(ip("203.0.113.9")), None, 3000);
        }
        assert_eq!(
            g.delay(None, ip("203.0.113.9"), 3000),
            Duration::from_secs(8)
        );
        assert_eq!(
            g.fail(None, Some(ip("::ffff:192.0.2.9")), None, 0)
                .address_failures,
            1
        );
        assert_eq!(
            g.fail(None, Some(ip("192.0.2.9")), None, 0)
                .address_failures,
            2,
            "mapped is the v4 address"
        );
    }
}
