//! `[guard]`: containment, its budgets per role and its probation.

use rempart_domain::Role;
use rempart_guard::{Budget, GuardConfig, Limits, SignalConfig};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[guard] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// Every response carrying personal data is counted against the principal's budgets.
    #[default]
    On,
    /// Nothing is counted and nothing refused: for a benchmark, never for real data.
    Off,
}

/// `[guard] probation`.
pub const DEFAULT_PROBATION: &str = "7d";
/// `[guard] suspend_after_refusals`.
pub const DEFAULT_SUSPEND_AFTER_REFUSALS: u32 = 3;

/// Distinct people per sliding minute, hour and day, as the file writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetToml {
    pub minute: u32,
    pub hour: u32,
    pub day: u32,
}

/// A role's budgets as the file writes them: `all` people, and those `outside` the caseload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsToml {
    pub all: BudgetToml,
    pub outside: BudgetToml,
}

impl From<BudgetToml> for Budget {
    fn from(b: BudgetToml) -> Budget {
        Budget {
            minute: b.minute,
            hour: b.hour,
            day: b.day,
        }
    }
}

impl From<Budget> for BudgetToml {
    fn from(b: Budget) -> BudgetToml {
        BudgetToml {
            minute: b.minute,
            hour: b.hour,
            day: b.day,
        }
    }
}

impl From<LimitsToml> for Limits {
    fn from(l: LimitsToml) -> Limits {
        Limits {
            all: l.all.into(),
            outside: l.outside.into(),
        }
    }
}

impl From<Limits> for LimitsToml {
    fn from(l: Limits) -> LimitsToml {
        LimitsToml {
            all: l.all.into(),
            outside: l.outside.into(),
        }
    }
}

/// `[guard.signals]`: each signal's weight (a signal active divides the budgets by one plus
/// the sum of the weights); a weight not given keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsToml {
    pub off_hours: f64,
    pub listing_paging: f64,
    pub search_misses: f64,
    pub many_clients: f64,
    pub agency_rising: f64,
}

impl Default for SignalsToml {
    fn default() -> Self {
        let d = SignalConfig::default();
        SignalsToml {
            off_hours: d.off_hours,
            listing_paging: d.listing_paging,
            search_misses: d.search_misses,
            many_clients: d.many_clients,
            agency_rising: d.agency_rising,
        }
    }
}

/// The `[guard]` of one source.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardLayer {
    pub mode: Option<GuardMode>,
    pub probation: Option<String>,
    pub suspend_after_refusals: Option<u32>,
    /// `[guard.limits.ROLE]`: a role given here replaces that role's defaults whole.
    pub limits: BTreeMap<String, LimitsToml>,
    pub probation_limits: Option<LimitsToml>,
    pub agency_outside: Option<BudgetToml>,
    pub office_hours: Option<[u8; 2]>,
    pub utc_offset_minutes: Option<i32>,
    pub signals: Option<SignalsToml>,
    pub four_eyes_above: Option<u64>,
}

impl GuardLayer {
    /// This layer with `over`'s values in place of its own wherever `over` has one (role by
    /// role for the limits).
    pub fn over(self, over: GuardLayer) -> GuardLayer {
        let GuardLayer {
            mode,
            probation,
            suspend_after_refusals,
            mut limits,
            probation_limits,
            agency_outside,
            office_hours,
            utc_offset_minutes,
            signals,
            four_eyes_above,
        } = self;
        limits.extend(over.limits);
        GuardLayer {
            mode: over.mode.or(mode),
            probation: over.probation.or(probation),
            suspend_after_refusals: over.suspend_after_refusals.or(suspend_after_refusals),
            limits,
            probation_limits: over.probation_limits.or(probation_limits),
            agency_outside: over.agency_outside.or(agency_outside),
            office_hours: over.office_hours.or(office_hours),
            utc_offset_minutes: over.utc_offset_minutes.or(utc_offset_minutes),
            signals: over.signals.or(signals),
            four_eyes_above: over.four_eyes_above.or(four_eyes_above),
        }
    }

