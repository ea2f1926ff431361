//! Principals as records (accounts) and their lifecycle: an operator asks to create a
//! principal, raise its role or move it to another agency; the request takes effect only when a
//! second operator approves it. Both acts are in the audit log and raise an alert; the
//! principal starts (again) on containment's probation from the approval.

use crate::core::Vault;
use crate::error::VaultError;
use crate::facts;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Role};
use rempart_store::{AccountRecord, AccountRequest, AlertRecord, Reads, StoreError};

/// How long a request waits for its approval (s).
pub const REQUEST_TTL_SECS: i64 = 7 * 86_400;

/// How long a principal stays on probation after it was created, raised or moved, unless the
/// vault's containment says otherwise (s).
pub const PROBATION_SECS: i64 = 7 * 86_400;

/// Who made the first operators of an installation (`rempart principal bootstrap`).
pub const BOOTSTRAP: &str = "bootstrap";

/// A principal's state, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Works.
    Active,
    /// Works, on containment's probation budgets (created, raised or moved lately).
    Probation,
    /// Suspended (by containment, a lockout or an operator): restored with a justification.
    Suspended,
    /// Disabled by an operator: authenticates no more.
    Disabled,
    /// Its row does not verify against its tag (written without the key): refused.
    Invalid,
}

impl AccountState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Probation => "probation",
            AccountState::Suspended => "suspended",
            AccountState::Disabled => "disabled",
            AccountState::Invalid => "invalid",
        }
    }
}

/// An account as listed, with its state now.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    /// The record.
    pub record: AccountRecord,
    /// Its state now.
    pub state: AccountState,
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A new principal (or a disabled one enabled again).
    Create,
    /// Another role for a principal.
    Role,
    /// Another agency for a principal.
    Move,
}

impl RequestKind {
    /// Its name: `create`, `role` or `move`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Create => "create",
            RequestKind::Role => "role",
            RequestKind::Move => "move",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<RequestKind> {
        match s {
            "create" => Some(RequestKind::Create),
            "role" => Some(RequestKind::Role),
            "move" => Some(RequestKind::Move),
            _ => None,
        }
    }
}

/// A principal's name: 1 to 64 characters among letters, digits and `.-_@`, lower-cased.
pub fn principal_name(raw: &str) -> Result<String, VaultError> {
    let n = raw.trim();
    if n.is_empty()
        || n.len() > 64
        || !n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_@".contains(&b))
    {
        return Err(VaultError::Rejected(
            "a principal's name is 1 to 64 letters, digits, `.`, `-`, `_` or `@`",
        ));
    }
    let n = n.to_ascii_lowercase();
    if ["cli", "guard", "integrity", BOOTSTRAP, "-"].contains(&n.as_str()) {
        return Err(VaultError::Rejected(
            "this name is Rempart's own (cli, guard, integrity, bootstrap)",
        ));
    }
    Ok(n)
}

fn is_console(p: &Principal) -> bool {
    p.agency().as_str() == "LOCAL" && p.token_id() == "-"
}

impl Vault {
    /// The state of `a` now.
    pub(crate) fn account_state(&self, a: &AccountRecord) -> Result<AccountState, VaultError> {
        self.account_state_in(self.reads(), a)
    }

    /// [`Vault::account_state`], its suspension read through `reads` (a request's snapshot).
    pub(crate) fn account_state_in(
        &self,
        reads: &dyn Reads,
        a: &AccountRecord,
    ) -> Result<AccountState, VaultError> {
        let suspended = reads
            .principal(&a.name)?
            .is_some_and(|p| p.suspended || !facts::principal_verifies(self.keyring.facts(), &p));
        Ok(if !facts::account_verifies(self.keyring.facts(), a) {
            AccountState::Invalid
        } else if a.disabled {
            AccountState::Disabled
        } else if suspended {
            AccountState::Suspended
        } else if self.clock.now().saturating_sub(a.approved_at) < self.probation_secs
            && a.approved_by != BOOTSTRAP
        {
            AccountState::Probation
        } else {
            AccountState::Active
        })
    }

    /// The account of `name`, read through `reads`, once it verifies; a row that does not is
    /// refused with an integrity alert.
    pub(crate) fn verified_account(
        &self,
        reads: &dyn Reads,
        name: &str,
    ) -> Result<Option<AccountRecord>, VaultError> {
        match reads.account(name)? {
            Some(a) if !facts::account_verifies(self.keyring.facts(), &a) => {
                Err(self.integrity_alert(None, None, format!("account {}", a.name)))
            }
            a => Ok(a),
        }
    }

