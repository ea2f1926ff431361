//! The notices of an incident (GDPR art. 34): a batch the DPO approves, and its outbox of
//! messages. A message holds no address and no text (both are made from the sealed file when
//! it leaves), only whom it concerns, its channel, its verification code and its delivery state.

use crate::{CodeRecord, IncidentEvent, IncidentPerson, StoreError};
use rempart_audit::AuditEntry;

/// A batch of notices, one per incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeBatch {
    /// The incident.
    pub incident: String,
    /// Who prepared it.
    pub prepared_by: String,
    /// When, Unix seconds.
    pub prepared_at: i64,
    /// `fr` or `en`.
    pub language: String,
    /// The DPO who approved it, once approved.
    pub approved_by: Option<String>,
    /// When it was approved.
    pub approved_at: Option<i64>,
}

/// Where a message is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    /// Waiting for the DPO's approval of the batch.
    Awaiting,
    /// Approved, to be sent when `next_at` comes.
    Ready,
    /// Handed to the channel; not yet known to have left. A message found in this state after
    /// a restart is never sent again on its own: it may have left.
    Sending,
    /// Accepted by the mail server or the SMS gateway.
    Sent,
    /// Given up after its attempts, or refused for good.
    Failed,
}

impl NoticeStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Awaiting => "awaiting_approval",
            NoticeStatus::Ready => "ready",
            NoticeStatus::Sending => "sending",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Failed => "failed",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<NoticeStatus> {
        [
            NoticeStatus::Awaiting,
            NoticeStatus::Ready,
            NoticeStatus::Sending,
            NoticeStatus::Sent,
            NoticeStatus::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One message of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRecord {
    /// Public id (`ntc_…`), also the message's `Message-ID` local part.
    pub id: String,
    /// The incident.
    pub incident: String,
    /// The person it concerns.
    pub person: String,
    /// 0: the person; 1 to 4: their legal representative of that rank.
    pub recipient: u8,
    /// `email` or `sms`.
    pub channel: String,
    /// Its verification code, as printed in the message.
    pub code: String,
    /// Delivery state.
    pub status: NoticeStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before, Unix seconds.
    pub next_at: i64,
    /// The last failure, without any address or personal data.
    pub error: Option<String>,
    /// When it was accepted.
    pub sent_at: Option<i64>,
}

/// Where notices wait and are followed.
pub trait NoticeStore: Send + Sync {
    /// Fixes an incident's people (replacing none: `Conflict` if notices were already
    /// prepared), and writes the batch and its messages, awaiting approval, with the step and
    /// the entry: all in one transaction. `Ok(false)`: no such incident.
    fn prepare_notices(
        &self,
        batch: &NoticeBatch,
        people: &[IncidentPerson],
        notices: &[NoticeRecord],
        event: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The batch of an incident.
    fn notice_batch(&self, incident: &str) -> Result<Option<NoticeBatch>, StoreError>;
    /// Approves a batch: its messages become ready; with the step and the entry. `Ok(false)`:
    /// no batch awaiting approval.
    fn approve_notices(
        &self,
        incident: &str,
        by: &str,
        at: i64,
        event: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The messages of an incident, in id order.
    fn notices(&self, incident: &str) -> Result<Vec<NoticeRecord>, StoreError>;
    /// Up to `limit` messages ready to leave at `now`, in id order.
    fn due_notices(
        &self,
        incident: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError>;
    /// Claims a ready message for sending (`ready` → `sending`, one more attempt), durably,
    /// with the verification code it will carry (the code's row stored in the same
    /// transaction), before it is handed to a channel; `Ok(false)`: it was not ready (another
    /// sender has it, or it left).
    fn claim_notice(&self, id: &str, code: Option<(&str, &CodeRecord)>)
        -> Result<bool, StoreError>;
    /// Records the outcome of a claimed message: `Sent` (with its entry), `Ready` again at
    /// `next_at` (a retry), or `Failed`.
    fn settle_notice(
        &self,
        id: &str,
        status: NoticeStatus,
        next_at: i64,
        error: Option<&str>,
        at: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError>;
    /// Puts the messages named among those left `sending` by an interrupted delivery back to
    /// `ready`: only on the operator's explicit word, message by message, since they may have
    /// left. Returns how many.
    fn release_sending(&self, incident: &str, messages: &[String]) -> Result<u64, StoreError>;
}
