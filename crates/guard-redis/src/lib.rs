//! Containment's counts shared by every node of an installation, on Redis: [`RedisGuard`]
//! implements `rempart_store::SharedGuard`.
//!
//! Each principal's part is the value of `{prefix}guard:p:{principal}`, each agency's of
//! `{prefix}guard:a:{agency}` (a prefix per installation, so several can share one Redis).
//! [`SharedGuard::update`] is an optimistic transaction: `WATCH` the principal's key, read
//! both, let the caller compute the new parts, then `MULTI`, `SET`, `EXEC`; if another node
//! changed the key meanwhile, `EXEC` answers nil, nothing is written, and the caller's change
//! is computed again on the new parts, at most [`MAX_ATTEMPTS`] times. Most changes leave the
//! agency's part as it was and write the principal's alone; one that writes the agency's is
//! made again with both keys watched and both set. Every write sets its keys' time to live to
//! [`TTL`] again, so an idle principal's part (its learned baseline, weeks of it) outlives
//! every window yet does not stay for ever.
//!
//! Authentication's counts: failed checks under `{prefix}auth:f:{key}` (the same optimistic
//! transaction, on the one key), proofs used under `{prefix}auth:proof:{key}` (`SET NX`), each
//! living until the time the caller gives (as seconds from now: Redis's clock is not the
//! nodes').
//!
//! Within a node, transactions on one key take turns (`turns.rs`): on the principal's, or on
//! the agency's when both are written, so that they meet the other nodes' changes only; a
//! retry waits a random pause first, longer after each.
//!
//! Connections: a few kept and reused across calls and threads, opened on demand, closed
//! after any failure; one kept idle that Redis closed meanwhile is replaced at once. Opening
//! one and each command wait at most half a second, so that an outage fails a call within
//! about a second and a half (the caller then fails closed) rather than holding requests.
//! Errors never repeat the URL (it may hold a password), a key or the bytes stored.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod conn;
#[cfg(test)]
mod tests;
mod turns;

use conn::{failed, Connections, Lease, IO_TIMEOUT};
use rempart_store::{PartChange, PartsChange, SharedGuard, StoreError};
use std::time::Duration;
use turns::Turns;

/// Times a transaction is tried while other nodes keep changing its keys, before the call
/// fails (and containment with it, closed).
pub const MAX_ATTEMPTS: u32 = 50;

/// How long a key lives after its last write: the windows are at most a day, but a principal's
/// part holds baselines learned over weeks.
pub const TTL: Duration = Duration::from_secs(35 * 24 * 3600);

/// A change of several keys' values, in the order of the keys (`None` in: a key missing;
/// `None` out: a key left as it was).
type KeysChange<'a> = dyn FnMut(Vec<Option<Vec<u8>>>) -> Option<Vec<Option<Vec<u8>>>> + 'a;

/// Containment's shared counts in one Redis (`redis://…`; no TLS yet).
pub struct RedisGuard {
    conns: Connections,
    turns: Turns,
    prefix: String,
    place: String,
}

impl std::fmt::Debug for RedisGuard {
    /// The prefix alone: the URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGuard")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisGuard {
    /// Connects to the Redis at `url` (`redis://[user][:password@]host[:port][/db]`, or
    /// `redis+unix:///path`) and checks that it answers. Keys start with `prefix` (say
    /// `rempart:prod:`), so that several installations can share one Redis. Fails within about
    /// a second when Redis cannot be reached (host names are resolved without that bound);
    /// the error never repeats the URL.
    pub fn connect(url: &str, prefix: &str) -> Result<RedisGuard, StoreError> {
        let (conns, place) = Connections::new(url)?;
        let guard = RedisGuard {
            conns,
            turns: Turns::new(),
            place: format!("redis {place} prefix {prefix}"),
            prefix: prefix.to_owned(),
        };
        guard.reachable()?;
        Ok(guard)
    }

    /// Where the counts are kept: the server's address, database and the prefix, without
    /// credentials (nodes that share their counts have the same).
    pub fn place(&self) -> &str {
        &self.place
    }

    fn principal_key(&self, principal: &str) -> String {
        format!("{}guard:p:{principal}", self.prefix)
    }

    fn agency_key(&self, agency: &str) -> String {
        format!("{}guard:a:{agency}", self.prefix)
    }