    /// The settings, with the defaults where this layer has no value.
    pub fn resolve(self) -> GuardSettings {
        let GuardLayer {
            mode,
            probation,
            suspend_after_refusals,
            limits: given,
            probation_limits,
            agency_outside,
            office_hours,
            utc_offset_minutes,
            signals,
            four_eyes_above,
        } = self;
        let defaults = GuardConfig::default();
        let mut limits: BTreeMap<String, LimitsToml> = defaults
            .limits
            .iter()
            .map(|(role, l)| (role.clone(), LimitsToml::from(*l)))
            .collect();
        limits.extend(given);
        GuardSettings {
            mode: mode.unwrap_or_default(),
            probation: probation.unwrap_or_else(|| DEFAULT_PROBATION.into()),
            suspend_after_refusals: suspend_after_refusals
                .unwrap_or(DEFAULT_SUSPEND_AFTER_REFUSALS),
            limits,
            probation_limits: probation_limits.unwrap_or(defaults.probation.into()),
            agency_outside: agency_outside.unwrap_or(defaults.agency_outside.into()),
            office_hours: office_hours
                .unwrap_or([defaults.signals.office_from, defaults.signals.office_to]),
            utc_offset_minutes: utc_offset_minutes
                .unwrap_or((defaults.signals.utc_offset / 60) as i32),
            signals: signals.unwrap_or_default(),
            four_eyes_above: four_eyes_above.unwrap_or(rempart_vault::FOUR_EYES_ABOVE),
        }
    }
}

/// `[guard]` in force.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    pub mode: GuardMode,
    /// How long a new principal, or one whose role or agency changed, stays on probation (a
    /// number followed by d, h, m or s).
    pub probation: String,
    /// Refusals within an hour after which the principal is suspended.
    pub suspend_after_refusals: u32,
    /// Budgets by role name.
    pub limits: BTreeMap<String, LimitsToml>,
    /// Budgets on probation, and of a role without limits of its own.
    pub probation_limits: LimitsToml,
    /// People outside the caseloads an agency's principals together may be shown.
    pub agency_outside: BudgetToml,
    /// Office hours, local time: from, to (hours, 0 to 24).
    pub office_hours: [u8; 2],
    /// Local time minus UTC, minutes.
    pub utc_offset_minutes: i32,
    /// The signals' weights.
    pub signals: SignalsToml,
    /// Exports of more people than this await a second operator's approval.
    pub four_eyes_above: u64,
}

/// Why `[guard]` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardSettingsError {
    /// `[guard.limits.X]` with X not a role.
    #[error("[guard.limits.{0}]: not a role, expected one of {expected}", expected = Role::expected())]
    UnknownRole(String),
    /// `probation` is not a duration.
    #[error("[guard] probation (--guard-probation, REMPART_GUARD_PROBATION): a number followed by d, h, m or s, at most 365d")]
    Probation,
    /// `suspend_after_refusals` is 0.
    #[error("[guard] suspend_after_refusals: at least 1")]
    Refusals,
    /// A budget of 0 people, or a window allowing more people than a longer one.
    #[error("[guard.{0}]: each budget at least 1, and minute <= hour <= day")]
    Budget(String),
    /// Office hours that are not two hours of the day in order, or an offset beyond a day.
    #[error("[guard] office_hours: [from, to] with 0 <= from < to <= 24; utc_offset_minutes: -720 to 840")]
    OfficeHours,
    /// A weight that is negative or not a number.
    #[error("[guard.signals] {0}: a weight of 0 or more")]
    Weight(&'static str),
}

/// Seconds of a duration written as a number followed by d, h, m or s (up to a year).
fn seconds(s: &str) -> Option<u64> {
    let s = s.trim();
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(at);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }?;
    (secs <= 365 * 86_400).then_some(secs)
}

