//! Signals beyond volume: what in a principal's way of working makes its budgets smaller. Each
//! active signal adds its weight `w`; the budgets in force are the role's divided by `1 + Σw`
//! (at least 1 person). Weights and thresholds are in [`SignalConfig`].

use crate::window::Window;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Signal {
    /// An hour the principal never works: outside the office hours for a principal without
    /// history, outside the hours it has worked for one with.
    OffHours,
    /// Paging through a whole agency listing: many pages after the first within an hour.
    ListingPaging,
    /// Searches that mostly find nobody (guessed emails or NIRs).
    SearchMisses,
    /// One principal's tokens used from several client addresses at once.
    ManyClients,
    /// Many principals of one agency refused or signalled within the hour.
    AgencyRising,
}

impl Signal {
    /// Its name, as alerts and the configuration write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::OffHours => "off_hours",
            Signal::ListingPaging => "listing_paging",
            Signal::SearchMisses => "search_misses",
            Signal::ManyClients => "many_clients",
            Signal::AgencyRising => "agency_rising",
        }
    }
}

/// Weights and thresholds of the signals.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalConfig {
    /// Weight of [`Signal::OffHours`].
    pub off_hours: f64,
    /// Weight of [`Signal::ListingPaging`].
    pub listing_paging: f64,
    /// Weight of [`Signal::SearchMisses`].
    pub search_misses: f64,
    /// Weight of [`Signal::ManyClients`].
    pub many_clients: f64,
    /// Weight of [`Signal::AgencyRising`].
    pub agency_rising: f64,
    /// Office hours, local time: from this hour (inclusive)...
    pub office_from: u8,
    /// ...to this one (exclusive), Monday to Saturday.
    pub office_to: u8,
    /// Seconds to add to UTC for local time (3,600 for Paris in winter).
    pub utc_offset: i64,
    /// Days of activity after which a principal's own hours replace the office hours.
    pub learned_after_days: u32,
    /// Pages after the first of agency listings within an hour that make
    /// [`Signal::ListingPaging`].
    pub listing_pages: u32,
    /// Searches within an hour, at least, for [`Signal::SearchMisses`]...
    pub searches: u32,
    /// ...of which this share or more found nobody.
    pub miss_share: f64,
    /// Seconds within which two client addresses make [`Signal::ManyClients`].
    pub clients_within: u64,
    /// Principals of one agency refused or signalled within an hour for
    /// [`Signal::AgencyRising`].
    pub agency_principals: u32,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            off_hours: 3.0,
            listing_paging: 1.0,
            search_misses: 2.0,
            many_clients: 3.0,
            agency_rising: 1.0,
            office_from: 7,
            office_to: 20,
            utc_offset: 3_600,
            learned_after_days: 10,
            listing_pages: 5,
            searches: 10,
            miss_share: 0.7,
            clients_within: 300,
            agency_principals: 3,
        }
    }
}

impl SignalConfig {
    /// The weight of `s`.
    pub fn weight(&self, s: Signal) -> f64 {
        match s {
            Signal::OffHours => self.off_hours,
            Signal::ListingPaging => self.listing_paging,
            Signal::SearchMisses => self.search_misses,
            Signal::ManyClients => self.many_clients,
            Signal::AgencyRising => self.agency_rising,
        }
        .max(0.0)
    }

    /// Local hour of the week (0: Monday 00:00) and whether it is within office hours.
    fn hour_of_week(&self, now: i64) -> (usize, bool) {
        let local = now + self.utc_offset;
        // 1970-01-01 was a Thursday: day 3 of a week starting on Monday.
        let day = (local.div_euclid(86_400) + 3).rem_euclid(7) as usize;
        let hour = (local.rem_euclid(86_400) / 3_600) as usize;
        let office =
            day < 6 && hour >= usize::from(self.office_from) && hour < usize::from(self.office_to);
        (day * 24 + hour, office)
    }
}

/// What one principal's way of working has shown.
/// Searches, misses and pages kept per principal over the hour: far above every threshold of
/// the signals, and a bound on the size of its part (searches that find nobody are never
/// refused, so nothing else bounds them).
const EVENTS_KEPT: usize = 1_000;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Habits {
    /// Hours of the week it has worked in (168 bits).
    hours: [u64; 3],
    /// Days it has worked on (Unix day numbers), the most recent last.
    days: Vec<i64>,
    /// Agency listing pages after the first, in the last hour.
    pages: Window,
    /// Searches in the last hour, and those that found nobody.
    searches: Window,
    misses: Window,
    /// The last client address, and when.
    client: Option<(String, u64)>,
    /// When two addresses were last seen together.
    many_clients_at: Option<u64>,
}

impl Habits {
    fn worked_in(&self, hour: usize) -> bool {
        self.hours[hour / 64] & (1 << (hour % 64)) != 0
    }

