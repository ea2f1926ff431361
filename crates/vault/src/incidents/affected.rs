//! "Was I affected?": a person gives an email address or a phone number; when it is on file,
//! the answer (the incidents that exposed their data, and which categories, or none) is sent
//! to that contact, with a verification code. Nothing is ever answered to the asker: the
//! caller answers the same whatever happens here, and runs this apart from the response.

use super::notices::{DeliveryError, Sender};
use crate::codes::Recipient;
use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Role, SearchTerm};
use rempart_incident::{notice::day, words, Language};
use rempart_store::ListScope;
use serde::Serialize;

/// Files one contact may belong to, at most (siblings sharing a parent's address…).
const MATCHES: usize = 8;

#[derive(Serialize)]
struct Affected {
    date: String,
    exposed: Vec<&'static str>,
}

impl Vault {
    /// Answers "was I affected?" for `contact`, by sending the answer to it when it is a
    /// person's address or phone on file. Returns whether a message left (for the caller's
    /// metrics, never for the asker). Recorded: the people the contact belongs to, never the
    /// contact.
    pub fn answer_affected(
        &self,
        contact: &str,
        client: Option<String>,
        language: Language,
        sender: Sender<'_>,
    ) -> Result<bool, VaultError> {
        let Sender {
            templates,
            courier,
            options,
        } = sender;
        let asker = Principal::described(
            "public",
            Role::Service,
            Agency::parse("LOCAL").map_err(|_| VaultError::Integrity)?,
        )
        .with_request(client, None, None);
        let record = |persons: Vec<String>, what: &str| -> Result<(), VaultError> {
            let mut e = self.entry(
                &asker,
                Action::AffectedAsk,
                persons,
                vec![],
                None,
                Outcome::Allowed,
            );
            e.detail = Some(what.to_string());
            Ok(self.store.append_audit(&[e])?)
        };
        let Some(to) = Recipient::parse(contact) else {
            return record(vec![], "not a contact").map(|_| false);
        };
        let term = match &to {
            Recipient::Email(_) => SearchTerm::email(contact),
            Recipient::Phone(_) => SearchTerm::phone(contact),
        }
        .map_err(|_| VaultError::Rejected("not a contact"))?;
        let (kind, hash) = self.index_entry(&term);
        let mut people = Vec::new();
        let mut agency = None;
        for (a, _) in self.store.agencies()? {
            for id in self
                .store
                .find_by_index(kind, &hash, &ListScope::Agency(&a), MATCHES)?
            {
                let Some(stored) = self.store.get_person(&id)? else {
                    continue;
                };
                if stored.decoy {
                    continue;
                }
                agency.get_or_insert_with(|| stored.agency.clone());
                people.push(id);
            }
        }
        let Some(agency) = agency else {
            return record(vec![], "not on file").map(|_| false);
        };
        let mut incidents = Vec::new();
        for id in &people {
            for (incident, categories) in self.store.person_incidents(id)? {
                // Told only once the DPO approved the incident's notices.
                let approved = self
                    .store
                    .notice_batch(&incident)?
                    .is_some_and(|b| b.approved_by.is_some());
                if !approved {
                    continue;
                }
                let date = self
                    .store
                    .incident(&incident)?
                    .map(|(i, _)| i.copy_as_of.unwrap_or(i.opened_at))
                    .unwrap_or_default();
                incidents.push(Affected {
                    date: day(date, language),
                    exposed: categories
                        .iter()
                        .map(|c| words::label(c, language))
                        .collect(),
                });
            }
        }
        let agency_code = Agency::parse(&agency).map_err(|_| VaultError::Integrity)?;
        let message_id = format!("ans_{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let code = self
            .issue_and_store_code(&to, &agency_code, self.clock.today(), &message_id)?
            .to_string();
        let organisation = options
            .organisations
            .get(&agency)
            .cloned()
            .or_else(|| (!options.organisation.is_empty()).then(|| options.organisation.clone()))
            .unwrap_or_else(|| agency.clone());
        let ctx = serde_json::json!({
            "organisation": organisation,
            "incidents": incidents,
            "contact": options.contact,
            "verify_url": options.verify_url,
            "code": code,
        });
        let name = format!("affected.{}.txt", language.as_str());
        // To the contact as normalised (as the file holds it), never as typed.
        let address = to.address();
        let sent = match &to {
            Recipient::Email(_) => templates
                .message(&name, &ctx)
                .map_err(|e| DeliveryError::Permanent(e.to_string()))
                .and_then(|m| courier.email(&address, &m.subject, &m.body, &message_id)),
            Recipient::Phone(_) => templates
                .message(&name, &ctx)
                .map_err(|e| DeliveryError::Permanent(e.to_string()))
                .and_then(|m| courier.sms(&address, &m.body, &message_id)),
        };
        let what = match &sent {
            Ok(()) => format!(
                "answer sent: message={message_id} incidents={}",
                incidents.len()
            ),
            Err(e) => format!(
                "answer not sent: {}",
                e.to_string().split(':').next().unwrap_or("")
            ),
        };
        record(people, &what)?;
        Ok(sent.is_ok())
    }
}
