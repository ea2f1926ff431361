//! The notices of an incident (art. 34): prepared for every person exposed (and each legal
//! representative of a minor) in one transaction with the decision, approved by the DPO, then
//! delivered from the outbox by email or SMS, each message with its verification code. A
//! message is claimed durably before it leaves and never sent again on its own once claimed:
//! a restart sends nothing twice.

use crate::codes::Recipient;
use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use rempart_audit::{Action, Outcome};
use rempart_domain::{Agency, Category, PersonInput, Role};
use rempart_incident::{Language, NoticeFacts, Templates};
use rempart_store::{
    IncidentEvent, IncidentPerson, NoticeBatch, NoticeRecord, NoticeStatus, StoredPerson,
};
use std::time::Duration;

/// Why a channel did not take a message. Never holds an address or a message's text.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another attempt later (a connection refused, a 4xx reply).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Not worth another attempt (a 5xx reply, an address refused).
    #[error("refused: {0}")]
    Permanent(String),
    /// Unknown: it may have been taken. The message stays claimed (uncertain), never sent again
    /// on its own.
    #[error("outcome unknown: {0}")]
    Uncertain(String),
}

/// Where messages leave: a mail relay and an SMS gateway.
pub trait Courier: Send + Sync {
    /// Sends an email; `message_id` is the message's stable id (its `Message-ID`).
    fn email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        message_id: &str,
    ) -> Result<(), DeliveryError>;
    /// Sends a text message.
    fn sms(&self, to: &str, text: &str, message_id: &str) -> Result<(), DeliveryError>;
}

/// What the messages say of their sender, and how delivery retries.
#[derive(Debug, Clone)]
pub struct NoticeOptions {
    /// The sending organisation, by agency code.
    pub organisations: std::collections::BTreeMap<String, String>,
    /// The sender of an agency without a name of its own (when empty: the agency's code).
    pub organisation: String,
    /// The contact point people may ask.
    pub contact: String,
    /// The public page where a code is verified.
    pub verify_url: String,
    /// Attempts per message before it is given up.
    pub attempts: u32,
    /// The first retry's delay; each next one doubles it.
    pub retry_after: Duration,
}

impl Default for NoticeOptions {
    fn default() -> NoticeOptions {
        NoticeOptions {
            organisations: Default::default(),
            organisation: String::new(),
            contact: String::new(),
            verify_url: String::new(),
            attempts: 5,
            retry_after: Duration::from_secs(30),
        }
    }
}

/// Where each message of an incident stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages in the batch.
    pub total: u64,
    /// Waiting for the DPO's approval.
    pub awaiting: u64,
    /// Accepted by the relay or the gateway.
    pub sent: u64,
    /// Waiting for a retry (or not sent yet).
    pub ready: u64,
    /// Claimed by a delivery that stopped before knowing the outcome: they may have left, and
    /// are not sent again unless the operator says so.
    pub uncertain: u64,
    /// Given up.
    pub failed: u64,
    /// People exposed with no address or phone on file (and, for a minor, no representative
    /// reachable): to be told by post.
    pub unreachable: u64,
}

/// How messages leave: their templates, their channels, and what they say of their sender.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    /// The templates in use.
    pub templates: &'a Templates,
    /// The channels.
    pub courier: &'a dyn Courier,
    /// The sender's name, contact point and verification page; retries.
    pub options: &'a NoticeOptions,
}

/// One delivery run's progress, for a progress bar.
pub trait Delivery {
    /// `done` messages of `total` settled.
    fn progress(&self, done: u64, total: u64);
}

impl<F: Fn(u64, u64)> Delivery for F {
    fn progress(&self, done: u64, total: u64) {
        self(done, total)
    }
}