    fn failures_key(&self, key: &str) -> String {
        format!("{}auth:f:{key}", self.prefix)
    }

    fn proof_key(&self, key: &str) -> String {
        format!("{}auth:proof:{key}", self.prefix)
    }

    /// The optimistic transaction over `keys`, of which the first `watched` are watched (and
    /// alone may be written): `change` is given their values and returns their new ones (as
    /// many, in the same order), or `None` to write nothing. This node's transactions on
    /// `keys[turn]` take turns (see `turns.rs`).
    fn transact(
        &self,
        keys: &[String],
        watched: usize,
        turn: usize,
        expiry: Expiry,
        context: &'static str,
        change: &mut KeysChange<'_>,
    ) -> Result<(), StoreError> {
        let mut watch = redis::cmd("WATCH");
        for key in keys.iter().take(watched) {
            watch.arg(key);
        }
        let mut get = redis::cmd("MGET");
        for key in keys {
            get.arg(key);
        }
        let _turn = keys.get(turn).map(|key| self.turns.take(key, IO_TIMEOUT));
        let mut lease: Option<Lease> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt);
            }
            let mut held = match lease.take() {
                None => self.conns.first::<()>(&watch, context)?.0,
                Some(mut held) => {
                    watch.query::<()>(&mut held.conn).map_err(failed(context))?;
                    held
                }
            };
            let parts: Vec<Option<Vec<u8>>> = get.query(&mut held.conn).map_err(failed(context))?;
            if parts.len() != keys.len() {
                return Err(StoreError::Corrupt("Redis's reply to MGET"));
            }
            let Some(new) = change(parts) else {
                redis::cmd("UNWATCH")
                    .query::<()>(&mut held.conn)
                    .map_err(failed(context))?;
                self.conns.give_back(held);
                return Ok(());
            };
            if new.len() != keys.len() || new.iter().skip(watched).any(Option::is_some) {
                return Err(StoreError::Corrupt("containment's new parts"));
            }
            if exec(&mut held.conn, keys, &new, expiry).map_err(failed(context))? {
                self.conns.give_back(held);
                return Ok(());
            }
            lease = Some(held);
        }
        if let Some(held) = lease {
            self.conns.give_back(held);
        }
        tracing::warn!(
            attempts = MAX_ATTEMPTS,
            "containment's shared counts kept changing under this node's update"
        );
        Err(StoreError::Conflict("containment's shared counts"))
    }
}

/// How long a key written lives.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    /// [`TTL`] from now.
    Ttl,
    /// This many seconds from now (at least one): relative, so that Redis's clock, which may
    /// differ from the nodes', does not shorten it.
    Secs(i64),
}

impl Expiry {
    fn args(self, set: &mut redis::Cmd) {
        match self {
            Expiry::Ttl => set.arg("EX").arg(TTL.as_secs()),
            Expiry::Secs(s) => set.arg("EX").arg(s.max(1)),
        };
    }
}

/// `MULTI`, a `SET` of each key to its new value (living as `expiry` says), `EXEC`, sent at once;
/// whether they were written (`EXEC` answers nil, and writes nothing, when a key watched
/// changed since `WATCH`). The replies are read one by one and the first error ends the
/// reading: against a Redis that stopped answering, the call waits one read timeout, not one
/// per reply (a `redis::Pipeline` would wait for each of them).
fn exec(
    conn: &mut redis::Connection,
    keys: &[String],
    values: &[Option<Vec<u8>>],
    expiry: Expiry,
) -> redis::RedisResult<bool> {
    let mut packed = redis::cmd("MULTI").get_packed_command();
    let set: Vec<(&String, &Vec<u8>)> = keys
        .iter()
        .zip(values)
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
    for (key, value) in &set {
        let mut set = redis::cmd("SET");
        set.arg(key).arg(value);
        expiry.args(&mut set);
        packed.extend(set.get_packed_command());
    }
    packed.extend(redis::cmd("EXEC").get_packed_command());
    conn.send_packed_command(&packed)?;
    // `+OK` to MULTI, `+QUEUED` to each SET.
    for _ in 0..=set.len() {
        conn.recv_response()?.extract_error()?;
    }
    match conn.recv_response()?.extract_error()? {
        redis::Value::Nil => Ok(false),
        redis::Value::Array(replies) if replies.len() == set.len() => Ok(true),
        _ => Err(redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "unexpected reply to EXEC",
        ))),
    }
}

