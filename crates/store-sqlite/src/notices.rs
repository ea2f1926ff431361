//! The notices of an incident in `vault.db`: the batch, the people it fixes and the outbox, each
//! change with its audit entry in the same transaction.

use crate::codes::insert_codes_in;
use crate::conn::db;
use crate::incidents::{event, exists, fix_people};
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{
    CodeRecord, IncidentEvent, IncidentPerson, NoticeBatch, NoticeRecord, NoticeStatus,
    NoticeStore, StoreError,
};
use rusqlite::{params, OptionalExtension, Row};

const COLUMNS: &str =
    "id, incident, person, recipient, channel, code, status, attempts, next_at, error, sent_at";

fn notice(r: &Row<'_>) -> rusqlite::Result<NoticeRecord> {
    let status: String = r.get(6)?;
    Ok(NoticeRecord {
        id: r.get(0)?,
        incident: r.get(1)?,
        person: r.get(2)?,
        recipient: r.get(3)?,
        channel: r.get(4)?,
        code: r.get(5)?,
        // An unknown state is read as failed: never sent again on its own.
        status: NoticeStatus::parse(&status).unwrap_or(NoticeStatus::Failed),
        attempts: r.get(7)?,
        next_at: r.get(8)?,
        error: r.get(9)?,
        sent_at: r.get(10)?,
    })
}

impl SqliteStore {
    fn notices_where(
        &self,
        clause: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(&format!("SELECT {COLUMNS} FROM notices WHERE {clause}"))
            .map_err(db("read notices"))?;
        let rows = st
            .query_map(p, notice)
            .map_err(db("read notices"))?
            .collect::<Result<_, _>>()
            .map_err(db("read notices"))?;
        Ok(rows)
    }
}

impl NoticeStore for SqliteStore {
    fn prepare_notices(
        &self,
        b: &NoticeBatch,
        people: &[IncidentPerson],
        notices: &[NoticeRecord],
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.in_write("prepare notices", |tx| {
            if !exists(tx, &b.incident)? {
                return Ok(false);
            }
            let prepared: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM notice_batches WHERE incident = ?1)",
                    params![b.incident],
                    |r| r.get(0),
                )
                .map_err(db("find notice batch"))?;
            if prepared {
                return Err(StoreError::Conflict(
                    "the incident's notices are already prepared",
                ));
            }
            tx.execute(
                "INSERT INTO notice_batches (incident, prepared_by, prepared_at, language) VALUES (?1, ?2, ?3, ?4)",
                params![b.incident, b.prepared_by, b.prepared_at, b.language],
            )
            .map_err(db("insert notice batch"))?;
            fix_people(tx, &b.incident, people)?;
            let mut st = tx
                .prepare_cached(&format!(
                    "INSERT INTO notices ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))
                .map_err(db("insert notice"))?;
            for n in notices {
                st.execute(params![
                    n.id,
                    n.incident,
                    n.person,
                    n.recipient,
                    n.channel,
                    n.code,
                    n.status.as_str(),
                    n.attempts,
                    n.next_at,
                    n.error,
                    n.sent_at
                ])
                .map_err(db("insert notice"))?;
            }
            event(tx, &b.incident, e)?;
            outbox(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn notice_batch(&self, incident: &str) -> Result<Option<NoticeBatch>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            "SELECT incident, prepared_by, prepared_at, language, approved_by, approved_at FROM notice_batches WHERE incident = ?1",
            params![incident],
            |r| {
                Ok(NoticeBatch {
                    incident: r.get(0)?,
                    prepared_by: r.get(1)?,
                    prepared_at: r.get(2)?,
                    language: r.get(3)?,
                    approved_by: r.get(4)?,
                    approved_at: r.get(5)?,
                })
            },
        )
        .optional()
        .map_err(db("read notice batch"))
    }

    fn approve_notices(
        &self,
        incident: &str,
        by: &str,
        at: i64,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.in_write("approve notices", |tx| {
            let n = tx
                .execute(
                    "UPDATE notice_batches SET approved_by = ?2, approved_at = ?3 WHERE incident = ?1 AND approved_by IS NULL",
                    params![incident, by, at],
                )
                .map_err(db("approve notices"))?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE notices SET status = ?2, next_at = ?3 WHERE incident = ?1 AND status = ?4",
                params![
                    incident,
                    NoticeStatus::Ready.as_str(),
                    at,
                    NoticeStatus::Awaiting.as_str()
                ],
            )
            .map_err(db("approve notices"))?;
            event(tx, incident, e)?;
            outbox(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn notices(&self, incident: &str) -> Result<Vec<NoticeRecord>, StoreError> {
        self.notices_where("incident = ?1 ORDER BY id", &[&incident])
    }

    fn due_notices(
        &self,
        incident: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.notices_where(
            "incident = ?1 AND status = 'ready' AND next_at <= ?2 ORDER BY id LIMIT ?3",
            &[&incident, &now, &limit],
        )
    }

    fn claim_notice(
        &self,
        id: &str,
        code: Option<(&str, &CodeRecord)>,
    ) -> Result<bool, StoreError> {
        self.in_write("claim notice", |tx| {
            let n = tx
                .execute(
                    "UPDATE notices SET status = 'sending', attempts = attempts + 1 WHERE id = ?1 AND status = 'ready'",
                    params![id],
                )
                .map_err(db("claim notice"))?;
            if n == 1 {
                if let Some((_, record)) = code {
                    insert_codes_in(tx, std::slice::from_ref(record))?;
                }
            }
            Ok(n == 1)
        })
    }

    fn settle_notice(
        &self,
        id: &str,
        status: NoticeStatus,
        next_at: i64,
        error: Option<&str>,
        at: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        self.in_write("settle notice", |tx| {
            let sent_at = (status == NoticeStatus::Sent).then_some(at);
            let n = tx
                .execute(
                    "UPDATE notices SET status = ?2, next_at = ?3, error = ?4, sent_at = ?5 WHERE id = ?1 AND status = 'sending'",
                    params![id, status.as_str(), next_at, error, sent_at],
                )
                .map_err(db("settle notice"))?;
            if n == 0 {
                return Err(StoreError::Conflict("the message was not being sent"));
            }
            if let Some(a) = audit {
                outbox(tx, std::slice::from_ref(a))?;
            }
            Ok(())
        })
    }

    fn release_sending(&self, incident: &str, messages: &[String]) -> Result<u64, StoreError> {
        self.in_write("release notices", |tx| {
            let mut n = 0;
            for m in messages {
                n += tx
                    .execute(
                        "UPDATE notices SET status = 'ready' WHERE incident = ?1 AND id = ?2 AND status = 'sending'",
                        params![incident, m],
                    )
                    .map_err(db("release notices"))?;
            }
            Ok(n as u64)
        })
    }
}
