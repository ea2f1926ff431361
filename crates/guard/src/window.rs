//! One sliding window: who was counted when, each person at most once while the window holds
//! them.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Entries in the order they were counted; a person leaves the window `len` seconds after
/// being counted and may then be counted again. Kept (serialised) as its entries alone.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(from = "Entries", into = "Entries")]
pub(crate) struct Window {
    counted: HashMap<String, u64>,
    /// When each entry was counted, and the person (`None`: an event, a refusal).
    order: VecDeque<(u64, Option<String>)>,
}

/// A window as kept: its entries, in order.
#[derive(Serialize, Deserialize)]
pub(crate) struct Entries(VecDeque<(u64, Option<String>)>);

impl From<Entries> for Window {
    fn from(e: Entries) -> Window {
        let mut counted = HashMap::new();
        for (t, id) in e.0.iter() {
            if let Some(id) = id {
                counted.insert(id.clone(), *t);
            }
        }
        Window {
            counted,
            order: e.0,
        }
    }
}

impl From<Window> for Entries {
    fn from(w: Window) -> Entries {
        Entries(w.order)
    }
}

/// Two windows are the same when they hold the same entries in the same order (what is
/// counted follows from them).
impl PartialEq for Window {
    fn eq(&self, other: &Window) -> bool {
        self.order == other.order
    }
}

impl Window {
    /// Drops what was counted `len` seconds or more before `now`.
    pub(crate) fn expire(&mut self, now: u64, len: u64) {
        while let Some((t, _)) = self.order.front() {
            if t.saturating_add(len) > now {
                break;
            }
            if let Some((_, Some(id))) = self.order.pop_front() {
                self.counted.remove(&id);
            }
        }
    }

    /// Whether `id` is counted in the window.
    pub(crate) fn holds(&self, id: &str) -> bool {
        self.counted.contains_key(id)
    }

    /// The people the window holds, in the order they were counted.
    pub(crate) fn people(&self) -> impl Iterator<Item = &str> {
        self.order.iter().filter_map(|(_, id)| id.as_deref())
    }

    /// How many entries the window holds.
    pub(crate) fn total(&self) -> u64 {
        self.order.len() as u64
    }

    /// Counts `id` at `now`, unless it is counted already.
    pub(crate) fn add(&mut self, now: u64, id: &str) {
        if self.holds(id) {
            return;
        }
        self.counted.insert(id.to_string(), now);
        self.order.push_back((now, Some(id.to_string())));
    }

    /// Counts an event (a refusal) at `now`.
    pub(crate) fn add_event(&mut self, now: u64) {
        self.order.push_back((now, None));
    }

    /// Counts an event at `now`, keeping at most `kept` (the oldest dropped): for events nothing
    /// refuses (searches, pages), so that a principal's part cannot be grown without bound.
    pub(crate) fn add_event_kept(&mut self, now: u64, kept: usize) {
        self.order.push_back((now, None));
        while self.order.len() > kept {
            if let Some((_, Some(id))) = self.order.pop_front() {
                self.counted.remove(&id);
            }
        }
    }

    /// Seconds from `now` until `added` more fits under `limit`, at least 1; the whole window
    /// when it never will (more than `limit` at once).
    pub(crate) fn room_after(&self, now: u64, len: u64, added: u64, limit: u64) -> u64 {
        if added > limit {
            return len;
        }
        let mut left = self.total();
        for (t, _) in &self.order {
            left -= 1;
            if left + added <= limit {
                return t.saturating_add(len).saturating_sub(now).max(1);
            }
        }
        len
    }
}