    /// The account of an operator acting through the API: it must exist as a record, verify,
    /// and be an operator's of the caller's agency.
    fn operator_account(&self, p: &Principal) -> Result<AccountRecord, VaultError> {
        self.verified_account(self.reads(), p.name())?
            .filter(|a| a.role == Role::Operator.as_str() && a.agency == p.agency().as_str())
            .ok_or(VaultError::Forbidden(
                "only an operator that exists as a principal record asks for or approves principals",
            ))
    }

    fn may_see_accounts(p: &Principal) -> Result<(), VaultError> {
        match p.role() {
            Role::Operator | Role::Dpo => Ok(()),
            _ => Err(VaultError::Forbidden(
                "only an operator or the DPO sees principals",
            )),
        }
    }

    fn sees_agency(p: &Principal, agency: &str) -> bool {
        p.agency().as_str() == "LOCAL" || p.agency().as_str() == agency
    }

    /// The accounts the caller oversees (its agency's; every one for the console), with their
    /// state.
    pub fn accounts(&self, p: &Principal) -> Result<Vec<AccountInfo>, VaultError> {
        Self::may_see_accounts(p)?;
        self.store
            .accounts()?
            .into_iter()
            .filter(|a| Self::sees_agency(p, &a.agency))
            .map(|record| {
                Ok(AccountInfo {
                    state: self.account_state(&record)?,
                    record,
                })
            })
            .collect()
    }

    /// One account the caller oversees, or its own (another agency's is not found).
    pub fn account(&self, p: &Principal, name: &str) -> Result<AccountInfo, VaultError> {
        let name = name.to_ascii_lowercase();
        if name != p.name() {
            Self::may_see_accounts(p)?;
        }
        let record = self
            .store
            .account(&name)?
            .filter(|a| a.name == p.name() || Self::sees_agency(p, &a.agency))
            .ok_or(VaultError::NotFound)?;
        Ok(AccountInfo {
            state: self.account_state(&record)?,
            record,
        })
    }

    /// The requests the caller oversees, newest first (`pending`: only those awaiting a
    /// decision and not expired).
    pub fn account_requests(
        &self,
        p: &Principal,
        pending: bool,
    ) -> Result<Vec<AccountRequest>, VaultError> {
        Self::may_see_accounts(p)?;
        let now = self.clock.now();
        Ok(self
            .store
            .account_requests()?
            .into_iter()
            .filter(|q| Self::sees_agency(p, &q.agency) || Self::sees_agency(p, &q.requested_from))
            .filter(|q| {
                !pending || (q.approved.is_none() && now - q.requested_at < REQUEST_TTL_SECS)
            })
            .collect())
    }

