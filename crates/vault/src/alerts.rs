//! Containment's alerts: raised with the suspension they report, read and closed by operators.

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::Role;
use rempart_store::{AlertRecord, StoreError};

/// Where a raised alert is sent besides the database (a webhook, syslog, email). Called after
/// the alert is durable; it must not block for long (send from a thread of its own).
pub trait AlertSink: Send + Sync {
    /// Sends `alert` on.
    fn raised(&self, alert: &AlertRecord);

    /// Says that containment's shared counts stopped answering at `at` (Unix seconds;
    /// responses with personal data are refused meanwhile), or answer again. Nothing by
    /// default.
    fn containment_outage(&self, outage: crate::containment::Outage, at: i64) {
        let _ = (outage, at);
    }
}

/// Attempts at suspending a principal whose tokens change meanwhile.
const RAISE_ATTEMPTS: usize = 5;

impl Vault {
    /// Suspends `p`'s principal and records the alert (`containment_alert`, by principal
    /// `guard`, naming the people its responses showed over the last day), in one transaction;
    /// then hands the alert to the sinks.
    pub(crate) fn raise_alert(
        &self,
        p: &Principal,
        trip: &str,
        signals: String,
        people: Vec<String>,
    ) -> Result<(), VaultError> {
        let guard = Principal::guard(p.agency().clone());
        let name = p.name().to_ascii_lowercase();
        let alert = AlertRecord {
            id: format!("alr_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            at: self.clock.now(),
            principal: name.clone(),
            role: p.role().as_str().to_string(),
            agency: p.agency().as_str().to_string(),
            token: p.token_id().to_string(),
            trip: trip.to_string(),
            signals,
            people,
            restored_at: None,
            restored_by: None,
        };
        let mut e = self.entry(
            &guard,
            Action::ContainmentAlert,
            alert.people.clone(),
            vec![],
            None,
            Outcome::Allowed,
        );
        e.detail = Some(format!(
            "alert={} principal={} token={} trip={} {}",
            alert.id, alert.principal, alert.token, alert.trip, alert.signals
        ));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (record, changes, suspend, _) = self.suspension(&guard, &name, true, None)?;
            match self
                .store
                .raise_alert(&alert, &record, &changes, &[suspend, e.clone()])
            {
                Ok(()) => break,
                // A token of the principal changed meanwhile: read them again.
                Err(StoreError::Conflict(_)) if attempt < RAISE_ATTEMPTS => continue,
                Err(err) => return Err(err.into()),
            }
        }
        tracing::warn!(
            alert = %alert.id,
            principal = %alert.principal,
            trip = %alert.trip,
            "containment suspended a principal"
        );
        if let Some(sink) = &self.alert_sink {
            sink.raised(&alert);
        }
        Ok(())
    }

    /// Only operators and the DPO see alerts and restore principals.
    fn may_oversee(p: &Principal) -> Result<(), VaultError> {
        match p.role() {
            Role::Operator | Role::Dpo => Ok(()),
            _ => Err(VaultError::Forbidden(
                "only an operator or the DPO sees containment alerts",
            )),
        }
    }

    /// Whether `p` oversees `alert`: an operator or DPO of the alert's agency, or the local
    /// administrator (the console) for every agency.
    fn oversees(p: &Principal, alert: &AlertRecord) -> bool {
        p.agency().as_str() == "LOCAL" || p.agency().as_str() == alert.agency
    }

    /// Alerts raised before `before` (an alert id), newest first, at most `limit` (1 to 200).
    pub fn alerts(
        &self,
        p: &Principal,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, VaultError> {
        Self::may_oversee(p)?;
        Ok(self
            .store
            .alerts(before, limit.clamp(1, 200))?
            .into_iter()
            .filter(|a| Self::oversees(p, a))
            .collect())
    }

    /// One alert of the caller's agency (another agency's is not found).
    pub fn alert(&self, p: &Principal, id: &str) -> Result<AlertRecord, VaultError> {
        Self::may_oversee(p)?;
        self.store
            .alert(id)?
            .filter(|a| Self::oversees(p, a))
            .ok_or(VaultError::NotFound)
    }

    /// Restores the principal an open alert suspended, with a written justification (10 to
    /// 500 characters); the restore closes its open alerts. Returns how many of its tokens
    /// work again. Recorded with the justification. Containment clears its refusals but keeps
    /// the people it was shown: a restore never gives it a fresh budget.
    pub fn restore_alert(&self, p: &Principal, id: &str, why: &str) -> Result<usize, VaultError> {
        let alert = self.alert(p, id)?;
        if alert.restored_at.is_some() {
            return Err(VaultError::Forbidden("this alert is closed already"));
        }
        let n = self.restore_principal(p, &alert.principal, why)?;
        // After the restore, which decides whether `p` may: should clearing the refusals then
        // fail, the principal keeps them (it fails closed: the next refusals suspend it again).
        match (&self.guard, &self.shared) {
            (Some(guard), _) => guard.pardon(&alert.principal)?,
            (None, Some(parts)) => crate::containment::pardon_shared(&**parts, &alert.principal)?,
            (None, None) => {}
        }
        Ok(n)
    }
}