    /// Records activity at `now` (after the decision: a refused response teaches nothing).
    pub(crate) fn learn(&mut self, c: &SignalConfig, now: i64) {
        let (hour, _) = c.hour_of_week(now);
        self.hours[hour / 64] |= 1 << (hour % 64);
        let day = now.div_euclid(86_400);
        if self.days.last() != Some(&day) {
            self.days.push(day);
            if self.days.len() > 60 {
                self.days.remove(0);
            }
        }
    }

    /// Records what a response says about the principal's way of working.
    pub(crate) fn observe(
        &mut self,
        c: &SignalConfig,
        now: u64,
        kind: crate::Kind,
        found: usize,
        client: Option<&str>,
    ) {
        for w in [&mut self.pages, &mut self.searches, &mut self.misses] {
            w.expire(now, 3_600);
        }
        match kind {
            crate::Kind::Listing { paged: true } => self.pages.add_event_kept(now, EVENTS_KEPT),
            crate::Kind::Search => {
                self.searches.add_event_kept(now, EVENTS_KEPT);
                if found == 0 {
                    self.misses.add_event_kept(now, EVENTS_KEPT);
                }
            }
            _ => {}
        }
        if let Some(addr) = client {
            if let Some((last, at)) = &self.client {
                if last != addr && now.saturating_sub(*at) <= c.clients_within {
                    self.many_clients_at = Some(now);
                }
            }
            self.client = Some((addr.to_string(), now));
        }
    }

    /// The signals of this principal active at `now`.
    pub(crate) fn active(&mut self, c: &SignalConfig, now: i64, office_role: bool) -> Vec<Signal> {
        let mut out = Vec::new();
        let (hour, office) = c.hour_of_week(now);
        let learned = self.days.len() as u32 >= c.learned_after_days;
        let off = if learned {
            // Its own hours, an hour either side.
            ![hour, (hour + 1) % 168, (hour + 167) % 168]
                .iter()
                .any(|h| self.worked_in(*h))
        } else {
            office_role && !office
        };
        if off {
            out.push(Signal::OffHours);
        }
        let t = u64::try_from(now).unwrap_or(0);
        for w in [&mut self.pages, &mut self.searches, &mut self.misses] {
            w.expire(t, 3_600);
        }
        if self.pages.total() >= u64::from(c.listing_pages) {
            out.push(Signal::ListingPaging);
        }
        let searches = self.searches.total();
        if searches >= u64::from(c.searches)
            && self.misses.total() as f64 >= c.miss_share * searches as f64
        {
            out.push(Signal::SearchMisses);
        }
        if self
            .many_clients_at
            .is_some_and(|at| t.saturating_sub(at) < 3_600)
        {
            out.push(Signal::ManyClients);
        }
        out
    }
}

/// Principals of each agency refused or signalled, by when.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct AgencyWatch {
    marks: HashMap<String, Marks>,
}

impl AgencyWatch {
    /// The marks of `agency`.
    pub(crate) fn of(&mut self, agency: &str) -> &mut Marks {
        self.marks.entry(agency.to_string()).or_default()
    }
}

/// How long a mark stands before a new signal renews it (s).
pub(crate) const MARK_REFRESH: u64 = 60;

/// One agency's principals refused or signalled, by when.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Marks(HashMap<String, u64>);

impl Marks {
    /// Marks `principal` at `now`; a mark less than [`MARK_REFRESH`] old is kept as it is (the
    /// agency's marks then change at most once a minute per principal, so that nodes sharing
    /// them do not rewrite them at every decision of a signalled principal).
    pub(crate) fn mark(&mut self, principal: &str, now: u64) {
        // A mark dated ahead (a node whose clock is ahead) is kept too, not rewritten at every
        // decision.
        if let Some(at) = self.0.get(principal) {
            if now.saturating_sub(*at) < MARK_REFRESH {
                return;
            }
        }
        self.0.insert(principal.to_string(), now);
    }

    /// Whether `threshold` principals or more were marked within the hour.
    pub(crate) fn rising(&mut self, now: u64, threshold: u32) -> bool {
        self.0.retain(|_, t| now.saturating_sub(*t) < 3_600);
        self.0.len() as u64 >= u64::from(threshold.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_stands_a_minute_before_a_signal_renews_it_and_an_hour_in_all() {
        let mut m = Marks::default();
        m.mark("c.durand", 1_000);
        m.mark("c.durand", 1_030);
        assert_eq!(
            m.0.get("c.durand"),
            Some(&1_000),
            "not rewritten within the minute"
        );
        m.mark("c.durand", 1_060);
        assert_eq!(m.0.get("c.durand"), Some(&1_060));
        assert!(m.rising(1_060 + 3_599, 1));
        assert!(
            !m.rising(1_060 + 3_600, 1),
            "an hour after its last renewal"
        );
    }
}
