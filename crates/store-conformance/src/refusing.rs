//! A store that refuses audit entries on demand, through the traits: for tests of "no log, no
//! data" on any backend.

use rempart_audit::{AuditEntry, Checkpoint};
use rempart_store::{
    AccountRecord, AccountRequest, AccountStore, AlertRecord, AlertStore, AuditIndex, AuditLog,
    AuditSubtrees, AuditTicket, AuditVisitor, CodeRecord, CodeStore, ExportRecord, ExportStore,
    FactsChange, FactsUpgrade, FileStore, Filing, GuardStore, IncidentEvent, IncidentPerson,
    IncidentRecord, IncidentStore, IndexCheck, ListScope, MarkerRecord, MarkerStore, NewPerson,
    NoticeBatch, NoticeRecord, NoticeStatus, NoticeStore, PersonUpdate, PrincipalRecord, Reads,
    Snapshot, Snapshots, Store, StoreError, StoredPerson, TokenChange, TokenRecord, TokenStore,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Wraps a store; while [`Refusing::refuse`] is on, every audit entry is refused: appended
/// ones by the log, and a write act's own ones with the act (which then does not happen),
/// as a backend does when it cannot write them.
pub struct Refusing {
    inner: Arc<dyn Store>,
    refusing: AtomicBool,
}

impl Refusing {
    /// Wraps `inner`, accepting entries.
    pub fn new(inner: Arc<dyn Store>) -> Refusing {
        Refusing {
            inner,
            refusing: AtomicBool::new(false),
        }
    }

    /// Refuses every audit entry from now on (`true`), or accepts them again.
    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(StoreError::Audit("refused by the test".into()));
        }
        Ok(())
    }
}

impl FileStore for Refusing {
    fn insert_persons(&self, p: &[NewPerson], a: &[AuditEntry]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert_persons(p, a)
    }
    fn update_person(
        &self,
        id: &str,
        agency: &str,
        u: &PersonUpdate,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.update_person(id, agency, u, a)
    }
    fn delete_person(&self, id: &str, a: &AuditEntry) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_person(id, a)
    }
    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.find_by_index(kind, hash, scope, limit)
    }
    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        self.inner.list_persons(scope, after, limit)
    }
    fn caseload_backfill(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        self.inner.caseload_backfill(after, limit)
    }
    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        done: bool,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.set_caseloads(assignments, done, a)
    }
    fn set_enrolment(
        &self,
        person: &str,
        partner: &str,
        enrolled: bool,
        facts: &FactsChange,
        now: i64,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner
            .set_enrolment(person, partner, enrolled, facts, now, a)
    }
    fn count_persons(&self) -> Result<u64, StoreError> {
        self.inner.count_persons()
    }
    fn agencies(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.agencies()
    }
}

impl Reads for Refusing {
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        self.inner.get_person(id)
    }
    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token_by_hash(hash)
    }
    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.inner.principal(name)
    }
    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.inner.account(name)
    }
    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token_by_id(id)
    }
}

impl AccountStore for Refusing {
    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.inner.accounts()
    }
    fn account_requests(&self) -> Result<Vec<AccountRequest>, StoreError> {
        self.inner.account_requests()
    }
    fn account_request(&self, id: &str) -> Result<Option<AccountRequest>, StoreError> {
        self.inner.account_request(id)
    }
    fn request_account(
        &self,
        q: &AccountRequest,
        alert: &AlertRecord,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.request_account(q, alert, a)
    }
    fn decide_account_request(
        &self,
        d: &AccountRequest,
        expected: &[u8],
        account: Option<(&AccountRecord, Option<&[u8]>)>,
        alert: &AlertRecord,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner
            .decide_account_request(d, expected, account, alert, a)
    }
    fn put_account(
        &self,
        account: &AccountRecord,
        expected: Option<&[u8]>,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_account(account, expected, a)
    }
}

impl Snapshots for Refusing {
    fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        self.inner.snapshot()
    }
}

impl TokenStore for Refusing {
    fn insert_token(&self, t: &TokenRecord, a: &AuditEntry) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert_token(t, a)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.tokens()
    }
    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.change_tokens(principal, changes, a)
    }
}

impl AlertStore for Refusing {
    fn raise_alert(
        &self,
        alert: &AlertRecord,
        principal: &PrincipalRecord,
        changes: &[TokenChange],
        a: &[AuditEntry],
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.raise_alert(alert, principal, changes, a)
    }
    fn alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        self.inner.alerts(before, limit)
    }
    fn alert(&self, id: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.inner.alert(id)
    }
}

impl GuardStore for Refusing {
    fn load_guard(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.load_guard()
    }
    fn save_guard(&self, state: &[u8], at: i64) -> Result<(), StoreError> {
        self.inner.save_guard(state, at)
    }
}

impl ExportStore for Refusing {
    fn insert_export(&self, e: &ExportRecord, a: &AuditEntry) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert_export(e, a)
    }
    fn export(&self, id: &str) -> Result<Option<ExportRecord>, StoreError> {
        self.inner.export(id)
    }
    fn move_export(
        &self,
        id: &str,
        from: &str,
        to: &str,
        approver: Option<&str>,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.move_export(id, from, to, approver, a)
    }
}

