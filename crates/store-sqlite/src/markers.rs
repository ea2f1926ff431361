//! Export markers in `vault.db`: inserted with their files (decoys) in the transaction that
//! marks their export done.

use crate::conn::db;
use crate::files::insert_rows;
use crate::outbox::outbox;
use crate::SqliteStore;
use rempart_audit::AuditEntry;
use rempart_store::{MarkerRecord, MarkerStore, NewPerson, StoreError};
use rusqlite::{params, OptionalExtension};

fn row_to_marker(r: &rusqlite::Row<'_>) -> rusqlite::Result<MarkerRecord> {
    Ok(MarkerRecord {
        person: r.get(0)?,
        export: r.get(1)?,
        agency: r.get(2)?,
        recipient: r.get(3)?,
        at: r.get(4)?,
    })
}

impl MarkerStore for SqliteStore {
    fn run_export_with_markers(
        &self,
        id: &str,
        from: &str,
        to: &str,
        files: &[NewPerson],
        markers: &[MarkerRecord],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut w = self.pool.write();
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("begin export run"))?;
        let n = tx
            .execute(
                "UPDATE exports SET state = ?1 WHERE id = ?2 AND state = ?3",
                params![to, id, from],
            )
            .map_err(db("change export"))?;
        if n == 0 {
            return Ok(false);
        }
        insert_rows(&tx, files)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO export_markers (person_id, export, agency, recipient, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db("prepare marker insert"))?;
            for m in markers {
                ins.execute(params![m.person, m.export, m.agency, m.recipient, m.at])
                    .map_err(db("insert marker"))?;
            }
        }
        outbox(&tx, std::slice::from_ref(audit))?;
        tx.commit().map_err(db("commit export run"))?;
        drop(w);
        self.settle();
        Ok(true)
    }

    fn marker(&self, person: &str) -> Result<Option<MarkerRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        c.query_row(
            "SELECT person_id, export, agency, recipient, at FROM export_markers WHERE person_id = ?1",
            params![person],
            row_to_marker,
        )
        .optional()
        .map_err(db("read marker"))
    }

    fn export_markers(&self, export: &str) -> Result<Vec<MarkerRecord>, StoreError> {
        let c = self.pool.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached(
                "SELECT person_id, export, agency, recipient, at FROM export_markers WHERE export = ?1 ORDER BY person_id",
            )
            .map_err(db("prepare markers"))?;
        let rows = st
            .query_map(params![export], row_to_marker)
            .map_err(db("read markers"))?;
        rows.collect::<Result<_, _>>().map_err(db("read markers"))
    }
}