impl GuardSettings {
    /// The guard's configuration, `None` when containment is off.
    pub fn config(&self) -> Result<Option<GuardConfig>, GuardSettingsError> {
        let check = |what: String, l: &LimitsToml| {
            let ok = |b: &BudgetToml| b.minute >= 1 && b.minute <= b.hour && b.hour <= b.day;
            if ok(&l.all) && ok(&l.outside) {
                Ok(Limits::from(*l))
            } else {
                Err(GuardSettingsError::Budget(what))
            }
        };
        let mut limits = std::collections::HashMap::new();
        for (role, l) in &self.limits {
            if Role::parse(role).is_none() {
                return Err(GuardSettingsError::UnknownRole(role.clone()));
            }
            limits.insert(role.clone(), check(format!("limits.{role}"), l)?);
        }
        let probation = check("probation_limits".into(), &self.probation_limits)?;
        let agency_outside = check(
            "agency_outside".into(),
            &LimitsToml {
                all: self.agency_outside,
                outside: self.agency_outside,
            },
        )?
        .all;
        let [from, to] = self.office_hours;
        if from >= to || to > 24 || !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(GuardSettingsError::OfficeHours);
        }
        let w = &self.signals;
        for (name, v) in [
            ("off_hours", w.off_hours),
            ("listing_paging", w.listing_paging),
            ("search_misses", w.search_misses),
            ("many_clients", w.many_clients),
            ("agency_rising", w.agency_rising),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(GuardSettingsError::Weight(name));
            }
        }
        let signals = SignalConfig {
            off_hours: w.off_hours,
            listing_paging: w.listing_paging,
            search_misses: w.search_misses,
            many_clients: w.many_clients,
            agency_rising: w.agency_rising,
            office_from: from,
            office_to: to,
            utc_offset: i64::from(self.utc_offset_minutes) * 60,
            ..SignalConfig::default()
        };
        let probation_secs = seconds(&self.probation).ok_or(GuardSettingsError::Probation)?;
        if self.suspend_after_refusals == 0 {
            return Err(GuardSettingsError::Refusals);
        }
        Ok((self.mode == GuardMode::On).then_some(GuardConfig {
            limits,
            default_limits: probation,
            probation,
            probation_secs,
            suspend_after_refusals: self.suspend_after_refusals,
            agency_outside,
            signals,
            ..GuardConfig::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_guard_s() {
        let config = GuardLayer::default().resolve().config().unwrap().unwrap();
        let d = GuardConfig::default();
        assert_eq!(config.limits, d.limits);
        assert_eq!(config.probation, d.probation);
        assert_eq!(config.probation_secs, d.probation_secs);
        assert_eq!(config.suspend_after_refusals, d.suspend_after_refusals);
        assert_eq!(config, d, "every field");
    }

    #[test]
    fn off_is_no_guard_and_bad_values_are_named() {
        let off = GuardLayer {
            mode: Some(GuardMode::Off),
            ..GuardLayer::default()
        };
        assert_eq!(off.resolve().config().unwrap(), None);
        let mut s = GuardLayer::default().resolve();
        s.limits.insert("admin".into(), s.probation_limits);
        assert_eq!(
            s.config().unwrap_err(),
            GuardSettingsError::UnknownRole("admin".into())
        );
        let mut s = GuardLayer::default().resolve();
        s.probation = "7 days".into();
        assert_eq!(s.config().unwrap_err(), GuardSettingsError::Probation);
        s.probation = "400d".into();
        assert_eq!(s.config().unwrap_err(), GuardSettingsError::Probation);
        s.probation = "0s".into();
        assert!(s.config().is_ok());
        s.suspend_after_refusals = 0;
        assert_eq!(s.config().unwrap_err(), GuardSettingsError::Refusals);
        let mut s = GuardLayer::default().resolve();
        s.probation_limits.all.minute = 0;
        assert_eq!(
            s.config().unwrap_err(),
            GuardSettingsError::Budget("probation_limits".into())
        );
        let mut s = GuardLayer::default().resolve();
        if let Some(l) = s.limits.get_mut("partner") {
            l.outside.hour = l.outside.day + 1;
        }
        assert_eq!(
            s.config().unwrap_err(),
            GuardSettingsError::Budget("limits.partner".into())
        );
    }

    #[test]
    fn a_role_given_replaces_that_role_only() {
        let file = GuardLayer {
            limits: [(
                "counsellor".to_string(),
                LimitsToml {
                    all: BudgetToml {
                        minute: 1,
                        hour: 2,
                        day: 3,
                    },
                    outside: BudgetToml {
                        minute: 1,
                        hour: 1,
                        day: 1,
                    },
                },
            )]
            .into(),
            ..GuardLayer::default()
        };
        let flags = GuardLayer {
            mode: Some(GuardMode::Off),
            ..GuardLayer::default()
        };
        let s = file.over(flags).resolve();
        assert_eq!(s.mode, GuardMode::Off);
        assert_eq!(s.limits["counsellor"].all.day, 3);
        let d = GuardConfig::default();
        assert_eq!(Limits::from(s.limits["partner"]), d.limits["partner"]);
    }
}
