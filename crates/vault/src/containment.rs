//! Where containment keeps its counts: in this process ([`Containment::Local`], one node), or
//! in parts every node reads and replaces atomically ([`Containment::Shared`]: Redis, or the
//! database), so that a token used on several nodes in turn is held to the budget of one.
//!
//! Invariant: when the shared counts cannot be read or written, no decision is made on a
//! fresh budget: the response is refused ([`VaultError::ContainmentUnavailable`]), and the
//! first such failure is logged and sent to the alert channels.

use crate::error::VaultError;
use rempart_guard::{Exposed, Guard, GuardConfig, Kind, Subject, Verdict};
use rempart_store::SharedGuard;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often `/healthz` may ask the shared counts whether they answer.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Containment's counts and where they are kept.
pub(crate) enum Containment {
    /// In this process; saved to the store now and then (`kept.rs`).
    Local(Mutex<Guard>),
    /// Shared by every node.
    Shared {
        /// The budgets.
        config: GuardConfig,
        /// Where the parts are kept.
        parts: Arc<dyn SharedGuard>,
        /// The shared counts failed at the last attempt (an outage already reported).
        down: AtomicBool,
        /// The last answer of the shared store to `/healthz`'s question, and when.
        probe: Mutex<Option<(Instant, bool)>>,
    },
}

/// Clears a restored principal's refusals in the shared counts, keeping the people it was
/// shown.
pub(crate) fn pardon_shared(parts: &dyn SharedGuard, principal: &str) -> Result<(), VaultError> {
    let mut unreadable = false;
    parts.update_principal(principal, &mut |p| {
        rempart_guard::pardon_part(p).unwrap_or_else(|_| {
            unreadable = true;
            None
        })
    })?;
    if unreadable {
        return Err(VaultError::ContainmentUnavailable);
    }
    Ok(())
}

/// Where containment keeps its counts, and whether they answer (for `/healthz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainmentState {
    /// No containment.
    Off,
    /// In this process.
    Local,
    /// Shared by the nodes, and reachable.
    Shared,
    /// Shared, and not reachable now: responses with personal data are refused.
    Unreachable,
}

impl ContainmentState {
    /// The word `/healthz` gives.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainmentState::Off => "off",
            ContainmentState::Local => "local",
            ContainmentState::Shared => "shared",
            ContainmentState::Unreachable => "unreachable",
        }
    }
}

/// What happened to the shared counts: for the outage's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The shared counts stopped answering (reported once per outage).
    Began,
    /// They answer again.
    Ended,
}

impl Containment {
    /// Decides on a response of `kind` showing `people` for `who` at `now`. `report` is told
    /// when an outage of the shared counts begins or ends.
    pub(crate) fn decide(
        &self,
        who: &Subject,
        now: i64,
        kind: Kind,
        people: &[Exposed],
        report: &dyn Fn(Outage),
    ) -> Result<Verdict, VaultError> {
        match self {
            Containment::Local(guard) => Ok(guard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .decide_reported(who, now, kind, people)),
            Containment::Shared {
                config,
                parts,
                down,
                ..
            } => {
                let mut verdict = None;
                let mut unreadable = false;
                let written = parts.update(who.principal, who.agency, &mut |p, a| match config
                    .decide_on_parts(who, now, kind, people, p, a)
                {
                    Ok(d) => {
                        verdict = Some(d.verdict);
                        Some((d.principal, d.agency))
                    }
                    Err(_) => {
                        unreadable = true;
                        verdict = None;
                        None
                    }
                });
                match (written, verdict) {
                    (Ok(()), Some(v)) if !unreadable => {
                        if down.swap(false, Ordering::SeqCst) {
                            tracing::warn!("containment reaches its shared counts again");
                            report(Outage::Ended);
                        }
                        Ok(v)
                    }
                    // This principal's or agency's part alone: refused, logged, but not an
                    // outage of the shared counts (nor its end).
                    (Ok(()), _) => {
                        tracing::error!(principal = %who.principal, agency = %who.agency, "a shared containment part is not one this version reads: this principal's responses with personal data are refused");
                        Err(VaultError::ContainmentUnavailable)
                    }
                    // Other nodes kept changing the same parts: refused, not an outage.
                    (Err(rempart_store::StoreError::Conflict(_)), _) => {
                        Err(VaultError::ContainmentUnavailable)
                    }
                    (Err(e), _) => {
                        if !down.swap(true, Ordering::SeqCst) {
                            tracing::error!(error = %e, "containment's shared counts are unavailable: responses with personal data are refused");
                            report(Outage::Began);
                        }
                        Err(VaultError::ContainmentUnavailable)
                    }
                }
            }
        }
    }

    /// Clears a restored principal's refusals, keeping the people it was shown.
    pub(crate) fn pardon(&self, principal: &str) -> Result<(), VaultError> {
        match self {
            Containment::Local(guard) => {
                guard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .pardon(principal);
                Ok(())
            }
            Containment::Shared { parts, .. } => pardon_shared(&**parts, principal),
        }
    }

    /// Where the counts are kept, and whether they answer now: unreachable while an outage is
    /// under way (the last decision failed), else as the shared store answers, asked at most
    /// once every [`PROBE_EVERY`] whoever calls.
    pub(crate) fn state(&self) -> ContainmentState {
        match self {
            Containment::Local(_) => ContainmentState::Local,
            Containment::Shared {
                parts, down, probe, ..
            } => {
                if down.load(Ordering::SeqCst) {
                    return ContainmentState::Unreachable;
                }
                // Another call is asking now: no second question, no waiting for it.
                let Ok(mut last) = probe.try_lock() else {
                    return ContainmentState::Shared;
                };
                let fresh = last.is_some_and(|(at, _)| at.elapsed() < PROBE_EVERY);
                if !fresh {
                    *last = Some((Instant::now(), parts.reachable().is_ok()));
                }
                match *last {
                    Some((_, true)) => ContainmentState::Shared,
                    _ => ContainmentState::Unreachable,
                }
            }
        }
    }

    /// The local guard, when the counts are kept in this process.
    pub(crate) fn local(&self) -> Option<&Mutex<Guard>> {
        match self {
            Containment::Local(g) => Some(g),
            Containment::Shared { .. } => None,
        }
    }
}
