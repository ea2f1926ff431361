//! Oversight: why the policy decides what it does, and the DPO's review of break-glass reads.

use crate::access::{self, Caller};
use crate::core::*;
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_domain::{Category, Purpose};
use rempart_policy::{Act, LogAct, Target};
use rempart_store::StoreError;

impl Vault {
    /// Explains what the policy decides for a principal acting on a file: the facts the
    /// policy was given and, per category (or for the whole file), the decision and the
    /// policies that made it. For operators (`rempart policy check`, asked `by` the local
    /// administrator); returns no personal data but the file's access facts, and is recorded.
    pub fn explain(
        &self,
        by: &Principal,
        who: &Principal,
        id: &str,
        act: Act,
        purpose: Purpose,
    ) -> Result<Explanation, VaultError> {
        let (stored, dk) = self.load(id)?;
        let mut e = self.entry(
            by,
            Action::Explain,
            vec![stored.id.clone()],
            vec![],
            Some(purpose),
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "for principal={} role={} agency={} act={}",
            who.name(),
            who.role().as_str(),
            who.agency().as_str(),
            act.as_str()
        ));
        self.store.append_audit(&[e])?;
        let minor = self.minor(&stored, &dk)?;
        let caller = Caller::of(who);
        let facts = access::facts(&stored, minor);
        let how = self.situation(who, purpose);
        let targets: Vec<Target> = if act.per_category() {
            Category::ALL
                .iter()
                .map(|c| Target::Category(*c))
                .chain((act == Act::Read).then_some(Target::NirLastDigits))
                .collect()
        } else {
            vec![Target::File]
        };
        let decisions = targets
            .into_iter()
            .map(|t| {
                let v = self
                    .policies
                    .decide(&caller.subject(), act, &facts, &how, t);
                (
                    if t == Target::File {
                        "(whole file)".to_string()
                    } else {
                        t.as_str().to_string()
                    },
                    v,
                )
            })
            .collect();
        Ok(Explanation {
            agency: stored.agency.clone(),
            counsellor: stored.counsellor.clone(),
            partners: stored.partners.clone(),
            minor,
            decisions,
        })
    }

    /// The break-glass reads of the DPO's agency since Unix time `since`, oldest first, with
    /// their justification: the DPO's review list. Reading it is recorded.
    pub fn break_glass_uses(
        &self,
        p: &Principal,
        since: i64,
    ) -> Result<Vec<BreakGlassUse>, VaultError> {
        self.audit_reader(p, LogAct::ReviewBreakGlass, Action::ReadAccesses)?;
        let mut e = self.entry(
            p,
            Action::ReadAccesses,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("break_glass_review since={since}"));
        self.store.append_audit(&[e])?;
        let mut out = Vec::new();
        let mut failed = None;
        let marker = b"break_glass: ";
        self.store.audit_visit(0, &mut |seq, bytes, _| {
            if !bytes.windows(marker.len()).any(|w| w == marker) {
                return true;
            }
            match AuditEntry::parse(bytes) {
                Ok(e) => {
                    let justification = e
                        .detail
                        .as_deref()
                        .and_then(|d| d.split_once("break_glass: "))
                        .map(|(_, j)| j.to_string());
                    if let Some(justification) = justification {
                        if e.time >= since && e.agency == p.agency.as_str() {
                            out.push(BreakGlassUse {
                                seq,
                                time: e.time,
                                principal: e.principal,
                                action: e.action,
                                persons: e.persons,
                                categories: e.categories,
                                outcome: e.outcome,
                                justification,
                            });
                        }
                    }
                    true
                }
                Err(_) => {
                    failed = Some(StoreError::Corrupt("audit entry"));
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(out)
    }
}