/// The addresses of a file: the person's, then each representative's, as (rank, channel,
/// address).
fn addresses(file: &PersonInput, minor: bool) -> Vec<(u8, &'static str, String)> {
    let mut out = Vec::new();
    if let Some(c) = &file.contact {
        if let Some(e) = c.email.as_ref().filter(|e| !e.is_empty()) {
            out.push((0, "email", e.clone()));
        } else if let Some(p) = c.phones.first() {
            out.push((0, "sms", p.clone()));
        }
    }
    if minor {
        for (i, r) in file
            .legal_representatives
            .iter()
            .flatten()
            .enumerate()
            .take(4)
        {
            let rank = u8::try_from(i + 1).unwrap_or(4);
            if let Some(e) = r.email.as_ref().filter(|e| !e.is_empty()) {
                out.push((rank, "email", e.clone()));
            } else if let Some(p) = r.phone.as_ref().filter(|p| !p.is_empty()) {
                out.push((rank, "sms", p.clone()));
            }
        }
    }
    out
}

fn full_name(file: &PersonInput) -> String {
    let id = file.identity.as_ref();
    let first = id.and_then(|i| i.first_names.as_deref()).unwrap_or("");
    let last = id.and_then(|i| i.last_name.as_deref()).unwrap_or("");
    format!("{first} {last}").trim().to_string()
}

const READ: [Category; 3] = [
    Category::Identity,
    Category::Contact,
    Category::LegalRepresentatives,
];

impl Vault {
    /// Opens what a notice needs of a file: identity, contact, legal representatives.
    fn notice_file(&self, id: &str) -> Result<Option<(StoredPerson, PersonInput)>, VaultError> {
        let Some(stored) = self.store.get_person(id)? else {
            return Ok(None);
        };
        let Some(dk) = self.data_key(id)? else {
            return Ok(None);
        };
        let file = self.open(&stored, &dk, &READ)?;
        Ok(Some((stored, file)))
    }

    /// Prepares the incident's notices: fixes its people (the impact now), and writes one
    /// message per reachable recipient (the person; each legal representative of a minor),
    /// awaiting the DPO's approval, in one transaction with the decision. Returns the report.
    pub fn prepare_notices(
        &self,
        p: &Principal,
        id: &str,
        language: Language,
    ) -> Result<DeliveryReport, VaultError> {
        let (incident, _) = self.incident(p, id)?;
        if incident.status != "open" {
            return Err(VaultError::State("the incident is closed"));
        }
        if self.store.notice_batch(id)?.is_some() {
            return Err(VaultError::State(
                "the incident's notices are already prepared",
            ));
        }
        let impact = self.compute_impact(&incident)?;
        let mut people = Vec::new();
        let mut notices = Vec::new();
        let mut unreachable = 0;
        for x in impact.people.values() {
            people.push(IncidentPerson {
                person: x.id.clone(),
                categories: x.categories.iter().cloned().collect(),
                first: x.first,
                last: x.last,
            });
            let Some((_, file)) = self.notice_file(&x.id)? else {
                // Erased since: nobody to write to, nothing left to say.
                unreachable += 1;
                continue;
            };
            let to = addresses(&file, x.minor == Some(true));
            if to.is_empty() {
                unreachable += 1;
            }
            for (rank, channel, _) in to {
                notices.push(NoticeRecord {
                    id: format!("ntc_{}", &uuid::Uuid::new_v4().simple().to_string()[..20]),
                    incident: id.to_string(),
                    person: x.id.clone(),
                    recipient: rank,
                    channel: channel.to_string(),
                    code: String::new(),
                    status: NoticeStatus::Awaiting,
                    attempts: 0,
                    next_at: 0,
                    error: None,
                    sent_at: None,
                });
            }
        }
        let now = self.clock.now();
        let by = p.name().to_ascii_lowercase();
        let what = format!(
            "notices prepared ({}): {} messages for {} people, {} unreachable",
            language.as_str(),
            notices.len(),
            people.len(),
            unreachable
        );
        let e = self.incident_entry(p, Action::NoticePrepare, id, &what);
        let batch = NoticeBatch {
            incident: id.to_string(),
            prepared_by: by.clone(),
            prepared_at: now,
            language: language.as_str().to_string(),
            approved_by: None,
            approved_at: None,
        };
        let step = IncidentEvent { at: now, by, what };
        // A stolen key's or a leaked file's people were fixed when it was opened.
        let fix: &[IncidentPerson] = if incident.kind == "access" {
            &people
        } else {
            &[]
        };
        if !self
            .store
            .prepare_notices(&batch, fix, &notices, &step, &e)?
        {
            return Err(VaultError::NotFound);
        }
        let mut report = self.notice_report(p, id)?;
        report.unreachable = unreachable;
        Ok(report)
    }

