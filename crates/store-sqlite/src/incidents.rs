//! Incidents and their timelines in `vault.db`, each change with its audit entry.

use crate::conn::db;
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{IncidentEvent, IncidentRecord, IncidentStore, StoreError};
use rusqlite::{params, OptionalExtension};

fn words(s: String) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn event(tx: &rusqlite::Transaction<'_>, id: &str, e: &IncidentEvent) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO incident_events (incident, at, by_whom, what) VALUES (?1, ?2, ?3, ?4)",
        params![id, e.at, e.by, e.what],
    )
    .map_err(db("record incident event"))?;
    Ok(())
}

impl IncidentStore for SqliteStore {
    fn insert_incident(
        &self,
        i: &IncidentRecord,
        first: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin incident"))?;
        tx.execute(
            "INSERT INTO incidents (id, opened_at, opened_by, principals, tokens, clients, since, until, status, agency) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                i.id,
                i.opened_at,
                i.opened_by,
                i.principals.join(" "),
                i.tokens.join(" "),
                i.clients.join(" "),
                i.since,
                i.until,
                i.status,
                i.agency
            ],
        )
        .map_err(db("insert incident"))?;
        event(&tx, &i.id, first)?;
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit incident"))?;
        drop(w);
        self.settle();
        Ok(())
    }

    fn incident(
        &self,
        id: &str,
    ) -> Result<Option<(IncidentRecord, Vec<IncidentEvent>)>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let Some(rec) = c
            .query_row(
                "SELECT id, opened_at, opened_by, principals, tokens, clients, since, until, status, agency FROM incidents WHERE id = ?1",
                params![id],
                |r| {
                    Ok(IncidentRecord {
                        id: r.get(0)?,
                        opened_at: r.get(1)?,
                        opened_by: r.get(2)?,
                        principals: words(r.get(3)?),
                        tokens: words(r.get(4)?),
                        clients: words(r.get(5)?),
                        since: r.get(6)?,
                        until: r.get(7)?,
                        status: r.get(8)?,
                        agency: r.get(9)?,
                    })
                },
            )
            .optional()
            .map_err(db("read incident"))?
        else {
            return Ok(None);
        };
        let mut st = c
            .prepare_cached(
                "SELECT at, by_whom, what FROM incident_events WHERE incident = ?1 ORDER BY seq",
            )
            .map_err(db("read incident events"))?;
        let events = st
            .query_map(params![id], |r| {
                Ok(IncidentEvent {
                    at: r.get(0)?,
                    by: r.get(1)?,
                    what: r.get(2)?,
                })
            })
            .map_err(db("read incident events"))?
            .collect::<Result<_, _>>()
            .map_err(db("read incident events"))?;
        Ok(Some((rec, events)))
    }

    fn add_incident_event(
        &self,
        id: &str,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin incident event"))?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
                params![id],
                |r| r.get(0),
            )
            .map_err(db("find incident"))?;
        if !exists {
            return Ok(false);
        }
        event(&tx, id, e)?;
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit incident event"))?;
        drop(w);
        self.settle();
        Ok(true)
    }
}
