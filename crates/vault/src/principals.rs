//! Tokens and principals as administrative records: listing, revocation, suspension and
//! restoration, each recorded in the audit log; and the one-time tagging of the rows stored
//! before access facts were tagged.

use crate::core::Vault;
use crate::error::VaultError;
use crate::facts;
use crate::principal::{justification, Principal};
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_store::{PrincipalRecord, StoreError, TokenChange, TokenRecord};

/// A token's state, as `rempart token list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Works.
    Active,
    /// Past its expiry.
    Expired,
    /// Its principal is suspended.
    Suspended,
    /// Revoked: never works again.
    Revoked,
    /// Its row does not verify against its tag (written without the key): refused.
    Invalid,
}

impl TokenState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Expired => "expired",
            TokenState::Suspended => "suspended",
            TokenState::Revoked => "revoked",
            TokenState::Invalid => "invalid",
        }
    }
}

/// A token as listed: never its secret (which is not stored) nor its hash.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Principal name.
    pub principal: String,
    /// Role.
    pub role: String,
    /// Agency.
    pub agency: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// State now.
    pub state: TokenState,
}

/// Rows of one batch of the tagging of an older installation.
const BIND_BATCH: usize = 500;

impl Vault {
    fn token_state(&self, t: &TokenRecord) -> TokenState {
        if !facts::token_verifies(self.keyring.facts(), t) {
            TokenState::Invalid
        } else if t.revoked_at.is_some() {
            TokenState::Revoked
        } else if t.suspended {
            TokenState::Suspended
        } else if t.expires_at <= self.clock.now() {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    /// Every token, by creation time, with its state.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, VaultError> {
        Ok(self
            .store
            .tokens()?
            .into_iter()
            .map(|t| TokenInfo {
                state: self.token_state(&t),
                id: t.id,
                principal: t.principal,
                role: t.role,
                agency: t.agency,
                created_at: t.created_at,
                expires_at: t.expires_at,
            })
            .collect())
    }

    /// The token changed to `suspended` and `revoked_at`, tagged. A token whose row did not
    /// verify is revoked whatever is asked: a forged row is never made valid.
    fn token_change(
        &self,
        t: &TokenRecord,
        suspended: bool,
        revoked_at: Option<i64>,
    ) -> TokenChange {
        let revoked_at = if facts::token_verifies(self.keyring.facts(), t) {
            revoked_at
        } else {
            Some(t.revoked_at.unwrap_or_else(|| self.clock.now()))
        };
        let after = TokenRecord {
            suspended,
            revoked_at,
            ..t.clone()
        };
        TokenChange {
            expires_at: t.expires_at,
            id: t.id.clone(),
            expected: t.tag.clone(),
            suspended,
            revoked_at,
            tag: facts::token_tag(self.keyring.facts(), &after).to_vec(),
        }
    }

    /// Revokes a token for good. `Ok(false)`: it was revoked already. Recorded.
    pub fn revoke_token(&self, by: &Principal, id: &str) -> Result<bool, VaultError> {
        let t = self
            .store
            .tokens()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(VaultError::NotFound)?;
        if t.revoked_at.is_some() && facts::token_verifies(self.keyring.facts(), &t) {
            return Ok(false);
        }
        let change = self.token_change(&t, t.suspended, Some(self.clock.now()));
        let mut e = self.entry(
            by,
            Action::TokenRevoke,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!("{} principal={}", t.id, t.principal));
        self.store.change_tokens(None, &[change], &e)?;
        Ok(true)
    }

    /// Whether `name` is suspended now (a suspension record that does not verify counts as
    /// suspended: it fails closed).
    pub fn principal_suspended(&self, name: &str) -> Result<bool, VaultError> {
        Ok(self
            .store
            .principal(&name.to_ascii_lowercase())?
            .is_some_and(|p| p.suspended || !facts::principal_verifies(self.keyring.facts(), &p)))
    }

    /// Suspends a principal: every one of its tokens stops working at once (`403`), and no
    /// token is created for it until it is restored. Returns how many tokens it holds.
    /// Recorded.
    pub fn suspend_principal(&self, by: &Principal, name: &str) -> Result<usize, VaultError> {
        self.set_suspended(by, &name.to_ascii_lowercase(), true, None)
    }

    /// Restores a suspended principal, with a written justification (10 to 500 characters):
    /// its tokens that were not revoked work again. Returns how many. Recorded with the
    /// justification.
    pub fn restore_principal(
        &self,
        by: &Principal,
        name: &str,
        why: &str,
    ) -> Result<usize, VaultError> {
        let why = justification(why).map_err(VaultError::Forbidden)?;
        let name = name.to_ascii_lowercase();
        let name = name.as_str();
        if !self.principal_suspended(name)? {
            return Err(VaultError::Forbidden("this principal is not suspended"));
        }
        self.set_suspended(by, name, false, Some(why))
    }

    fn set_suspended(
        &self,
        by: &Principal,
        name: &str,
        suspended: bool,
        why: Option<String>,
    ) -> Result<usize, VaultError> {
        let (record, changes, e, working) = self.suspension(by, name, suspended, why)?;
        self.store.change_tokens(Some(&record), &changes, &e)?;
        Ok(working)
    }

    /// What suspending (or restoring) `name` writes: its record, every one of its tokens
    /// changed, the entry, and how many of its tokens are not revoked.
    pub(crate) fn suspension(
        &self,
        by: &Principal,
        name: &str,
        suspended: bool,
        why: Option<String>,
    ) -> Result<(PrincipalRecord, Vec<TokenChange>, AuditEntry, usize), VaultError> {
        let tokens: Vec<TokenRecord> = self
            .store
            .tokens()?
            .into_iter()
            .filter(|t| t.principal.eq_ignore_ascii_case(name))
            .collect();
        let changes: Vec<TokenChange> = tokens
            .iter()
            .map(|t| self.token_change(t, suspended, t.revoked_at))
            .collect();
        let working = changes.iter().filter(|c| c.revoked_at.is_none()).count();
        if !suspended {
            // Restored: its failed credentials start counting afresh.
            self.guesses
                .forgive(self.shared.as_deref(), name, self.clock.now());
        }
        let mut record = PrincipalRecord {
            name: name.to_string(),
            suspended,
            since: self.clock.now(),
            tag: None,
        };
        record.tag = Some(facts::principal_tag(self.keyring.facts(), &record).to_vec());
        let (action, detail) = if suspended {
            (
                Action::PrincipalSuspend,
                format!("principal={name} tokens={working}"),
            )
        } else {
            (
                Action::PrincipalRestore,
                format!(
                    "principal={name} tokens={working} justification: {}",
                    why.unwrap_or_default()
                ),
            )
        };
        let mut e = self.entry(by, action, vec![], vec![], None, Outcome::Allowed);
        e.detail = Some(detail);
        Ok((record, changes, e, working))
    }

    /// Tags the access facts of the files and tokens stored before tags existed, once, at the
    /// upgrade (the process holds the key file); from then on an untagged row is one written
    /// without the key, and is refused. Returns how many rows were tagged. Recorded.
    ///
    /// Only the process that applied the upgrade tags them (a flag in the database could be
    /// set again by whoever writes it). `trust_untagged` is the operator's word, after an
    /// upgrade interrupted before it finished, that the untagged rows are the old ones.
    pub fn bind_legacy_facts(&self, trust_untagged: bool) -> Result<u64, VaultError> {
        if trust_untagged {
            self.store.trust_untagged_rows();
        }
        let mut total = 0u64;
        loop {
            let (persons, tokens) = self.store.unbound_facts(BIND_BATCH)?;
            let done = persons.len() < BIND_BATCH && tokens.len() < BIND_BATCH;
            let person_tags: Vec<(String, Vec<u8>)> = persons
                .iter()
                .map(|p| {
                    (
                        p.id.clone(),
                        facts::file_tag(
                            self.keyring.facts(),
                            &p.id,
                            &p.agency,
                            p.counsellor.as_deref(),
                            &p.partners,
                        )
                        .to_vec(),
                    )
                })
                .collect();
            let token_tags: Vec<(String, Vec<u8>)> = tokens
                .iter()
                .map(|t| {
                    (
                        t.id.clone(),
                        facts::token_tag(self.keyring.facts(), t).to_vec(),
                    )
                })
                .collect();
            total += (person_tags.len() + token_tags.len()) as u64;
            let actor = Principal::local(
                rempart_domain::Agency::parse("LOCAL")
                    .map_err(|_| StoreError::Corrupt("agency"))?,
            );
            let mut e = self.entry(
                &actor,
                Action::FactsBind,
                vec![],
                vec![],
                None,
                Outcome::Allowed,
            );
            e.detail = Some(format!(
                "files={} tokens={}",
                person_tags.len(),
                token_tags.len()
            ));
            self.store.bind_facts(&person_tags, &token_tags, done, &e)?;
            if done {
                return Ok(total);
            }
        }
    }
}

impl Vault {
    /// The tokens and sessions the caller may see: its own, and for an operator or the DPO
    /// every one of its agency (every one for the console). Never a secret nor a hash.
    pub fn credentials(&self, p: &Principal) -> Result<Vec<TokenInfo>, VaultError> {
        let oversees = matches!(
            p.role(),
            rempart_domain::Role::Operator | rempart_domain::Role::Dpo
        );
        Ok(self
            .list_tokens()?
            .into_iter()
            .filter(|t| {
                t.principal.eq_ignore_ascii_case(p.name())
                    || (oversees
                        && (p.agency().as_str() == "LOCAL" || p.agency().as_str() == t.agency))
            })
            .collect())
    }

    /// Revokes one of the tokens or sessions the caller may see ([`Vault::credentials`]);
    /// another is not found. Recorded.
    pub fn revoke_credential(&self, p: &Principal, id: &str) -> Result<bool, VaultError> {
        if !self.credentials(p)?.iter().any(|t| t.id == id) {
            return Err(VaultError::NotFound);
        }
        self.revoke_token(p, id)
    }
}
