//! Containment shared by the nodes of an installation. Each principal's exposure is one part
//! (its windows, refusals, habits and baseline), each agency's another (its outside windows
//! and the marks of its principals), kept as bytes where every node reads them (Redis, or the
//! database). A node decides on the two parts exactly as the local guard decides on its maps
//! ([`crate::decide`]): the budget is the same wherever a token is used.

use crate::decide::{decide_on, Verdict};
use crate::signals::Marks;
use crate::window::Window;
use crate::{Account, Exposed, GuardConfig, Kind, Subject};
use serde::{Deserialize, Serialize};

/// The format of the parts.
const PART_VERSION: u32 = 1;

/// A principal's part. A field this version does not know makes it unreadable (refused),
/// never ignored.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalPart {
    version: u32,
    account: Account,
}

/// An agency's part (unknown fields likewise refused).
#[derive(Serialize, Deserialize, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct AgencyPart {
    version: u32,
    outside: [Window; 3],
    marks: Marks,
}

/// Why a shared part could not be read. Containment then refuses: a part nobody can read
/// must not become a fresh budget.
#[derive(Debug, thiserror::Error)]
pub enum PartsError {
    /// Not a part this version writes.
    #[error("a shared containment part is not one this version reads")]
    Unreadable,
}

fn read<T: serde::de::DeserializeOwned>(
    bytes: Option<&[u8]>,
    version: impl Fn(&T) -> u32,
) -> Result<Option<T>, PartsError> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let part: T = serde_json::from_slice(bytes).map_err(|_| PartsError::Unreadable)?;
    if version(&part) != PART_VERSION {
        return Err(PartsError::Unreadable);
    }
    Ok(Some(part))
}

fn write<T: Serialize>(part: &T) -> Result<Vec<u8>, PartsError> {
    serde_json::to_vec(part).map_err(|_| PartsError::Unreadable)
}

/// A decision on shared parts: the verdict, and the parts to write back.
#[derive(Debug)]
pub struct PartsDecision {
    /// What becomes of the response.
    pub verdict: Verdict,
    /// The principal's new part (every decision changes it: it observes the principal's
    /// habits).
    pub principal: Vec<u8>,
    /// The agency's new part, when the decision changed it (people outside a caseload
    /// counted, a principal marked, old entries expired); `None`: left as it was, as most
    /// decisions leave it, so that a shared store need not write it, nor hold it while deciding.
    pub agency: Option<Vec<u8>>,
}

impl GuardConfig {
    /// Decides, as [`crate::Guard::decide_reported`] does, on `who`'s part and its agency's
    /// (`None`: never written), and gives the parts to write back.
    pub fn decide_on_parts(
        &self,
        who: &Subject,
        now: i64,
        kind: Kind,
        people: &[Exposed],
        principal: Option<&[u8]>,
        agency: Option<&[u8]>,
    ) -> Result<PartsDecision, PartsError> {
        let mut account = read(principal, |p: &PrincipalPart| p.version)?
            .map(|p| p.account)
            .unwrap_or_default();
        let mut agency = read(agency, |a: &AgencyPart| a.version)?.unwrap_or_else(|| AgencyPart {
            version: PART_VERSION,
            ..AgencyPart::default()
        });
        let before = agency.clone();
        let verdict = decide_on(
            self,
            &mut account,
            &mut agency.outside,
            &mut agency.marks,
            who,
            now,
            kind,
            people,
        );
        let agency = if agency == before {
            None
        } else {
            Some(write(&agency)?)
        };
        Ok(PartsDecision {
            verdict,
            principal: write(&PrincipalPart {
                version: PART_VERSION,
                account,
            })?,
            agency,
        })
    }
}

