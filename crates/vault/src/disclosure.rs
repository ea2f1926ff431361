//! The one way out of the vault for personal data.

use crate::error::VaultError;
use rempart_store::AuditTicket;

/// Personal data on its way out of the vault: a file as read, search hits, a page of a
/// listing, the categories an update gives back. It yields what it holds only once the audit
/// entry that records exactly this disclosure is durable (no log, no data), through
/// [`Disclosure::wait`] on a thread or [`Disclosure::release`] in a task. Every operation that
/// returns personal data returns it through this type, and only the vault makes one: it is the
/// one place where every such response passes, and where containment decides.
///
/// Outside the vault, no code makes one, and none reads what it holds but through `wait` or
/// `release`:
///
/// ```compile_fail,E0624
/// let ticket = rempart_store::AuditTicket::ready(Ok(()));
/// let forged = rempart_vault::Disclosure::new("personal data", vec![], ticket);
/// ```
///
/// ```compile_fail,E0616
/// fn peek(d: rempart_vault::Disclosure<String>) -> String {
///     d.data
/// }
/// ```
#[must_use = "personal data leaves only through Disclosure::wait or Disclosure::release"]
pub struct Disclosure<T> {
    data: T,
    people: Vec<String>,
    ticket: AuditTicket,
}

impl<T> std::fmt::Debug for Disclosure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Disclosure({} people, <redacted>)", self.people.len())
    }
}

impl<T> Disclosure<T> {
    /// `data`, naming `people` (pseudonymous ids), released once `ticket` completes with `Ok`.
    pub(crate) fn new(data: T, people: Vec<String>, ticket: AuditTicket) -> Disclosure<T> {
        Disclosure {
            data,
            people,
            ticket,
        }
    }

    /// The pseudonymous ids of the people whose data it holds, each once, in the order of the
    /// response (no personal data).
    pub fn people(&self) -> &[String] {
        &self.people
    }

    /// Blocks until the audit entry is durable, then yields the data; an entry that failed
    /// yields nothing but the error.
    pub fn wait(self) -> Result<T, VaultError> {
        self.ticket.wait()?;
        Ok(self.data)
    }

    /// As [`Disclosure::wait`], awaited without holding a thread.
    pub async fn release(self) -> Result<T, VaultError> {
        self.ticket.await?;
        Ok(self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rempart_store::StoreError;

    #[test]
    fn nothing_leaves_when_the_entry_failed() {
        let failed = Disclosure::new(
            "secret".to_string(),
            vec!["p1".into()],
            AuditTicket::ready(Err(StoreError::Audit("refused".into()))),
        );
        assert_eq!(failed.people(), ["p1"]);
        assert!(!format!("{failed:?}").contains("secret"));
        assert!(matches!(failed.wait(), Err(VaultError::Store(_))));
        let (ticket, sender) = AuditTicket::pending();
        let pending = Disclosure::new(7, vec![], ticket);
        sender.complete(Ok(()));
        assert_eq!(pending.wait().unwrap(), 7);
    }
}
