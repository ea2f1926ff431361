//! The same `rempart serve`, for measurement only, with standalone audit entries (those of
//! reads, searches and listings) dropped instead of committed: the difference with the real
//! server is the cost of the audit log. This lives in the benchmark crate, behind a hidden
//! subcommand, so that no configuration of the real server can turn auditing off.

use anyhow::Result;
use rempart_audit::{AuditEntry, Checkpoint};
use rempart_crypto::Keyring;
use rempart_domain::FranceTravailPattern;
use rempart_policy::{Decide, Policies};
use rempart_store::{
    AccountRecord, AccountRequest, AccountStore, AlertRecord, AlertStore, AuditIndex, AuditLog,
    AuditSubtrees, AuditVisitor, CodeRecord, CodeStore, ExportRecord, ExportStore, FactsChange,
    FactsUpgrade, FileStore, Filing, GuardStore, IncidentEvent, IncidentPerson, IncidentRecord,
    IncidentStore, IndexCheck, ListScope, MarkerRecord, MarkerStore, NewPerson, NoticeBatch,
    NoticeRecord, NoticeStatus, NoticeStore, PersonUpdate, PrincipalRecord, Reads, Snapshot,
    Snapshots, Store, StoreError, StoredPerson, TokenChange, TokenRecord, TokenStore,
};
use rempart_store_sqlite::{SqliteKeyStore, SqliteStore};
use rempart_vault::{SystemClock, Vault};
use std::path::Path;
use std::sync::Arc;

/// Delegates everything to the SQLite store except the audit log's `append_audit`, which
/// does nothing (and so `submit_audit`, whose default is `append_audit`).
struct WithoutReadAudit(SqliteStore);

impl FileStore for WithoutReadAudit {
    fn insert_persons(&self, p: &[NewPerson], a: &[AuditEntry]) -> Result<(), StoreError> {
        self.0.insert_persons(p, a)
    }
    fn update_person(
        &self,
        id: &str,
        agency: &str,
        u: &PersonUpdate,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.update_person(id, agency, u, a)
    }
    fn delete_person(&self, id: &str, a: &AuditEntry) -> Result<bool, StoreError> {
        self.0.delete_person(id, a)
    }
    fn find_by_index(
        &self,
        kind: i64,
        hash: &[u8; 32],
        scope: &ListScope<'_>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.0.find_by_index(kind, hash, scope, limit)
    }
    fn list_persons(
        &self,
        scope: &ListScope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        self.0.list_persons(scope, after, limit)
    }
    fn caseload_backfill(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredPerson>, StoreError> {
        self.0.caseload_backfill(after, limit)
    }
    fn set_caseloads(
        &self,
        assignments: &[(String, String)],
        done: bool,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.set_caseloads(assignments, done, a)
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
        self.0
            .set_enrolment(person, partner, enrolled, facts, now, a)
    }
    fn count_persons(&self) -> Result<u64, StoreError> {
        self.0.count_persons()
    }
    fn agencies(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.0.agencies()
    }
}

impl Reads for WithoutReadAudit {
    fn get_person(&self, id: &str) -> Result<Option<StoredPerson>, StoreError> {
        self.0.get_person(id)
    }
    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.0.token_by_hash(hash)
    }
    fn principal(&self, name: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.0.principal(name)
    }
    fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.0.account(name)
    }
    fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.0.token_by_id(id)
    }
}

impl AccountStore for WithoutReadAudit {
    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.0.accounts()
    }
    fn account_requests(&self) -> Result<Vec<AccountRequest>, StoreError> {
        self.0.account_requests()
    }
    fn account_request(&self, id: &str) -> Result<Option<AccountRequest>, StoreError> {
        self.0.account_request(id)
    }
    fn request_account(
        &self,
        q: &AccountRequest,
        alert: &AlertRecord,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.request_account(q, alert, a)
    }
    fn decide_account_request(
        &self,
        d: &AccountRequest,
        expected: &[u8],
        account: Option<(&AccountRecord, Option<&[u8]>)>,
        alert: &AlertRecord,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0
            .decide_account_request(d, expected, account, alert, a)
    }
    fn put_account(
        &self,
        account: &AccountRecord,
        expected: Option<&[u8]>,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.put_account(account, expected, a)
    }
}

// Reads run in one snapshot as in the real server: the difference is the audit log only.
impl Snapshots for WithoutReadAudit {
    fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        self.0.snapshot()
    }
}

