//! Containment's counts shared by every node of an installation, on Redis: [`RedisGuard`]
//! implements `rempart_store::SharedGuard`.
//!
//! Each principal's part is the value of `{prefix}guard:p:{principal}`, each agency's of
//! `{prefix}guard:a:{agency}` (a prefix per installation, so several can share one Redis).
//! [`SharedGuard::update`] is an optimistic transaction: `WATCH` both keys, read them, let the
//! caller compute the new parts, then `MULTI`, `SET` both, `EXEC`; if another node changed
//! either key meanwhile, `EXEC` answers nil, nothing is written, and the caller's change is
//! computed again on the new parts, at most [`MAX_ATTEMPTS`] times. Every write sets both keys'
//! time to live to [`TTL`] again, so an idle principal's part (its learned baseline, weeks of
//! it) outlives every window yet does not stay for ever.
//!
//! Within a node, transactions on one agency take turns (`turns.rs`), so that they meet the
//! other nodes' changes only; a retry waits a random pause first, longer after each.
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

/// A change of several keys' values, in the order of the keys (`None` for a key missing).
type KeysChange<'a> = dyn FnMut(Vec<Option<Vec<u8>>>) -> Option<Vec<Vec<u8>>> + 'a;

/// Containment's shared counts in one Redis (`redis://…`; no TLS yet).
pub struct RedisGuard {
    conns: Connections,
    turns: Turns,
    prefix: String,
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
        let guard = RedisGuard {
            conns: Connections::new(url)?,
            turns: Turns::new(),
            prefix: prefix.to_owned(),
        };
        guard.reachable()?;
        Ok(guard)
    }

    fn principal_key(&self, principal: &str) -> String {
        format!("{}guard:p:{principal}", self.prefix)
    }

    fn agency_key(&self, agency: &str) -> String {
        format!("{}guard:a:{agency}", self.prefix)
    }

    /// The optimistic transaction over `keys`: `change` is given their values and returns
    /// their new ones (as many, in the same order), or `None` to write nothing. This node's
    /// transactions on `keys[turn]` take turns (see `turns.rs`).
    fn transact(
        &self,
        keys: &[String],
        turn: usize,
        context: &'static str,
        change: &mut KeysChange<'_>,
    ) -> Result<(), StoreError> {
        let mut watch = redis::cmd("WATCH");
        for key in keys {
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
            if new.len() != keys.len() {
                return Err(StoreError::Corrupt("containment's new parts"));
            }
            if exec(&mut held.conn, keys, &new).map_err(failed(context))? {
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

/// `MULTI`, a `SET` of each key to its new value (living [`TTL`]), `EXEC`, sent at once;
/// whether they were written (`EXEC` answers nil, and writes nothing, when a key watched
/// changed since `WATCH`). The replies are read one by one and the first error ends the
/// reading: against a Redis that stopped answering, the call waits one read timeout, not one
/// per reply (a `redis::Pipeline` would wait for each of them).
fn exec(
    conn: &mut redis::Connection,
    keys: &[String],
    values: &[Vec<u8>],
) -> redis::RedisResult<bool> {
    let mut packed = redis::cmd("MULTI").get_packed_command();
    for (key, value) in keys.iter().zip(values) {
        packed.extend(
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("EX")
                .arg(TTL.as_secs())
                .get_packed_command(),
        );
    }
    packed.extend(redis::cmd("EXEC").get_packed_command());
    conn.send_packed_command(&packed)?;
    // `+OK` to MULTI, `+QUEUED` to each SET.
    for _ in 0..=keys.len() {
        conn.recv_response()?.extract_error()?;
    }
    match conn.recv_response()?.extract_error()? {
        redis::Value::Nil => Ok(false),
        redis::Value::Array(replies) if replies.len() == keys.len() => Ok(true),
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
        // The agency's part is the one many principals, so many threads, change at once.
        self.transact(
            &keys,
            1,
            "update containment's shared counts",
            &mut |parts| {
                let (p, a) = match parts.as_slice() {
                    [p, a] => (p.as_deref(), a.as_deref()),
                    _ => (None, None),
                };
                change(p, a).map(|(p, a)| vec![p, a])
            },
        )
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
            0,
            "update a principal's shared counts",
            &mut |parts| change(parts.first().and_then(Option::as_deref)).map(|p| vec![p]),
        )
    }

    fn reachable(&self) -> Result<(), StoreError> {
        let (lease, ()) = self.conns.first(&redis::cmd("PING"), "reach Redis")?;
        self.conns.give_back(lease);
        Ok(())
    }
}

#[cfg(test)]
impl RedisGuard {
    /// Connections kept idle now.
    pub(crate) fn idle(&self) -> usize {
        self.conns.idle()
    }
}
