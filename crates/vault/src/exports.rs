//! Exports of an agency's files to a recipient organisation (a partner): the people of the
//! agency enrolled with it, each with exactly the categories the recipient's own principals may
//! read for the purpose. An export of more than [`Vault::with_four_eyes_above`] people waits for
//! a second operator of the agency, never the one who asked, to approve it; it runs once.

use crate::core::Vault;
use crate::disclosure::{Disclosure, Reached, Record, Shape};
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::PersonView;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Purpose, Role};
use rempart_store::{ExportRecord, ListScope};

/// People above which an export awaits a second operator's approval, by default.
pub const FOUR_EYES_ABOVE: u64 = 50;

/// The files of an export, as they leave.
pub type ExportedFiles = Vec<PersonView>;

/// States of an export.
const AWAITING: &str = "awaiting_approval";
const READY: &str = "ready";
const DONE: &str = "done";

impl Vault {
    fn may_export(p: &Principal) -> Result<(), VaultError> {
        match p.role() {
            Role::Operator | Role::Dpo | Role::Service => Ok(()),
            _ => Err(VaultError::Forbidden(
                "only an operator, the DPO or a service of the agency exports files",
            )),
        }
    }

    /// The recipient as its own principals are, for the policy.
    fn recipient(recipient: &Agency) -> Principal {
        Principal::described("export", Role::Partner, recipient.clone())
    }

    /// The ids of the people of `agency` enrolled with `recipient` (decoys never).
    fn export_ids(&self, agency: &str, recipient: &Agency) -> Result<Vec<String>, VaultError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.list_persons(
                &ListScope::Enrolled(recipient.as_str()),
                after.as_deref(),
                500,
            )?;
            let done = rows.len() < 500;
            for p in rows {
                after = Some(p.id.clone());
                if p.agency == agency && !p.decoy {
                    out.push(p.id);
                }
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Asks for an export of the people of `p`'s agency enrolled with `recipient`, for
    /// `purpose`. It is `ready` at once, or `awaiting_approval` when it holds more people than
    /// the four-eyes threshold. Recorded.
    pub fn request_export(
        &self,
        p: &Principal,
        recipient: &Agency,
        purpose: Purpose,
    ) -> Result<ExportRecord, VaultError> {
        Self::may_export(p)?;
        let people = self.export_ids(p.agency().as_str(), recipient)?.len() as u64;
        let export = ExportRecord {
            id: format!("exp_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            agency: p.agency().as_str().to_string(),
            recipient: recipient.as_str().to_string(),
            purpose: purpose.as_str().to_string(),
            requester: p.name().to_ascii_lowercase(),
            people,
            state: if people > self.four_eyes_above {
                AWAITING
            } else {
                READY
            }
            .to_string(),
            approver: None,
            created_at: self.clock.now(),
        };
        let mut e = self.entry(
            p,
            Action::ExportRequest,
            vec![],
            vec![],
            Some(purpose),
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "export={} recipient={} people={} state={}",
            export.id, export.recipient, export.people, export.state
        ));
        self.store.insert_export(&export, &e)?;
        Ok(export)
    }

    /// One export of the caller's agency.
    pub fn export_record(&self, p: &Principal, id: &str) -> Result<ExportRecord, VaultError> {
        Self::may_export(p)?;
        self.store
            .export(id)?
            .filter(|x| x.agency == p.agency().as_str())
            .ok_or(VaultError::NotFound)
    }

    /// A second operator or DPO of the agency approves an export that awaits it; the one who
    /// asked for it cannot. Recorded.
    pub fn approve_export(&self, p: &Principal, id: &str) -> Result<ExportRecord, VaultError> {
        if !matches!(p.role(), Role::Operator | Role::Dpo) {
            return Err(VaultError::Forbidden(
                "only an operator or the DPO of the agency approves an export",
            ));
        }
        let x = self.export_record(p, id)?;
        if x.requester.eq_ignore_ascii_case(p.name()) {
            return Err(VaultError::Forbidden(
                "an export is approved by a second operator, not by the one who asked for it",
            ));
        }
        let mut e = self.entry(
            p,
            Action::ExportApprove,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("export={} requester={}", x.id, x.requester));
        let approver = p.name().to_ascii_lowercase();
        if !self
            .store
            .move_export(id, AWAITING, READY, Some(&approver), &e)?
        {
            return Err(VaultError::Forbidden(
                "this export does not await an approval",
            ));
        }
        self.export_record(p, id)
    }

    /// Runs an export that is ready, once, for the one who asked for it: every person of the
    /// agency enrolled with the recipient, with the categories the recipient may read for the
    /// purpose. Recorded with every person and category exported.
    pub fn run_export(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Disclosure<ExportedFiles>, VaultError> {
        let x = self.export_record(p, id)?;
        if !x.requester.eq_ignore_ascii_case(p.name()) {
            return Err(VaultError::Forbidden(
                "an export runs for the one who asked for it",
            ));
        }
        if x.state != READY {
            return Err(VaultError::Forbidden(if x.state == AWAITING {
                "this export awaits a second operator's approval"
            } else {
                "this export has run already"
            }));
        }
        let recipient = Agency::parse(&x.recipient).map_err(|_| VaultError::NotFound)?;
        let purpose = Purpose::parse(&x.purpose).ok_or(VaultError::NotFound)?;
        let reader = Self::recipient(&recipient);
        let ids = self.export_ids(&x.agency, &recipient)?;
        // What was asked for (and approved) is what runs: an export that has grown since
        // (people enrolled meanwhile) would go past its four eyes.
        if ids.len() as u64 > x.people {
            return Err(VaultError::Forbidden(
                "this export holds more people than when it was asked for: ask for a new one",
            ));
        }
        let mut files = Vec::new();
        let mut reached = Vec::new();
        let mut categories = std::collections::BTreeSet::new();
        for pid in ids {
            let Ok((stored, dk)) = self.load(&pid) else {
                continue;
            };
            if let Some((record, returned)) = self.view_as(&reader, &stored, &dk, purpose, None)? {
                categories.extend(returned);
                reached.push(Reached::of(p, &stored));
                files.push(PersonView {
                    id: stored.id,
                    record,
                });
            }
        }
        let mut e = self.entry(
            p,
            Action::Export,
            files.iter().map(|f| f.id.clone()).collect(),
            categories.into_iter().collect(),
            Some(purpose),
            Outcome::Allowed,
        );
        e.detail = Some(format!("export={} recipient={}", x.id, x.recipient));
        // Once: the export is marked done before anything leaves.
        if !self.store.move_export(id, READY, DONE, None, &e)? {
            return Err(VaultError::Forbidden("this export has run already"));
        }
        self.disclose(p, files, reached, Shape::Export, Record::Written)
    }
}