    /// The DPO approves the incident's batch: its messages may leave. Only a DPO (of the
    /// incident's agency, or any DPO for an incident of the console).
    pub fn approve_notices(&self, p: &Principal, id: &str) -> Result<DeliveryReport, VaultError> {
        if p.role() != Role::Dpo {
            return Err(VaultError::Forbidden("only the DPO approves notices"));
        }
        // An incident of the console covers every agency: the installation's DPO approves it.
        let Some((incident, _)) = self.store.incident(id)? else {
            return Err(VaultError::NotFound);
        };
        if incident.agency != "LOCAL" && incident.agency != p.agency().as_str() {
            return Err(VaultError::NotFound);
        }
        if incident.status != "open" {
            return Err(VaultError::State("the incident is closed"));
        }
        // Every message goes out in its agency's name: its DPO approves it, or the
        // installation's DPO (agency LOCAL), and no other agency's.
        if incident.agency == "LOCAL" && !Self::local(p) {
            for n in self.store.notices(id)? {
                let agency = self.store.get_person(&n.person)?.map(|f| f.agency);
                if agency.as_deref().is_some_and(|a| a != p.agency().as_str()) {
                    return Err(VaultError::Forbidden(
                        "the batch holds people of another agency: its own DPO approves them",
                    ));
                }
            }
        }
        let Some(batch) = self.store.notice_batch(id)? else {
            return Err(VaultError::State("the incident's notices are not prepared"));
        };
        if batch.approved_by.is_some() {
            return Err(VaultError::State(
                "the incident's notices are already approved",
            ));
        }
        let now = self.clock.now();
        let by = p.name().to_ascii_lowercase();
        let what = format!("notices approved by the DPO {by}");
        let e = self.incident_entry(p, Action::NoticeApprove, id, &what);
        let step = IncidentEvent {
            at: now,
            by: by.clone(),
            what,
        };
        if !self.store.approve_notices(id, &by, now, &step, &e)? {
            return Err(VaultError::State(
                "the incident's notices are already approved",
            ));
        }
        self.report(id)
    }

    /// Where each message of the incident stands.
    pub fn notice_report(&self, p: &Principal, id: &str) -> Result<DeliveryReport, VaultError> {
        self.incident(p, id)?;
        self.report(id)
    }

    fn report(&self, id: &str) -> Result<DeliveryReport, VaultError> {
        let mut r = DeliveryReport::default();
        for n in self.store.notices(id)? {
            r.total += 1;
            match n.status {
                NoticeStatus::Awaiting => r.awaiting += 1,
                NoticeStatus::Ready => r.ready += 1,
                NoticeStatus::Sending => r.uncertain += 1,
                NoticeStatus::Sent => r.sent += 1,
                NoticeStatus::Failed => r.failed += 1,
            }
        }
        Ok(r)
    }

    /// The incident's messages, in id order (no address, no text).
    pub fn notices(&self, p: &Principal, id: &str) -> Result<Vec<NoticeRecord>, VaultError> {
        self.incident(p, id)?;
        Ok(self.store.notices(id)?)
    }

    /// Puts back the messages an interrupted delivery left uncertain, on the operator's word
    /// that they did not leave (the relay's log shows it). Recorded.
    pub fn release_uncertain_notices(
        &self,
        p: &Principal,
        id: &str,
        messages: &[String],
    ) -> Result<u64, VaultError> {
        self.incident(p, id)?;
        let n = self.store.release_sending(id, messages)?;
        self.incident_step(
            p,
            Action::NoticeApprove,
            id,
            format!(
                "{n} uncertain messages released for sending again: {}",
                messages.join(",")
            ),
        )?;
        Ok(n)
    }

