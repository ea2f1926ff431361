//! What a stolen copy of the database held: the people whose files were in it on the day it
//! was taken, and the categories each file held, read from the log's record of every file
//! created, imported, changed and erased. Whether any of it could be read depends on the keys
//! the attacker held, which the caller knows (the key store), not the log.

use rempart_audit::{Action, AuditEntry, Outcome};
use std::collections::{BTreeMap, BTreeSet};

/// A file in the copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// Categories the file held (an import's entry names the categories of all its files: a
    /// file of an import is counted with all of them, which can only over-count).
    pub categories: BTreeSet<String>,
    /// Whether the file was erased after the copy was taken (its key is gone since; the copy
    /// still holds its ciphertext).
    pub erased_since: bool,
}

/// The files a copy of the database taken at `as_of` held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdings {
    as_of: i64,
    /// Per person, in id order.
    pub files: BTreeMap<String, Held>,
    /// The master key version that wrapped the copy's data keys: the one the last key rotation
    /// before the copy re-wrapped them under (1 before any).
    pub version_at_copy: u32,
    /// Whether a key rotation was recorded after the copy: the key store now says nothing of
    /// the versions the copy's keys were under.
    pub rotated_since: bool,
}

impl Holdings {
    /// An empty tally for a copy taken at `as_of` (Unix seconds; `i64::MAX`: now).
    pub fn new(as_of: i64) -> Holdings {
        Holdings {
            as_of,
            files: BTreeMap::new(),
            version_at_copy: 1,
            rotated_since: false,
        }
    }

    /// Counts one entry of the log, in order.
    pub fn count(&mut self, e: &AuditEntry) {
        if e.outcome != Outcome::Allowed {
            return;
        }
        match e.action {
            Action::Create | Action::Import | Action::Update if e.time < self.as_of => {
                for id in &e.persons {
                    let held = self.files.entry(id.clone()).or_default();
                    held.categories.extend(e.categories.iter().cloned());
                }
            }
            Action::KeyRotate => {
                if e.time < self.as_of {
                    if let Some(v) = e
                        .detail
                        .as_deref()
                        .and_then(|d| {
                            d.split_whitespace()
                                .find_map(|w| w.strip_prefix("master_version="))
                        })
                        .and_then(|v| v.parse().ok())
                    {
                        self.version_at_copy = v;
                    }
                } else {
                    self.rotated_since = true;
                }
            }
            Action::Erase => {
                for id in &e.persons {
                    if e.time < self.as_of {
                        self.files.remove(id);
                    } else if let Some(held) = self.files.get_mut(id) {
                        held.erased_since = true;
                    }
                }
            }
            _ => {}
        }
    }

    /// The people the copy held.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the copy held no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: i64, action: Action, persons: &[&str], cats: &[&str]) -> AuditEntry {
        AuditEntry {
            time: t,
            principal: "local".into(),
            token_id: "-".into(),
            agency: "ML-075-13".into(),
            role: "operator".into(),
            action,
            persons: persons.iter().map(|s| s.to_string()).collect(),
            categories: cats.iter().map(|s| s.to_string()).collect(),
            purpose: None,
            client: None,
            request_id: None,
            outcome: Outcome::Allowed,
            detail: None,
        }
    }

    #[test]
    fn a_copy_holds_the_files_made_before_it_and_not_yet_erased() {
        let mut h = Holdings::new(100);
        for e in [
            entry(10, Action::Create, &["p_a"], &["identity", "contact"]),
            entry(
                20,
                Action::Import,
                &["p_b", "p_c"],
                &["identity", "situation"],
            ),
            entry(30, Action::Erase, &["p_c"], &["identity", "situation"]),
            entry(40, Action::Update, &["p_a"], &["education"]),
            entry(50, Action::Read, &["p_b"], &["social_security"]),
            entry(150, Action::Create, &["p_d"], &["identity"]),
            entry(160, Action::Erase, &["p_a"], &["identity"]),
            entry(170, Action::Update, &["p_b"], &["professional"]),
        ] {
            h.count(&e);
        }
        let ids: Vec<&str> = h.files.keys().map(String::as_str).collect();
        assert_eq!(ids, ["p_a", "p_b"]);
        let a = &h.files["p_a"];
        assert!(a.erased_since);
        assert_eq!(
            a.categories.iter().map(String::as_str).collect::<Vec<_>>(),
            ["contact", "education", "identity"]
        );
        let b = &h.files["p_b"];
        assert!(!b.erased_since);
        assert_eq!(
            b.categories.iter().map(String::as_str).collect::<Vec<_>>(),
            ["identity", "situation"],
            "a read adds nothing, a change after the copy adds nothing"
        );
    }

    #[test]
    fn rotations_tell_which_version_wrapped_the_copy() {
        let mut h = Holdings::new(100);
        let mut r = entry(50, Action::KeyRotate, &[], &[]);
        r.detail = Some("master_version=2 rewrapped=10".into());
        h.count(&r);
        assert_eq!((h.version_at_copy, h.rotated_since), (2, false));
        let mut r = entry(150, Action::KeyRotate, &[], &[]);
        r.detail = Some("master_version=3 rewrapped=10".into());
        h.count(&r);
        assert_eq!((h.version_at_copy, h.rotated_since), (2, true));
    }

    #[test]
    fn a_refused_act_holds_nothing() {
        let mut h = Holdings::new(i64::MAX);
        let mut e = entry(10, Action::Create, &["p_a"], &["identity"]);
        e.outcome = Outcome::Denied;
        h.count(&e);
        assert!(h.is_empty());
    }
}
