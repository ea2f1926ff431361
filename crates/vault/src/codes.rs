//! Verification codes: every message Rempart sends carries one, so that its recipient can tell
//! it from phishing in the organisation's name. A code is issued for a recipient, an agency, a
//! day and a message ([`Vault::issue_code`]: the code to print and the row to store with the
//! message, in the same transaction), and checked by anyone ([`Vault::verify_code`]), whose
//! answer is whether it is genuine and, if so, the day and the agency: never the recipient, never
//! the message.
//!
//! A code verifies only if it was made with this installation's key: the row found by the
//! code's keyed hash is checked by recomputing the code from the row's fields under the key,
//! so a row written into the database without the key never verifies.

use crate::core::Vault;
use crate::error::VaultError;
use chrono::NaiveDate;
use rempart_crypto::{CodeSerial, VerificationCode};
use rempart_domain::{Agency, Email, Phone};
use rempart_store::{CodeRecord, StoreError};

/// The format of a stored day.
const DAY: &str = "%Y-%m-%d";

/// Who a message goes to: an email address or a phone number, normalised before it is hashed
/// (`Debug` shows neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An email address, hashed lower-cased.
    Email(Email),
    /// A phone number, hashed in E.164.
    Phone(Phone),
}

impl Recipient {
    /// An email address if `contact` holds an `@`, else a phone number (French national or
    /// international form); `None` when it is neither.
    pub fn parse(contact: &str) -> Option<Recipient> {
        if contact.contains('@') {
            Email::parse(contact).ok().map(Recipient::Email)
        } else {
            Phone::parse(contact).ok().map(Recipient::Phone)
        }
    }

    /// The contact normalised: the email address lower-cased, the phone number in E.164 (what
    /// a message is sent to).
    pub fn address(&self) -> String {
        self.hashed().1
    }

    /// What the keyed hash is computed over: the kind, and the normalised contact.
    fn hashed(&self) -> (&'static str, String) {
        match self {
            Recipient::Email(e) => ("email", e.normalised()),
            Recipient::Phone(p) => ("phone", p.as_str().to_string()),
        }
    }
}

/// A code just issued: the code to print on the message, and the row to store (with the
/// message, in one transaction, or through [`Vault::issue_and_store_code`]). Until stored,
/// the code does not verify.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The code (`Display`: `XXXX-XXXX-XXXX`).
    pub code: VerificationCode,
    /// What the store keeps of it.
    pub record: CodeRecord,
}

/// What a genuine code says, and all it says: the day its message was sent and by which
/// agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCode {
    /// The day the message was sent.
    pub sent_on: NaiveDate,
    /// The sending agency's code.
    pub agency: String,
}

impl Vault {
    /// A new code for a message to `to`, sent on `sent_on` by `agency` (`message_id` names
    /// the message, or is empty), and the row to store. Nothing is written: store
    /// `IssuedCode::record` in the transaction that keeps the message.
    pub fn issue_code(
        &self,
        to: &Recipient,
        agency: &Agency,
        sent_on: NaiveDate,
        message_id: &str,
    ) -> IssuedCode {
        let key = self.keyring.verify();
        let (kind, contact) = to.hashed();
        let recipient = key.recipient_hash(kind, &contact);
        let serial = CodeSerial::random();
        let day = sent_on.format(DAY).to_string();
        let code = key.code(&serial, &recipient, &day, agency.as_str());
        IssuedCode {
            record: CodeRecord {
                lookup: key.lookup(&code).to_vec(),
                serial: serial.as_bytes().to_vec(),
                recipient: recipient.to_vec(),
                sent_on: day,
                agency: agency.as_str().to_string(),
                message_id: message_id.to_string(),
                created_at: self.clock.now(),
            },
            code,
        }
    }

    /// [`Vault::issue_code`], and the row stored at once; returns the code.
    pub fn issue_and_store_code(
        &self,
        to: &Recipient,
        agency: &Agency,
        sent_on: NaiveDate,
        message_id: &str,
    ) -> Result<VerificationCode, VaultError> {
        let issued = self.issue_code(to, agency, sent_on, message_id);
        self.store
            .insert_codes(std::slice::from_ref(&issued.record))?;
        Ok(issued.code)
    }

    /// Whether `text` (a code as a person typed it: case, hyphens, spaces and the confusables
    /// O, I and L do not matter) is a code this installation issued and stored; if so, the day
    /// and the agency. A text that cannot be a code is [`VaultError::MalformedCode`].
    pub fn verify_code(&self, text: &str) -> Result<Option<VerifiedCode>, VaultError> {
        let code = VerificationCode::parse(text).map_err(VaultError::MalformedCode)?;
        self.verify_parsed_code(&code)
    }

    /// [`Vault::verify_code`] for a code already read.
    pub fn verify_parsed_code(
        &self,
        code: &VerificationCode,
    ) -> Result<Option<VerifiedCode>, VaultError> {
        let key = self.keyring.verify();
        for row in self.store.codes(&key.lookup(code))? {
            if key.verify(code, &row.serial, &row.recipient, &row.sent_on, &row.agency) {
                // Written with the key: its day was written by `issue_code`.
                let sent_on = NaiveDate::parse_from_str(&row.sent_on, DAY)
                    .map_err(|_| StoreError::Corrupt("verification code's day"))?;
                return Ok(Some(VerifiedCode {
                    sent_on,
                    agency: row.agency,
                }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_an_email_or_a_phone_and_hashes_normalised() {
        let a = Recipient::parse("Lea.Martin@Example.fr").unwrap();
        let b = Recipient::parse("lea.martin@example.fr").unwrap();
        assert_eq!(a.hashed(), b.hashed());
        let p = Recipient::parse("06 12 34 56 78").unwrap();
        assert_eq!(p.hashed(), ("phone", "+33612345678".to_string()));
        assert_eq!(Recipient::parse("+33 6 12 34 56 78").unwrap(), p);
        assert!(Recipient::parse("not a contact").is_none());
        assert!(Recipient::parse("a@b").is_none());
        assert!(!format!("{a:?}").contains("lea"), "{a:?}");
    }
}