    /// Sends the incident's approved messages that are due, through `courier`, until none is
    /// left but those waiting for a retry (when `wait` is set, until none is left at all).
    /// Each message is claimed durably with its verification code before it leaves, then
    /// settled: sent (recorded in the log, naming the person), retried with back-off, or
    /// failed. Messages an earlier run left claimed are reported uncertain, never resent.
    pub fn deliver_notices(
        &self,
        p: &Principal,
        id: &str,
        sender: Sender<'_>,
        wait: bool,
        progress: &dyn Delivery,
    ) -> Result<DeliveryReport, VaultError> {
        let (incident, _) = self.incident(p, id)?;
        let Some(batch) = self.store.notice_batch(id)? else {
            return Err(VaultError::State("the incident's notices are not prepared"));
        };
        if batch.approved_by.is_none() {
            return Err(VaultError::State(
                "the DPO has not approved the incident's notices",
            ));
        }
        if incident.status != "open" {
            return Err(VaultError::State("the incident is closed"));
        }
        let language = Language::parse(&batch.language).unwrap_or(Language::Fr);
        let exposed: std::collections::BTreeMap<String, IncidentPerson> = self
            .store
            .incident_people(id)?
            .into_iter()
            .map(|x| (x.person.clone(), x))
            .collect();
        let before = self.report(id)?;
        let total = before.total;
        let mut done = before.sent + before.failed + before.uncertain;
        loop {
            let now = self.clock.now();
            let due = self.store.due_notices(id, now, 64)?;
            if due.is_empty() {
                let waiting = self
                    .store
                    .notices(id)?
                    .into_iter()
                    .filter(|n| n.status == NoticeStatus::Ready)
                    .map(|n| n.next_at)
                    .min();
                match waiting {
                    Some(at) if wait => {
                        let secs = u64::try_from((at - now).max(1)).unwrap_or(1);
                        std::thread::sleep(Duration::from_secs(secs.min(3_600)));
                        continue;
                    }
                    _ => break,
                }
            }
            for n in due {
                let Some(person) = exposed.get(&n.person) else {
                    self.give_up(&n, "the person is not among the incident's people")?;
                    done += 1;
                    continue;
                };
                match self.deliver_one(p, &n, person, &incident.kind, language, sender) {
                    Ok(true) => done += 1,
                    Ok(false) => {}
                    Err(VaultError::Integrity) => {
                        self.give_up(&n, "the file failed its integrity check")?;
                        done += 1;
                    }
                    Err(e) => return Err(e),
                }
                progress.progress(done, total);
            }
        }
        self.incident_step(p, Action::NoticeSend, id, {
            let r = self.notice_report(p, id)?;
            format!(
                "delivery: {} sent, {} to retry, {} failed, {} uncertain of {}",
                r.sent, r.ready, r.failed, r.uncertain, r.total
            )
        })?;
        self.notice_report(p, id)
    }

