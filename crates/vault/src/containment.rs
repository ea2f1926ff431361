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
                            report(Outage::Ended);
                        }
                        Ok(v)
                    }
                    (result, _) => {
                        let why = match result {
                            Err(e) => e.to_string(),
                            Ok(()) => "a shared part is not one this version reads".to_string(),
                        };
                        if !down.swap(true, Ordering::SeqCst) {
                            tracing::error!(error = %why, "containment's shared counts are unavailable: responses with personal data are refused");
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

    /// Where the counts are kept, and whether they answer now (asks the shared store).
    pub(crate) fn state(&self) -> ContainmentState {
        match self {
            Containment::Local(_) => ContainmentState::Local,
            Containment::Shared { parts, .. } => match parts.reachable() {
                Ok(()) => ContainmentState::Shared,
                Err(_) => ContainmentState::Unreachable,
            },
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
