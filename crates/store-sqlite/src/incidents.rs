//! Incidents and their timelines in `vault.db`, each change with its audit entry.

use crate::conn::db;
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{
    Filing, IncidentEvent, IncidentPerson, IncidentRecord, IncidentStore, StoreError,
};
use rusqlite::{params, OptionalExtension};

fn words(s: String) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether an incident exists, inside `tx`.
pub(crate) fn exists(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
        params![id],
        |r| r.get(0),
    )
    .map_err(db("find incident"))
}

/// Fixes an incident's people, inside `tx`.
pub(crate) fn fix_people(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    people: &[IncidentPerson],
) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached("INSERT INTO incident_people (incident, person, categories, first, last) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(db("fix incident people"))?;
    for p in people {
        st.execute(params![
            id,
            p.person,
            p.categories.join(" "),
            p.first,
            p.last
        ])
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict("the incident's people are already fixed")
            }
            e => db("fix incident people")(e),
        })?;
    }
    Ok(())
}

pub(crate) fn event(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    e: &IncidentEvent,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO incident_events (incident, at, by_whom, what) VALUES (?1, ?2, ?3, ?4)",
        params![id, e.at, e.by, e.what],
    )
    .map_err(db("record incident event"))?;
    Ok(())
}

impl SqliteStore {
    /// Runs `f` in one write transaction, then lets the log's writer move its entries.
    pub(crate) fn in_write<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db(what))?;
        let out = f(&tx)?;
        tx.commit().map_err(db(what))?;
        drop(w);
        self.settle();
        Ok(out)
    }
}

impl IncidentStore for SqliteStore {
    fn insert_incident(
        &self,
        i: &IncidentRecord,
        people: &[IncidentPerson],
        first: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.in_write("record incident", |tx| {
            tx.execute(
                "INSERT INTO incidents (id, opened_at, opened_by, principals, tokens, clients, since, until, status, agency, kind, key_version, copy_as_of, discovered_at, summary, held) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
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
                    i.agency,
                    i.kind,
                    i.key_version,
                    i.copy_as_of,
                    i.discovered_at,
                    i.summary,
                    i.held
                ],
            )
            .map_err(db("insert incident"))?;
            fix_people(tx, &i.id, people)?;
            event(tx, &i.id, first)?;
            outbox(tx, std::slice::from_ref(audit))?;
            Ok(())
        })
    }

    fn incident(
        &self,
        id: &str,
    ) -> Result<Option<(IncidentRecord, Vec<IncidentEvent>)>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let Some(rec) = c
            .query_row(
                "SELECT id, opened_at, opened_by, principals, tokens, clients, since, until, status, agency, kind, key_version, copy_as_of, discovered_at, summary, held FROM incidents WHERE id = ?1",
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
                        kind: r.get(10)?,
                        key_version: r.get(11)?,
                        copy_as_of: r.get(12)?,
                        discovered_at: r.get(13)?,
                        summary: r.get(14)?,
                        held: r.get(15)?,
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
        self.in_write("record incident event", |tx| {
            if !exists(tx, id)? {
                return Ok(false);
            }
            event(tx, id, e)?;
            outbox(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn incident_people(&self, id: &str) -> Result<Vec<IncidentPerson>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT person, categories, first, last FROM incident_people WHERE incident = ?1 ORDER BY person",
            )
            .map_err(db("read incident people"))?;
        let rows = st
            .query_map(params![id], |r| {
                Ok(IncidentPerson {
                    person: r.get(0)?,
                    categories: words(r.get(1)?),
                    first: r.get(2)?,
                    last: r.get(3)?,
                })
            })
            .map_err(db("read incident people"))?
            .collect::<Result<_, _>>()
            .map_err(db("read incident people"))?;
        Ok(rows)
    }

    fn person_incidents(&self, person: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT incident, categories FROM incident_people WHERE person = ?1 ORDER BY incident",
            )
            .map_err(db("read person incidents"))?;
        let rows = st
            .query_map(params![person], |r| Ok((r.get(0)?, words(r.get(1)?))))
            .map_err(db("read person incidents"))?
            .collect::<Result<_, _>>()
            .map_err(db("read person incidents"))?;
        Ok(rows)
    }

    fn add_filing(
        &self,
        id: &str,
        f: &Filing,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.in_write("record filing", |tx| {
            if !exists(tx, id)? {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO incident_filings (incident, phase, filed_at, filed_by, reference, late_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, f.phase, f.filed_at, f.filed_by, f.reference, f.late_reason],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(x, _)
                    if x.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::Conflict("that phase of the notification is already recorded")
                }
                e => db("record filing")(e),
            })?;
            event(tx, id, e)?;
            outbox(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    fn filings(&self, id: &str) -> Result<Vec<Filing>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT phase, filed_at, filed_by, reference, late_reason FROM incident_filings WHERE incident = ?1 ORDER BY phase",
            )
            .map_err(db("read filings"))?;
        let rows = st
            .query_map(params![id], |r| {
                Ok(Filing {
                    phase: r.get(0)?,
                    filed_at: r.get(1)?,
                    filed_by: r.get(2)?,
                    reference: r.get(3)?,
                    late_reason: r.get(4)?,
                })
            })
            .map_err(db("read filings"))?
            .collect::<Result<_, _>>()
            .map_err(db("read filings"))?;
        Ok(rows)
    }

    fn set_incident_status(
        &self,
        id: &str,
        status: &str,
        e: &IncidentEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.in_write("change incident status", |tx| {
            let n = tx
                .execute(
                    "UPDATE incidents SET status = ?2 WHERE id = ?1",
                    params![id, status],
                )
                .map_err(db("set incident status"))?;
            if n == 0 {
                return Ok(false);
            }
            event(tx, id, e)?;
            outbox(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }
}