/// A restored principal's part: its refusals cleared, the people it was shown kept (a restore
/// never gives a fresh budget). `None`: nothing to write (no part).
pub fn pardon_part(part: Option<&[u8]>) -> Result<Option<Vec<u8>>, PartsError> {
    let Some(mut p) = read(part, |p: &PrincipalPart| p.version)? else {
        return Ok(None);
    };
    p.account.pardon();
    write(&p).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Decision, Guard};
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Parts kept as a shared store keeps them: bytes by key.
    #[derive(Default)]
    struct Kept(HashMap<String, Vec<u8>>);

    impl Kept {
        fn decide(
            &mut self,
            config: &GuardConfig,
            who: &Subject,
            now: i64,
            kind: Kind,
            people: &[Exposed],
        ) -> Verdict {
            let (p, a) = (format!("p:{}", who.principal), format!("a:{}", who.agency));
            let d = config
                .decide_on_parts(
                    who,
                    now,
                    kind,
                    people,
                    self.0.get(&p).map(Vec::as_slice),
                    self.0.get(&a).map(Vec::as_slice),
                )
                .unwrap();
            self.0.insert(p, d.principal);
            if let Some(agency) = d.agency {
                self.0.insert(a, agency);
            }
            d.verdict
        }
    }

    /// A counsellor long past probation.
    fn durand() -> Subject<'static> {
        Subject {
            principal: "c.durand",
            role: "counsellor",
            agency: "ML-1",
            since: 0,
            client: None,
        }
    }

    fn kind(k: u8) -> Kind {
        match k % 5 {
            0 => Kind::Read,
            1 => Kind::Search,
            2 => Kind::Listing { paged: false },
            3 => Kind::Listing { paged: true },
            _ => Kind::Update,
        }
    }

    proptest! {
        /// Deciding on parts read back from bytes gives, step by step, the decisions of the
        /// guard that keeps its maps in memory: a token is held to the same budget wherever
        /// its parts are kept.
        #[test]
        fn parts_decide_as_the_local_guard(
            steps in proptest::collection::vec(
                (0u8..3, 0i64..40, any::<u8>(), proptest::collection::vec((0u8..60, any::<bool>(), 0u8..50), 0..4)),
                1..120,
            )
        ) {
            let config = GuardConfig::default();
            let mut local = Guard::new(config.clone());
            let mut kept = Kept::default();
            let names = ["c.durand", "s.martin", "case-app"];
            let roles = ["counsellor", "counsellor", "service"];
            let mut now = 100 * 86_400 + 10 * 3_600;
            for (who, pause, k, people) in steps {
                now += pause;
                let ids: Vec<String> = people.iter().map(|(i, _, _)| format!("p{i}")).collect();
                let exposed: Vec<Exposed> = people
                    .iter()
                    .zip(&ids)
                    .map(|((_, mine, d), id)| Exposed { id, in_caseload: *mine, decoy: *d == 0 })
                    .collect();
                let subject = Subject {
                    principal: names[who as usize],
                    role: roles[who as usize],
                    agency: "ML-1",
                    // One of them on probation.
                    since: if who == 1 { now - 60 } else { 0 },
                    client: None,
                };
                let a = local.decide_reported(&subject, now, kind(k), &exposed);
                let b = kept.decide(&config, &subject, now, kind(k), &exposed);
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn only_a_decision_that_changes_the_agency_gives_its_part_to_write() {
        let config = GuardConfig::default();
        let who = durand();
        // Office hours: no signal marks the principal.
        let now = 100 * 86_400 + 10 * 3_600;
        let person = |in_caseload| {
            [Exposed {
                id: "p1",
                in_caseload,
                decoy: false,
            }]
        };
        let mine = config
            .decide_on_parts(&who, now, Kind::Read, &person(true), None, None)
            .unwrap();
        assert_eq!(mine.verdict.decision, Decision::Pass);
        assert!(
            mine.agency.is_none(),
            "a read in the caseload leaves the agency as it was"
        );
        let outside = config
            .decide_on_parts(
                &who,
                now + 1,
                Kind::Read,
                &person(false),
                Some(&mine.principal),
                None,
            )
            .unwrap();
        assert_eq!(outside.verdict.decision, Decision::Pass);
        let agency = outside
            .agency
            .expect("a person outside the caseload counts for the agency");
        let again = config
            .decide_on_parts(
                &who,
                now + 2,
                Kind::Read,
                &person(true),
                Some(&outside.principal),
                Some(&agency),
            )
            .unwrap();
        assert!(
            again.agency.is_none(),
            "the agency's part read back compares equal: {} then {:?}",
            String::from_utf8_lossy(&agency),
            again.agency.as_deref().map(String::from_utf8_lossy)
        );
    }

    #[test]
    fn a_part_nobody_can_read_is_refused_not_taken_for_a_fresh_budget() {
        let config = GuardConfig::default();
        let who = durand();
        let seen = [Exposed {
            id: "p1",
            in_caseload: true,
            decoy: false,
        }];
        for bad in [
            &b"not json"[..],
            br#"{"version":2,"account":{}}"#,
            br#"{"version":1,"outside":[[],[],[]],"marks":{},"reset":true}"#,
        ] {
            assert!(matches!(
                config.decide_on_parts(&who, 1_000, Kind::Read, &seen, Some(bad), None),
                Err(PartsError::Unreadable)
            ));
            assert!(matches!(
                config.decide_on_parts(&who, 1_000, Kind::Read, &seen, None, Some(bad)),
                Err(PartsError::Unreadable)
            ));
            assert!(pardon_part(Some(bad)).is_err());
        }
        assert!(pardon_part(None).unwrap().is_none());
    }

    #[test]
    fn a_pardon_clears_the_refusals_and_keeps_the_people_shown() {
        let config = GuardConfig {
            suspend_after_refusals: 2,
            ..GuardConfig::default()
        };
        let who = durand();
        let mut kept = Kept::default();
        let now = 100 * 86_400 + 10 * 3_600;
        let ids: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
        let mut refused = 0;
        for id in &ids {
            let one = [Exposed {
                id,
                in_caseload: true,
                decoy: false,
            }];
            match kept.decide(&config, &who, now, Kind::Read, &one).decision {
                Decision::Pass => {}
                Decision::Refuse { .. } => refused += 1,
                Decision::Suspend(_) => break,
            }
        }
        assert_eq!(refused, 1, "suspended at the second refusal");
        let part = kept.0.get("p:c.durand").cloned();
        let pardoned = pardon_part(part.as_deref()).unwrap().unwrap();
        kept.0.insert("p:c.durand".into(), pardoned);
        // Still no room: the people shown are kept, so the next is refused, not suspended.
        let one = [Exposed {
            id: "p-new",
            in_caseload: true,
            decoy: false,
        }];
        assert!(matches!(
            kept.decide(&config, &who, now, Kind::Read, &one).decision,
            Decision::Refuse { .. }
        ));
    }

    #[test]
    fn searches_that_find_nobody_cannot_grow_a_part_without_bound() {
        let config = GuardConfig::default();
        let who = durand();
        let mut kept = Kept::default();
        let now = 100 * 86_400 + 10 * 3_600;
        let mut sizes = Vec::new();
        for k in 0..5_000 {
            // Within one hour: nothing expires.
            kept.decide(&config, &who, now + k / 2, Kind::Search, &[]);
            if k % 1_000 == 999 {
                sizes.push(kept.0["p:c.durand"].len());
            }
        }
        assert!(
            sizes.windows(2).all(|w| w[1] <= w[0] + 64),
            "the part grows with every miss: {sizes:?}"
        );
        assert!(sizes[4] < 64 * 1024, "{sizes:?}");
    }
}
