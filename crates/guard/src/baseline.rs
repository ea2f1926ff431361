//! A principal's learned baseline: the distinct people it was shown on each of its recent
//! working days. Once it has enough days, its day budget is the smaller of its role's and a
//! multiple of its own usual day (never under a floor): a counsellor who opens 20 files a day
//! trips long before an attacker's hundreds, whatever its role allows.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// How the baseline is learned and used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineConfig {
    /// Working days of history before the baseline applies.
    pub after_days: usize,
    /// The day budget is this multiple of the principal's usual day (its 90th percentile)...
    pub factor: f64,
    /// ...and never under this many people.
    pub floor: u32,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            after_days: 5,
            factor: 2.0,
            floor: 20,
        }
    }
}

/// Days of history kept.
const KEPT: usize = 28;

/// One principal's days.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// Distinct people of each past working day, the most recent last.
    days: Vec<u32>,
    /// Today (Unix day number) and the people counted on it.
    today: Option<(i64, HashSet<String>)>,
}

impl Baseline {
    /// Counts `ids` on the day of `now`, closing the previous day when it has changed.
    pub(crate) fn count<'a>(&mut self, now: i64, ids: impl Iterator<Item = &'a str>) {
        let day = now.div_euclid(86_400);
        match &mut self.today {
            Some((d, set)) if *d == day => {
                for id in ids {
                    if !set.contains(id) {
                        set.insert(id.to_string());
                    }
                }
            }
            _ => {
                if let Some((_, set)) = self.today.take() {
                    self.days.push(set.len() as u32);
                    if self.days.len() > KEPT {
                        self.days.remove(0);
                    }
                }
                self.today = Some((day, ids.map(str::to_string).collect()));
            }
        }
    }

    /// The day budget the baseline allows, once it has enough days.
    pub(crate) fn day_limit(&self, c: &BaselineConfig) -> Option<u32> {
        if self.days.len() < c.after_days.max(1) {
            return None;
        }
        let mut d = self.days.clone();
        d.sort_unstable();
        let p90 = d[((d.len() - 1) as f64 * 0.9).round() as usize];
        let limit = (f64::from(p90) * c.factor).ceil() as u32;
        Some(limit.max(c.floor))
    }
}
