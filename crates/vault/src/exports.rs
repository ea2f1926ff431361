//! Exports of an agency's files to a recipient organisation (a partner): the people of the
//! agency enrolled with it when the export was asked for, each with exactly the categories the
//! recipient's own principals may read for the purpose. An operator, the DPO or a service of
//! the agency asks; an export of more than [`Vault::with_four_eyes_above`] people waits for a
//! second operator or DPO of the agency, never the one who asked, to approve it; the recipient
//! runs it, once, within a day. Each run adds its own markers ([`crate::markers`]).

use crate::core::Vault;
use crate::disclosure::{Disclosure, Reached, Record, Shape};
use crate::error::VaultError;
use crate::markers::ExportRun;
use crate::principal::Principal;
use crate::views::PersonView;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Purpose, Role};
use rempart_store::{ExportRecord, ListScope};

/// People above which an export awaits a second operator's approval, by default.
pub const FOUR_EYES_ABOVE: u64 = 50;

/// The files of an export, as they leave.
pub type ExportedFiles = Vec<PersonView>;

/// Seconds an export may wait to run after it was asked for.
const EXPIRES: i64 = 86_400;

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

    /// The ids of the people of `agency` enrolled with `recipient` (decoys among them: they
    /// look like any file, and trip when the export runs).
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
                if p.agency == agency {
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
        let ids = self.export_ids(p.agency().as_str(), recipient)?;
        let people = ids.len() as u64;
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
            ids,
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

    /// One export of the caller's agency, or for the caller when it is the recipient.
    pub fn export_record(&self, p: &Principal, id: &str) -> Result<ExportRecord, VaultError> {
        let x = self.store.export(id)?.ok_or(VaultError::NotFound)?;
        let recipient = p.role() == Role::Partner && x.recipient == p.agency().as_str();
        let agency = matches!(p.role(), Role::Operator | Role::Dpo | Role::Service)
            && x.agency == p.agency().as_str();
        if recipient || agency {
            Ok(x)
        } else {
            Err(VaultError::NotFound)
        }
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

    /// Runs an export that is ready, once, within a day of its request, for its recipient (a
    /// principal of the recipient organisation): the people it was asked (and approved) for
    /// that are still enrolled, with the categories the recipient may read for the purpose. A
    /// decoy among them trips containment; a small export is counted against the recipient's
    /// budgets like reads. Recorded, before anything leaves, with every person and category.
    pub fn run_export(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Disclosure<ExportedFiles>, VaultError> {
        let x = self.export_record(p, id)?;
        if p.role() != Role::Partner {
            return Err(VaultError::Forbidden("an export runs for its recipient"));
        }
        if x.state != READY {
            return Err(VaultError::Forbidden(if x.state == AWAITING {
                "this export awaits a second operator's approval"
            } else {
                "this export has run already"
            }));
        }
        if self.clock.now() - x.created_at > EXPIRES {
            return Err(VaultError::Forbidden(
                "this export was asked for more than a day ago: ask for a new one",
            ));
        }
        // Asked for when small, and the threshold lowered since: it needs its approval now.
        if x.approver.is_none() && x.people > self.four_eyes_above {
            return Err(VaultError::Forbidden(
                "this export awaits a second operator's approval",
            ));
        }
        let recipient = Agency::parse(&x.recipient).map_err(|_| VaultError::NotFound)?;
        let purpose = Purpose::parse(&x.purpose).ok_or(VaultError::NotFound)?;
        let reader = Self::recipient(&recipient);
        // What was asked (and approved) for, still enrolled: never anyone else.
        let still: std::collections::HashSet<String> = self
            .export_ids(&x.agency, &recipient)?
            .into_iter()
            .collect();
        let mut files = Vec::new();
        let mut reached = Vec::new();
        let mut categories = std::collections::BTreeSet::new();
        for pid in x.ids.iter().filter(|i| still.contains(*i)) {
            let Ok((stored, dk)) = self.load(pid) else {
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
        let shape = Shape::Export {
            approved: x.approver.is_some(),
        };
        // Containment first (a decoy trips, a small export is counted): a refused export
        // stays ready and records nothing as having left.
        self.contain(p, &reached, shape)?;
        // Its markers, made before anything leaves: written with the export's run.
        let markers = self.make_markers(
            &ExportRun {
                id: &x.id,
                agency: &x.agency,
                recipient: &x.recipient,
                reader: &reader,
                purpose,
            },
            &files,
        )?;
        // The entry names the people exported, never the markers.
        let mut e = self.entry(
            p,
            Action::Export,
            files.iter().map(|f| f.id.clone()).collect(),
            categories.into_iter().collect(),
            Some(purpose),
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "export={} recipient={} requester={} approver={}",
            x.id,
            x.recipient,
            x.requester,
            x.approver.as_deref().unwrap_or("-")
        ));
        // Keys first (a crash leaves an orphan key, never a file without its key); then, in
        // one transaction, the export marked done, its markers and its entry, before anything
        // leaves: once.
        self.keys.put_keys(&markers.keys)?;
        let ran = self.store.run_export_with_markers(
            id,
            READY,
            DONE,
            &markers.files,
            &markers.records,
            &e,
        );
        if !matches!(ran, Ok(true)) {
            for k in &markers.keys {
                let _ = self.keys.destroy_key(&k.person);
            }
        }
        if !ran? {
            return Err(VaultError::Forbidden("this export has run already"));
        }
        // Among the real files, in id order.
        files.extend(markers.views);
        files.sort_by(|a, b| a.id.cmp(&b.id));
        self.disclose(p, files, reached, shape, Record::Written)
    }
}