    fn deliver_one(
        &self,
        p: &Principal,
        n: &NoticeRecord,
        person: &IncidentPerson,
        kind: &str,
        language: Language,
        sender: Sender<'_>,
    ) -> Result<bool, VaultError> {
        let Sender {
            templates,
            courier,
            options,
        } = sender;
        let now = self.clock.now();
        let Some((stored, file)) = self.notice_file(&n.person)? else {
            return self.give_up(n, "the file was erased").map(|()| true);
        };
        let minor = crate::access::is_minor(&file, self.clock.today());
        let Some((_, channel, address)) = addresses(&file, minor)
            .into_iter()
            .find(|(rank, _, _)| *rank == n.recipient)
        else {
            return self
                .give_up(n, "the recipient is no longer on file")
                .map(|()| true);
        };
        let Some(to) = Recipient::parse(&address) else {
            return self
                .give_up(n, "the address on file is not valid")
                .map(|()| true);
        };
        let agency = Agency::parse(&stored.agency).map_err(|_| VaultError::Integrity)?;
        let issued = self.issue_code(&to, &agency, self.clock.today(), &n.id);
        let code = issued.code.to_string();
        if !self
            .store
            .claim_notice(&n.id, Some((&code, &issued.record)))?
        {
            return Ok(false);
        }
        let facts = NoticeFacts {
            language,
            organisation: options
                .organisations
                .get(&stored.agency)
                .cloned()
                .or_else(|| {
                    (!options.organisation.is_empty()).then(|| options.organisation.clone())
                })
                .unwrap_or_else(|| stored.agency.clone()),
            agency: stored.agency.clone(),
            contact: options.contact.clone(),
            verify_url: options.verify_url.clone(),
            kind: kind.to_string(),
            period: (person.first, person.last),
            person_name: full_name(&file),
            representative: n.recipient > 0,
            exposed: person.categories.clone(),
            code,
        };
        let sent = match channel {
            "email" => facts
                .email(templates)
                .map_err(|e| DeliveryError::Permanent(e.to_string()))
                .and_then(|m| courier.email(&address, &m.subject, &m.body, &n.id)),
            _ => facts
                .sms(templates)
                .map_err(|e| DeliveryError::Permanent(e.to_string()))
                .and_then(|t| courier.sms(&address, &t, &n.id)),
        };
        let attempts = n.attempts + 1;
        let settled =
            !matches!(&sent, Err(DeliveryError::Transient(_)) if attempts < options.attempts);
        match sent {
            Err(DeliveryError::Uncertain(why)) => {
                // Left claimed: reported uncertain, released only by its id.
                self.store.settle_notice(
                    &n.id,
                    NoticeStatus::Sending,
                    now,
                    Some(&scrub(&why)),
                    now,
                    None,
                )?;
            }
            Ok(()) => {
                let mut e = self.entry(
                    p,
                    Action::NoticeSend,
                    vec![n.person.clone()],
                    vec![],
                    None,
                    Outcome::Allowed,
                );
                e.detail = Some(format!(
                    "incident={} notice={} channel={channel} recipient={}",
                    n.incident, n.id, n.recipient
                ));
                self.store
                    .settle_notice(&n.id, NoticeStatus::Sent, now, None, now, Some(&e))?;
            }
            Err(DeliveryError::Transient(why)) if attempts < options.attempts => {
                let delay = options
                    .retry_after
                    .as_secs()
                    .saturating_mul(1 << (attempts - 1).min(16));
                self.store.settle_notice(
                    &n.id,
                    NoticeStatus::Ready,
                    now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
                    Some(&scrub(&why)),
                    now,
                    None,
                )?;
            }
            Err(e) => {
                self.store.settle_notice(
                    &n.id,
                    NoticeStatus::Failed,
                    now,
                    Some(&scrub(&e.to_string())),
                    now,
                    None,
                )?;
            }
        }
        Ok(settled)
    }

    /// A message that cannot leave at all: claimed and failed at once.
    fn give_up(&self, n: &NoticeRecord, why: &str) -> Result<(), VaultError> {
        let now = self.clock.now();
        if self.store.claim_notice(&n.id, None)? {
            self.store
                .settle_notice(&n.id, NoticeStatus::Failed, now, Some(why), now, None)?;
        }
        Ok(())
    }
}

/// A channel's reason, without anything that looks like an address.
fn scrub(why: &str) -> String {
    why.split_whitespace()
        .map(|w| {
            if w.contains('@') || w.chars().filter(char::is_ascii_digit).count() >= 6 {
                "<redacted>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn a_reason_never_keeps_an_address() {
        assert_eq!(
            scrub("550 5.1.1 <lea@example.org>: unknown +33612345678"),
            "550 5.1.1 <redacted> unknown <redacted>"
        );
    }
}
