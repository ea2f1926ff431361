//! Exact search through blind indexes, within the caller's scope.

use crate::access::Caller;
use crate::core::*;
use crate::disclosure::{Disclosure, Reached, Record, Shape};
use crate::error::VaultError;
use crate::principal::Principal;
use crate::views::*;
use crate::{SEARCH_CANDIDATES, SEARCH_LIMIT};
use rempart_audit::{Action, Outcome};
use rempart_domain::{Category, Purpose, SearchTerm};

impl Vault {
    /// Exact search through a blind index, among the files whose identity the policy lets the
    /// caller read for `purpose`.
    pub fn search(
        &self,
        p: &Principal,
        purpose: Purpose,
        term: &SearchTerm,
    ) -> Result<Vec<SearchHit>, VaultError> {
        self.disclose_search(p, purpose, term)?.wait()
    }

    /// [`Vault::search`] for an asynchronous caller: the hits leave through
    /// [`Disclosure::release`].
    pub fn disclose_search(
        &self,
        p: &Principal,
        purpose: Purpose,
        term: &SearchTerm,
    ) -> Result<Disclosure<Vec<SearchHit>>, VaultError> {
        let (kind, hash) = self.index_entry(term);
        // Only files the caller could see are candidates: matches in other agencies cannot
        // crowd out the one searched for.
        let ids =
            self.store
                .find_by_index(kind, &hash, &Self::scope_of(p, false), SEARCH_CANDIDATES)?;
        let caller = Caller::of(p);
        let how = self.situation(p, purpose);
        let mut hits = Vec::new();
        let mut reached = Vec::new();
        for id in ids {
            if hits.len() == SEARCH_LIMIT {
                break;
            }
            let Some(stored) = self.store.get_person(&id)? else {
                continue;
            };
            if let Some(hit) = self.identity_if_allowed(&caller, &how, &stored)? {
                hits.push(hit);
                reached.push(Reached::of(p, &stored));
            }
        }
        // A real file created after the decoys were planted may share a search key with one:
        // a search that finds a real file is work, and the decoys it also found are left out
        // of it (found alone, a decoy trips containment).
        if reached.iter().any(|r| !r.decoy) && reached.iter().any(|r| r.decoy) {
            let keep: Vec<bool> = reached.iter().map(|r| !r.decoy).collect();
            let mut k = keep.iter();
            hits.retain(|_| *k.next().unwrap_or(&false));
            reached.retain(|r| !r.decoy);
        }
        // The search term is recorded as its blind-index value, never in clear.
        let people: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let mut e = self.entry(
            p,
            Action::Search,
            people,
            names([Category::Identity]),
            Some(purpose),
            Outcome::Allowed,
        );
        let term = format!(
            "{}:{}",
            term.kind.label(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, hash)
        );
        e.detail = Some(match e.detail {
            Some(bg) => format!("{term} {bg}"),
            None => term,
        });
        self.disclose(p, hits, reached, Shape::Search, Record::Submit(vec![e]))
    }
}
