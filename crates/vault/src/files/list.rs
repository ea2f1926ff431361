//! The caller's listing: a counsellor's caseload, a partner's enrolled people.

use crate::access::Caller;
use crate::core::*;
use crate::disclosure::{Disclosure, Reached, Record, Shape};
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use crate::LIST_SCAN;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Category, Purpose};
use rempart_store::ListScope;

impl Vault {
    /// A page of the caller's files after `cursor`: a counsellor's caseload, the people
    /// enrolled with a partner, the agency's files for the other roles; only those whose
    /// identity the policy lets the caller read for `purpose`.
    pub fn list(
        &self,
        p: &Principal,
        purpose: Purpose,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, VaultError> {
        self.disclose_list(p, purpose, cursor, limit)?.wait()
    }

    /// [`Vault::list`] for an asynchronous caller: the page leaves through
    /// [`Disclosure::release`].
    pub fn disclose_list(
        &self,
        p: &Principal,
        purpose: Purpose,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Disclosure<Page>, VaultError> {
        let limit = limit.clamp(1, 200);
        let caller = Caller::of(p);
        let name = p.name.to_ascii_lowercase();
        let scope = match Self::scope_of(p, true) {
            ListScope::Caseload { agency, .. } => ListScope::Caseload {
                agency,
                counsellor: &name,
            },
            other => other,
        };
        let how = self.situation(p, purpose);
        // A listing shows what a person needs to pick a file (names, birth date). The caller's
        // own caseload listing (a counsellor's files, a partner's enrolled people) is its daily
        // work and is not counted by containment; a listing of a whole agency (the other
        // roles) counts every person it shows, like reads. Either way the entry names them.
        let counted = matches!(scope, ListScope::Agency(_));
        // Files the caller may not see are skipped, and the cursor is only ever the id of a
        // file returned: it never reveals another one. At most LIST_SCAN files are looked at
        // per page; the walk is recorded with the listing.
        let mut items = Vec::with_capacity(limit);
        let mut reached = Vec::with_capacity(limit);
        let mut after = cursor.map(str::to_string);
        let mut scanned = 0usize;
        let mut more = false;
        'pages: while scanned < LIST_SCAN {
            let batch = (limit + 1).max(64).min(LIST_SCAN - scanned + 1);
            let rows = self.store.list_persons(&scope, after.as_deref(), batch)?;
            let end = rows.len() < batch;
            for stored in rows {
                if items.len() == limit {
                    more = true;
                    break 'pages;
                }
                scanned += 1;
                after = Some(stored.id.clone());
                if let Some(hit) = self.identity_if_allowed(&caller, &how, &stored)? {
                    items.push(hit);
                    if counted {
                        reached.push(Reached::of(p, &stored));
                    }
                }
                if scanned == LIST_SCAN {
                    break;
                }
            }
            if end {
                break;
            }
        }
        if scanned == LIST_SCAN {
            // The scan stopped early: the next page starts after the last file returned.
            more = !items.is_empty();
        }
        let next_cursor = if more {
            items.last().map(|h| h.id.clone())
        } else {
            None
        };
        let people: Vec<String> = items.iter().map(|h| h.id.clone()).collect();
        let mut e = self.entry(
            p,
            Action::List,
            people,
            names([Category::Identity]),
            Some(purpose),
            Outcome::Allowed,
        );
        let walk = format!("scanned={scanned}");
        e.detail = Some(match e.detail.take() {
            Some(bg) => format!("{walk} {bg}"),
            None => walk,
        });
        self.disclose(
            p,
            Page { items, next_cursor },
            reached,
            Shape::Listing {
                paged: cursor.is_some(),
            },
            Record::Submit(vec![e]),
        )
    }
}