impl MarkerStore for Refusing {
    fn run_export_with_markers(
        &self,
        id: &str,
        from: &str,
        to: &str,
        files: &[NewPerson],
        markers: &[MarkerRecord],
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner
            .run_export_with_markers(id, from, to, files, markers, a)
    }
    fn marker(&self, person: &str) -> Result<Option<MarkerRecord>, StoreError> {
        self.inner.marker(person)
    }
    fn export_markers(&self, export: &str) -> Result<Vec<MarkerRecord>, StoreError> {
        self.inner.export_markers(export)
    }
}

impl CodeStore for Refusing {
    fn insert_codes(&self, codes: &[CodeRecord]) -> Result<(), StoreError> {
        self.inner.insert_codes(codes)
    }
    fn codes(&self, lookup: &[u8]) -> Result<Vec<CodeRecord>, StoreError> {
        self.inner.codes(lookup)
    }
}

impl IncidentStore for Refusing {
    fn insert_incident(
        &self,
        i: &IncidentRecord,
        people: &[IncidentPerson],
        first: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert_incident(i, people, first, a)
    }
    fn incident_people(&self, id: &str) -> Result<Vec<IncidentPerson>, StoreError> {
        self.inner.incident_people(id)
    }
    fn person_incidents(&self, person: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        self.inner.person_incidents(person)
    }
    fn add_filing(
        &self,
        id: &str,
        f: &Filing,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.add_filing(id, f, e, a)
    }
    fn filings(&self, id: &str) -> Result<Vec<Filing>, StoreError> {
        self.inner.filings(id)
    }
    fn set_incident_status(
        &self,
        id: &str,
        status: &str,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.set_incident_status(id, status, e, a)
    }
    fn incident(
        &self,
        id: &str,
    ) -> Result<Option<(IncidentRecord, Vec<IncidentEvent>)>, StoreError> {
        self.inner.incident(id)
    }
    fn add_incident_event(
        &self,
        id: &str,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.add_incident_event(id, e, a)
    }
}

impl NoticeStore for Refusing {
    fn prepare_notices(
        &self,
        b: &NoticeBatch,
        people: &[IncidentPerson],
        notices: &[NoticeRecord],
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.prepare_notices(b, people, notices, e, a)
    }
    fn notice_batch(&self, incident: &str) -> Result<Option<NoticeBatch>, StoreError> {
        self.inner.notice_batch(incident)
    }
    fn approve_notices(
        &self,
        incident: &str,
        by: &str,
        at: i64,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.approve_notices(incident, by, at, e, a)
    }
    fn notices(&self, incident: &str) -> Result<Vec<NoticeRecord>, StoreError> {
        self.inner.notices(incident)
    }
    fn due_notices(
        &self,
        incident: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        self.inner.due_notices(incident, now, limit)
    }
    fn claim_notice(
        &self,
        id: &str,
        code: Option<(&str, &CodeRecord)>,
    ) -> Result<bool, StoreError> {
        self.inner.claim_notice(id, code)
    }
    fn settle_notice(
        &self,
        id: &str,
        status: NoticeStatus,
        next_at: i64,
        error: Option<&str>,
        at: i64,
        a: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        if a.is_some() {
            self.check()?;
        }
        self.inner.settle_notice(id, status, next_at, error, at, a)
    }
    fn release_sending(&self, incident: &str, messages: &[String]) -> Result<u64, StoreError> {
        self.inner.release_sending(incident, messages)
    }
}

impl FactsUpgrade for Refusing {
    fn trust_untagged_rows(&self) {
        self.inner.trust_untagged_rows()
    }
    fn unbound_facts(
        &self,
        limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError> {
        self.inner.unbound_facts(limit)
    }
    fn bind_facts(
        &self,
        persons: &[(String, Vec<u8>)],
        tokens: &[(String, Vec<u8>)],
        done: bool,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.bind_facts(persons, tokens, done, a)
    }
}

impl AuditLog for Refusing {
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.append_audit(entries)
    }
    fn submit_audit(&self, entries: &[AuditEntry]) -> AuditTicket {
        match self.check() {
            Ok(()) => self.inner.submit_audit(entries),
            Err(e) => AuditTicket::ready(Err(e)),
        }
    }
    fn audit_len(&self) -> Result<u64, StoreError> {
        self.inner.audit_len()
    }
    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError> {
        self.inner.audit_visit(after, visit)
    }
    fn audit_subtrees(&self) -> Result<Box<AuditSubtrees<'_>>, StoreError> {
        self.inner.audit_subtrees()
    }
    fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        self.inner.insert_checkpoint(c)
    }
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.inner.checkpoints()
    }
    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.inner.latest_checkpoint()
    }
}

impl AuditIndex for Refusing {
    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.inner.audit_for_person(person, limit)
    }
    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError> {
        self.inner.check_audit_index(progress)
    }
    fn audit_visit_principal(
        &self,
        principal: &str,
        since: i64,
        until: i64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.inner
            .audit_visit_principal(principal, since, until, visit)
    }
    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError> {
        self.inner.rebuild_audit_index(progress)
    }
}