    fn lifecycle_alert(&self, p: &Principal, trip: &str, q: &AccountRequest) -> AlertRecord {
        let now = self.clock.now();
        AlertRecord {
            id: format!("alr_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            at: now,
            principal: q.name.clone(),
            role: q.role.clone(),
            agency: q.agency.clone(),
            token: p.token_id().to_string(),
            trip: trip.to_string(),
            signals: format!(
                "request={} kind={} by={} from={}{}",
                q.id,
                q.kind,
                q.requested_by,
                q.requested_from,
                q.decided_by
                    .as_ref()
                    .map(|d| format!(" decided_by={d}"))
                    .unwrap_or_default()
            ),
            people: vec![],
            // Nothing is suspended: the alert is recorded closed, to be read, not restored.
            restored_at: Some(now),
            restored_by: Some(p.name().to_string()),
        }
    }

    fn send_alert(&self, alert: &AlertRecord) {
        tracing::warn!(alert = %alert.id, principal = %alert.principal, trip = %alert.trip, "principal lifecycle");
        if let Some(sink) = &self.alert_sink {
            sink.raised(alert);
        }
    }

    /// Asks to create `name` with `role` in `agency`, to give it `role`, or to move it to
    /// `agency`: nothing changes until a second operator approves. Only an operator of the
    /// agency concerned (or the console) asks. Recorded, with an alert.
    pub fn request_account(
        &self,
        p: &Principal,
        kind: RequestKind,
        name: &str,
        role: Role,
        agency: &Agency,
    ) -> Result<AccountRequest, VaultError> {
        if p.role() != Role::Operator {
            return Err(VaultError::Forbidden(
                "only an operator asks for a principal to be created, raised or moved",
            ));
        }
        let name = principal_name(name)?;
        if agency.as_str() == "LOCAL" {
            return Err(VaultError::Rejected(
                "LOCAL is the console's agency; no principal is made for it",
            ));
        }
        let current = self.verified_account(self.reads(), &name)?;
        let from = match (kind, &current) {
            (RequestKind::Create, Some(a)) if !a.disabled => {
                return Err(VaultError::State(
                    "this principal exists: ask for a role or a move instead",
                ))
            }
            (RequestKind::Create, _) => agency.as_str().to_string(),
            (_, None) => return Err(VaultError::NotFound),
            (_, Some(a)) if a.disabled => {
                return Err(VaultError::State(
                    "this principal is disabled: ask for it to be created again",
                ))
            }
            (RequestKind::Role, Some(a)) if a.agency != agency.as_str() => {
                return Err(VaultError::Rejected(
                    "a role request keeps the principal's agency: ask for a move",
                ))
            }
            (RequestKind::Role, Some(a)) if a.role == role.as_str() => {
                return Err(VaultError::State("the principal has this role already"))
            }
            (RequestKind::Move, Some(a)) if a.agency == agency.as_str() => {
                return Err(VaultError::State("the principal is in this agency already"))
            }
            (RequestKind::Move, Some(a)) if a.role != role.as_str() => {
                return Err(VaultError::Rejected(
                    "a move keeps the principal's role: ask for the role apart",
                ))
            }
            (_, Some(a)) => a.agency.clone(),
        };
        // A move is asked by an operator of the agency the principal leaves, and approved by one
        // of the agency it goes to; anything else, by an operator of its agency.
        let asker_agency = if kind == RequestKind::Move {
            from.as_str()
        } else {
            agency.as_str()
        };
        if !Self::sees_agency(p, asker_agency) {
            return Err(VaultError::Forbidden(
                "an operator asks only for principals of its own agency (a move, from the agency it leaves)",
            ));
        }
        if !is_console(p) {
            let mine = self.operator_account(p)?;
            if !matches!(
                self.account_state(&mine)?,
                AccountState::Active | AccountState::Probation
            ) {
                return Err(VaultError::Forbidden(
                    "a suspended or disabled operator asks for nothing",
                ));
            }
        }
        self.expire_requests(p, &name)?;
        let mut q = AccountRequest {
            id: format!("req_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            kind: kind.as_str().to_string(),
            name,
            agency: agency.as_str().to_string(),
            role: role.as_str().to_string(),
            requested_by: p.name().to_string(),
            requested_from: p.agency().as_str().to_string(),
            requested_at: self.clock.now(),
            decided_by: None,
            decided_at: None,
            approved: None,
            tag: None,
        };
        q.tag = Some(facts::request_tag(self.keyring.facts(), &q).to_vec());
        let alert = self.lifecycle_alert(p, "principal_request", &q);
        let mut e = self.entry(
            p,
            Action::PrincipalRequest,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "request={} kind={} principal={} role={} agency={} alert={}",
            q.id, q.kind, q.name, q.role, q.agency, alert.id
        ));
        self.store
            .request_account(&q, &alert, &e)
            .map_err(|err| match err {
                StoreError::Conflict(_) => {
                    VaultError::State("a request for this principal is pending already")
                }
                err => err.into(),
            })?;
        self.send_alert(&alert);
        Ok(q)
    }

    /// Closes, as refused, the requests for `name` left pending past their 7 days, so that a
    /// new one can be made (recorded, with `p` as the one who found them expired).
    fn expire_requests(&self, p: &Principal, name: &str) -> Result<(), VaultError> {
        let now = self.clock.now();
        for q in self.store.account_requests()? {
            if q.name != name || q.approved.is_some() || now - q.requested_at < REQUEST_TTL_SECS {
                continue;
            }
            let expected = q.tag.clone().unwrap_or_default();
            let mut d = AccountRequest {
                decided_by: Some("expired".into()),
                decided_at: Some(now),
                approved: Some(false),
                ..q
            };
            d.tag = Some(facts::request_tag(self.keyring.facts(), &d).to_vec());
            let alert = self.lifecycle_alert(p, "principal_refusal", &d);
            let mut e = self.entry(
                p,
                Action::PrincipalRefuse,
                vec![],
                vec![],
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!(
                "request={} kind={} principal={} expired requested_by={} alert={}",
                d.id, d.kind, d.name, d.requested_by, alert.id
            ));
            self.store
                .decide_account_request(&d, &expected, None, &alert, &e)?;
        }
        Ok(())
    }

    /// Approves (or refuses) a pending request. Only an operator of the agency the principal
    /// goes to (or the console) approves, never the one who asked, nor the principal itself,
    /// nor an operator still on probation; the one who asked may also withdraw it (refuse).
    /// Recorded, with an alert.
    pub fn decide_account(
        &self,
        p: &Principal,
        id: &str,
        approve: bool,
    ) -> Result<AccountRequest, VaultError> {
        if p.role() != Role::Operator {
            return Err(VaultError::Forbidden(
                "only an operator decides on a principal's request",
            ));
        }
        let q = self
            .store
            .account_request(id)?
            .filter(|q| Self::sees_agency(p, &q.agency) || Self::sees_agency(p, &q.requested_from))
            .ok_or(VaultError::NotFound)?;
        if !facts::request_verifies(self.keyring.facts(), &q) {
            return Err(self.integrity_alert(None, None, format!("account request {}", q.id)));
        }
        if q.approved.is_some() {
            return Err(VaultError::State("this request was decided already"));
        }
        let now = self.clock.now();
        if approve && now - q.requested_at >= REQUEST_TTL_SECS {
            return Err(VaultError::State(
                "this request expired (7 days): refuse it and ask again",
            ));
        }
        let own = p.name() == q.requested_by && p.agency().as_str() == q.requested_from;
        if approve {
            if own || p.name() == q.requested_by {
                return Err(VaultError::Forbidden(
                    "a second operator approves: not the one who asked",
                ));
            }
            if p.name() == q.name {
                return Err(VaultError::Forbidden(
                    "a principal does not approve its own request",
                ));
            }
            if !Self::sees_agency(p, &q.agency) {
                return Err(VaultError::Forbidden(
                    "an operator of the agency the principal goes to approves",
                ));
            }
            if !is_console(p) {
                let mine = self.operator_account(p)?;
                if self.account_state(&mine)? != AccountState::Active {
                    return Err(VaultError::Forbidden(
                        "an operator on probation, suspended or disabled does not approve principals",
                    ));
                }
            }
            // The one who asked must still be an operator in good standing: a disabled or
            // suspended operator's requests are not approved.
            if q.requested_by != "cli" {
                let asker = self.verified_account(self.reads(), &q.requested_by)?;
                let fine = match &asker {
                    Some(a) => matches!(
                        self.account_state(a)?,
                        AccountState::Active | AccountState::Probation
                    ),
                    None => false,
                };
                if !fine {
                    return Err(VaultError::State(
                        "the operator who asked is no longer active: refuse the request",
                    ));
                }
            }
        } else if !own && !Self::sees_agency(p, &q.agency) {
            return Err(VaultError::Forbidden(
                "an operator of the agency concerned, or the one who asked, refuses",
            ));
        }
        let expected = q.tag.clone().unwrap_or_default();
        let mut d = AccountRequest {
            decided_by: Some(p.name().to_string()),
            decided_at: Some(now),
            approved: Some(approve),
            ..q.clone()
        };
        d.tag = Some(facts::request_tag(self.keyring.facts(), &d).to_vec());
        let current = self.verified_account(self.reads(), &q.name)?;
        let account = if approve {
            let mut a = match (&current, q.kind.as_str()) {
                (Some(a), "role" | "move") if !a.disabled => AccountRecord {
                    agency: q.agency.clone(),
                    role: q.role.clone(),
                    ..a.clone()
                },
                (Some(a), "create") if a.disabled => AccountRecord {
                    agency: q.agency.clone(),
                    role: q.role.clone(),
                    disabled: false,
                    created_by: q.requested_by.clone(),
                    created_at: q.requested_at,
                    ..a.clone()
                },
                (None, "create") => AccountRecord {
                    name: q.name.clone(),
                    agency: q.agency.clone(),
                    role: q.role.clone(),
                    disabled: false,
                    created_by: q.requested_by.clone(),
                    created_at: q.requested_at,
                    approved_by: String::new(),
                    approved_at: 0,
                    subject: None,
                    tag: None,
                },
                _ => {
                    return Err(VaultError::State(
                        "the principal changed since the request: refuse it and ask again",
                    ))
                }
            };
            a.approved_by = p.name().to_string();
            a.approved_at = now;
            a.tag = Some(facts::account_tag(self.keyring.facts(), &a).to_vec());
            Some(a)
        } else {
            None
        };
        let (action, trip) = if approve {
            (Action::PrincipalApprove, "principal_approval")
        } else {
            (Action::PrincipalRefuse, "principal_refusal")
        };
        let alert = self.lifecycle_alert(p, trip, &d);
        let mut e = self.entry(p, action, vec![], vec![], None, Outcome::Allowed);
        e.detail = Some(format!(
            "request={} kind={} principal={} role={} agency={} requested_by={} alert={}",
            d.id, d.kind, d.name, d.role, d.agency, d.requested_by, alert.id
        ));
        let expected_account = current.as_ref().and_then(|a| a.tag.clone());
        self.store
            .decide_account_request(
                &d,
                &expected,
                account.as_ref().map(|a| (a, expected_account.as_deref())),
                &alert,
                &e,
            )
            .map_err(|err| match err {
                StoreError::Conflict(_) => {
                    VaultError::State("the request or the principal changed meanwhile: try again")
                }
                err => err.into(),
            })?;
        self.send_alert(&alert);
        Ok(d)
    }

    /// Disables a principal (it authenticates no more, whatever its credential) or enables it
    /// again... which is a request: enabling is creating again, approved by a second operator.
    /// An operator of its agency (or the console) disables at once. Recorded.
    pub fn disable_account(&self, p: &Principal, name: &str) -> Result<AccountRecord, VaultError> {
        if p.role() != Role::Operator {
            return Err(VaultError::Forbidden(
                "only an operator disables a principal",
            ));
        }
        let name = name.to_ascii_lowercase();
        let a = self
            .verified_account(self.reads(), &name)?
            .filter(|a| Self::sees_agency(p, &a.agency))
            .ok_or(VaultError::NotFound)?;
        if a.disabled {
            return Err(VaultError::State("this principal is disabled already"));
        }
        // Its tokens and sessions are suspended first (their own tagged rows): should the
        // account row be deleted or rolled back by hand, they still refuse. A crash between
        // the two leaves it suspended, not working.
        if !self.principal_suspended(&name)? {
            self.suspend_principal(p, &name)?;
        }
        let mut d = AccountRecord {
            disabled: true,
            ..a.clone()
        };
        d.tag = Some(facts::account_tag(self.keyring.facts(), &d).to_vec());
        let mut e = self.entry(
            p,
            Action::PrincipalDisable,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("principal={} disabled", d.name));
        self.store
            .put_account(&d, a.tag.as_deref(), &e)
            .map_err(|err| match err {
                StoreError::Conflict(_) => {
                    VaultError::State("the principal changed meanwhile: try again")
                }
                err => err.into(),
            })?;
        Ok(d)
    }

    /// Makes the first operators of an installation, at the console, while it has no account
    /// at all: they are active at once (made by `bootstrap`), so that from then on every
    /// principal is asked for by one operator and approved by another. Recorded.
    pub fn bootstrap_operators(
        &self,
        p: &Principal,
        names: &[String],
        agency: &Agency,
    ) -> Result<Vec<AccountRecord>, VaultError> {
        if !is_console(p) {
            return Err(VaultError::Forbidden(
                "only the console makes an installation's first operators",
            ));
        }
        if agency.as_str() == "LOCAL" {
            return Err(VaultError::Rejected(
                "LOCAL is the console's agency; no principal is made for it",
            ));
        }
        if names.is_empty() {
            return Err(VaultError::Rejected("name at least one operator"));
        }
        if !self.store.accounts()?.is_empty() {
            return Err(VaultError::State(
                "this installation has principals already: ask for new ones with `principal request`",
            ));
        }
        let now = self.clock.now();
        let mut made = Vec::new();
        for n in names {
            let name = principal_name(n)?;
            let mut a = AccountRecord {
                name,
                agency: agency.as_str().to_string(),
                role: Role::Operator.as_str().to_string(),
                disabled: false,
                created_by: BOOTSTRAP.into(),
                created_at: now,
                approved_by: BOOTSTRAP.into(),
                approved_at: now,
                subject: None,
                tag: None,
            };
            a.tag = Some(facts::account_tag(self.keyring.facts(), &a).to_vec());
            let mut e = self.entry(
                p,
                Action::PrincipalApprove,
                vec![],
                vec![],
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!(
                "bootstrap principal={} role=operator agency={}",
                a.name, a.agency
            ));
            self.store
                .put_account(&a, None, &e)
                .map_err(|err| match err {
                    StoreError::Conflict(_) => VaultError::State("this operator exists already"),
                    err => err.into(),
                })?;
            made.push(a);
        }
        Ok(made)
    }
}