impl TokenStore for WithoutReadAudit {
    fn insert_token(&self, t: &TokenRecord, a: &AuditEntry) -> Result<(), StoreError> {
        self.0.insert_token(t, a)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.0.tokens()
    }
    fn change_tokens(
        &self,
        principal: Option<&PrincipalRecord>,
        changes: &[TokenChange],
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.change_tokens(principal, changes, a)
    }
}

impl AlertStore for WithoutReadAudit {
    fn raise_alert(
        &self,
        alert: &AlertRecord,
        principal: &PrincipalRecord,
        changes: &[TokenChange],
        a: &[AuditEntry],
    ) -> Result<(), StoreError> {
        self.0.raise_alert(alert, principal, changes, a)
    }
    fn alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        self.0.alerts(before, limit)
    }
    fn alert(&self, id: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.0.alert(id)
    }
}

impl GuardStore for WithoutReadAudit {
    fn load_guard(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.load_guard()
    }
    fn save_guard(&self, state: &[u8], at: i64) -> Result<(), StoreError> {
        self.0.save_guard(state, at)
    }
}

impl ExportStore for WithoutReadAudit {
    fn insert_export(&self, e: &ExportRecord, a: &AuditEntry) -> Result<(), StoreError> {
        self.0.insert_export(e, a)
    }
    fn export(&self, id: &str) -> Result<Option<ExportRecord>, StoreError> {
        self.0.export(id)
    }
    fn move_export(
        &self,
        id: &str,
        from: &str,
        to: &str,
        approver: Option<&str>,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.move_export(id, from, to, approver, a)
    }
}

impl MarkerStore for WithoutReadAudit {
    fn run_export_with_markers(
        &self,
        id: &str,
        from: &str,
        to: &str,
        files: &[NewPerson],
        markers: &[MarkerRecord],
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0
            .run_export_with_markers(id, from, to, files, markers, a)
    }
    fn marker(&self, person: &str) -> Result<Option<MarkerRecord>, StoreError> {
        self.0.marker(person)
    }
    fn export_markers(&self, export: &str) -> Result<Vec<MarkerRecord>, StoreError> {
        self.0.export_markers(export)
    }
}

impl CodeStore for WithoutReadAudit {
    fn insert_codes(&self, codes: &[CodeRecord]) -> Result<(), StoreError> {
        self.0.insert_codes(codes)
    }
    fn codes(&self, lookup: &[u8]) -> Result<Vec<CodeRecord>, StoreError> {
        self.0.codes(lookup)
    }
}

impl IncidentStore for WithoutReadAudit {
    fn insert_incident(
        &self,
        i: &IncidentRecord,
        people: &[IncidentPerson],
        first: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.insert_incident(i, people, first, a)
    }
    fn incident_people(&self, id: &str) -> Result<Vec<IncidentPerson>, StoreError> {
        self.0.incident_people(id)
    }
    fn person_incidents(&self, person: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        self.0.person_incidents(person)
    }
    fn add_filing(
        &self,
        id: &str,
        f: &Filing,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.add_filing(id, f, e, a)
    }
    fn filings(&self, id: &str) -> Result<Vec<Filing>, StoreError> {
        self.0.filings(id)
    }
    fn set_incident_status(
        &self,
        id: &str,
        status: &str,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.set_incident_status(id, status, e, a)
    }
    fn incident(
        &self,
        id: &str,
    ) -> Result<Option<(IncidentRecord, Vec<IncidentEvent>)>, StoreError> {
        self.0.incident(id)
    }
    fn add_incident_event(
        &self,
        id: &str,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.add_incident_event(id, e, a)
    }
}

impl NoticeStore for WithoutReadAudit {
    fn prepare_notices(
        &self,
        b: &NoticeBatch,
        people: &[IncidentPerson],
        notices: &[NoticeRecord],
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.prepare_notices(b, people, notices, e, a)
    }
    fn notice_batch(&self, incident: &str) -> Result<Option<NoticeBatch>, StoreError> {
        self.0.notice_batch(incident)
    }
    fn approve_notices(
        &self,
        incident: &str,
        by: &str,
        at: i64,
        e: &IncidentEvent,
        a: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.0.approve_notices(incident, by, at, e, a)
    }
    fn notices(&self, incident: &str) -> Result<Vec<NoticeRecord>, StoreError> {
        self.0.notices(incident)
    }
    fn due_notices(
        &self,
        incident: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        self.0.due_notices(incident, now, limit)
    }
    fn claim_notice(
        &self,
        id: &str,
        code: Option<(&str, &CodeRecord)>,
    ) -> Result<bool, StoreError> {
        self.0.claim_notice(id, code)
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
        self.0.settle_notice(id, status, next_at, error, at, a)
    }
    fn release_sending(&self, incident: &str, messages: &[String]) -> Result<u64, StoreError> {
        self.0.release_sending(incident, messages)
    }
}