/// A pause before the next attempt of a transaction that met another node's change: random
/// (nodes that met are not in step again), longer after each attempt, 5 ms at most.
fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let cap_us = (100u64 << attempt.min(6)).min(5_000);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    std::thread::sleep(Duration::from_micros(h.finish() % (cap_us + 1)));
}

impl SharedGuard for RedisGuard {
    fn update(
        &self,
        principal: &str,
        agency: &str,
        change: &mut PartsChange<'_>,
    ) -> Result<(), StoreError> {
        let keys = [self.principal_key(principal), self.agency_key(agency)];
        let context = "update containment's shared counts";
        let parts = |parts: &[Option<Vec<u8>>]| -> (Option<Vec<u8>>, Option<Vec<u8>>) {
            match parts {
                [p, a] => (p.clone(), a.clone()),
                _ => (None, None),
            }
        };
        // The principal's key alone, while the change leaves the agency's part as it was.
        let mut both = false;
        self.transact(&keys, 1, 0, Expiry::Ttl, context, &mut |values| {
            let (p, a) = parts(&values);
            match change(p.as_deref(), a.as_deref()) {
                None => None,
                Some((p, None)) => Some(vec![Some(p), None]),
                Some((_, Some(_))) => {
                    both = true;
                    None
                }
            }
        })?;
        if !both {
            return Ok(());
        }
        // Both keys. The agency's part is the one many principals, so many threads, change
        // at once: its turn.
        self.transact(&keys, 2, 1, Expiry::Ttl, context, &mut |values| {
            let (p, a) = parts(&values);
            change(p.as_deref(), a.as_deref()).map(|(p, a)| vec![Some(p), a])
        })
    }

    fn principal_part(&self, principal: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let context = "read a principal's shared counts";
        let mut get = redis::cmd("GET");
        get.arg(self.principal_key(principal));
        let (lease, part) = self.conns.first::<Option<Vec<u8>>>(&get, context)?;
        self.conns.give_back(lease);
        Ok(part)
    }

    fn update_principal(
        &self,
        principal: &str,
        change: &mut PartChange<'_>,
    ) -> Result<(), StoreError> {
        let keys = [self.principal_key(principal)];
        self.transact(
            &keys,
            1,
            0,
            Expiry::Ttl,
            "update a principal's shared counts",
            &mut |parts| change(parts.first().and_then(Option::as_deref)).map(|p| vec![Some(p)]),
        )
    }

    fn reachable(&self) -> Result<(), StoreError> {
        let (lease, ()) = self.conns.first(&redis::cmd("PING"), "reach Redis")?;
        self.conns.give_back(lease);
        Ok(())
    }

    /// Kept until their time by Redis itself (`EX`).
    fn failures(&self, key: &str, _now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut get = redis::cmd("GET");
        get.arg(self.failures_key(key));
        let (lease, part) = self
            .conns
            .first::<Option<Vec<u8>>>(&get, "read failed checks")?;
        self.conns.give_back(lease);
        Ok(part)
    }

    fn update_failures(
        &self,
        key: &str,
        now: i64,
        keep_until: i64,
        change: &mut PartChange<'_>,
    ) -> Result<(), StoreError> {
        let keys = [self.failures_key(key)];
        self.transact(
            &keys,
            1,
            0,
            Expiry::Secs(keep_until.saturating_sub(now)),
            "count a failed check",
            &mut |parts| change(parts.first().and_then(Option::as_deref)).map(|p| vec![Some(p)]),
        )
    }

    /// `SET key 1 NX EX (keep_until - now)`: Redis answers `OK` to one caller alone while the
    /// key lives.
    fn first_use(&self, key: &str, now: i64, keep_until: i64) -> Result<bool, StoreError> {
        let mut set = redis::cmd("SET");
        set.arg(self.proof_key(key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(keep_until.saturating_sub(now).max(1));
        let (lease, reply) = self.conns.first::<Option<String>>(&set, "record a proof")?;
        self.conns.give_back(lease);
        Ok(reply.is_some())
    }
}

#[cfg(test)]
impl RedisGuard {
    /// Connections kept idle now.
    pub(crate) fn idle(&self) -> usize {
        self.conns.idle()
    }
}