impl FactsUpgrade for WithoutReadAudit {
    fn trust_untagged_rows(&self) {
        self.0.trust_untagged_rows()
    }
    fn unbound_facts(
        &self,
        limit: usize,
    ) -> Result<(Vec<StoredPerson>, Vec<TokenRecord>), StoreError> {
        self.0.unbound_facts(limit)
    }
    fn bind_facts(
        &self,
        persons: &[(String, Vec<u8>)],
        tokens: &[(String, Vec<u8>)],
        done: bool,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.bind_facts(persons, tokens, done, a)
    }
}

impl AuditLog for WithoutReadAudit {
    fn append_audit(&self, _entries: &[AuditEntry]) -> Result<(), StoreError> {
        Ok(())
    }
    fn audit_len(&self) -> Result<u64, StoreError> {
        self.0.audit_len()
    }
    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError> {
        self.0.audit_visit(after, visit)
    }
    fn audit_subtrees(&self) -> Result<Box<AuditSubtrees<'_>>, StoreError> {
        self.0.audit_subtrees()
    }
    fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        self.0.insert_checkpoint(c)
    }
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.0.checkpoints()
    }
    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.0.latest_checkpoint()
    }
}

impl AuditIndex for WithoutReadAudit {
    fn audit_for_person(
        &self,
        person: &str,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        self.0.audit_for_person(person, limit)
    }
    fn check_audit_index(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<IndexCheck, StoreError> {
        self.0.check_audit_index(progress)
    }
    fn audit_visit_principal(
        &self,
        principal: &str,
        since: i64,
        until: i64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.0.audit_visit_principal(principal, since, until, visit)
    }
    fn rebuild_audit_index(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, StoreError> {
        self.0.rebuild_audit_index(progress)
    }
}

/// Serves the installation in `data` with read auditing dropped, on the same runtime settings
/// as `rempart serve`; prints `listening on ADDR` to stderr once bound.
pub fn serve_without_read_audit(data: &Path, key_file: &Path, listen: &str) -> Result<()> {
    let store = Arc::new(WithoutReadAudit(SqliteStore::open(data)?));
    serve_with(
        store,
        data,
        key_file,
        Arc::new(Policies::default_policies()?),
        listen,
    )
}

/// Serves a vault over `store` and the key store of `data`, deciding with `policies`.
pub(crate) fn serve_with(
    store: Arc<dyn Store>,
    data: &Path,
    key_file: &Path,
    policies: Arc<dyn Decide>,
    listen: &str,
) -> Result<()> {
    let keys = Arc::new(SqliteKeyStore::open(data)?);
    let ring = Keyring::load(key_file, None)?;
    let vault = Arc::new(Vault::new(
        store,
        keys,
        Arc::new(ring),
        Arc::new(SystemClock),
        FranceTravailPattern::default(),
        policies,
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(rempart_server::blocking_threads())
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("rempart: listening on http://{}", listener.local_addr()?);
        rempart_server::serve(listener, vault, std::future::pending()).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_appending_to_the_log_is_dropped_and_reads_take_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = WithoutReadAudit(SqliteStore::open(dir.path()).unwrap());
        let before = store.audit_len().unwrap();
        let entry = AuditEntry {
            time: 1,
            principal: "c".into(),
            token_id: "t".into(),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action: rempart_audit::Action::Read,
            persons: vec!["a".into()],
            categories: vec![],
            purpose: None,
            client: None,
            request_id: None,
            outcome: rempart_audit::Outcome::Allowed,
            detail: None,
        };
        store.append_audit(std::slice::from_ref(&entry)).unwrap();
        store.submit_audit(&[entry]).wait().unwrap();
        assert_eq!(store.audit_len().unwrap(), before);
        let snap = store.snapshot().unwrap();
        assert!(snap.get_person("nobody").unwrap().is_none());
    }
}
