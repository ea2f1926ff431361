//! The audit log in `audit.db`: entries, their leaves, whole subtrees and checkpoints.

use crate::conn::db;
use crate::pool::Pool;
use crate::SqliteStore;
use rempart_audit::merkle::{self, Hash, Subtrees, BLOCK, BLOCK_LEVEL};
use rempart_audit::{leaf_of, AuditEntry, Checkpoint};
use rempart_store::{AuditLog, AuditSubtrees, AuditTicket, AuditVisitor, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

pub(crate) fn meta(c: &Connection, key: &str) -> Result<i64, StoreError> {
    c.prepare_cached("SELECT value FROM log_meta WHERE key = ?1")
        .and_then(|mut st| st.query_row(params![key], |r| r.get(0)))
        .map_err(db("read audit log position"))
}

/// The last entry's position (0 for an empty log). Cached: the writer asks for every batch.
pub(crate) fn log_len(c: &Connection) -> Result<i64, StoreError> {
    c.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(db("read audit position"))
}

/// Appends entries already in canonical form to the log (in `tx`), with their leaves and the
/// subtrees they complete. Returns the position of the first (`None` if there was none).
pub(crate) fn append_canonical<'a>(
    tx: &rusqlite::Transaction<'_>,
    entries: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Result<Option<i64>, StoreError> {
    if entries.len() == 0 {
        return Ok(None);
    }
    let mut seq = log_len(tx)?;
    let before = seq as u64;
    let mut ins = tx
        .prepare_cached("INSERT INTO audit_log (seq, entry, leaf) VALUES (?1, ?2, ?3)")
        .map_err(db("prepare audit"))?;
    for bytes in entries {
        seq += 1;
        let leaf = leaf_of(seq as u64, bytes);
        ins.execute(params![seq, bytes, &leaf[..]])
            .map_err(db("append audit entry"))?;
    }
    extend_nodes(tx, before, seq as u64)?;
    Ok(Some(before as i64 + 1))
}

/// The leaves `lo..hi` (0-based leaf indexes: entries `lo+1..=hi`), all present.
pub(crate) fn leaves_between(c: &Connection, lo: u64, hi: u64) -> Result<Vec<Hash>, StoreError> {
    let mut st = c
        .prepare_cached("SELECT leaf FROM audit_log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
        .map_err(db("prepare audit leaves"))?;
    let mut rows = st
        .query(params![lo as i64, hi as i64])
        .map_err(db("audit leaves"))?;
    let mut out = Vec::with_capacity((hi - lo) as usize);
    while let Some(r) = rows.next().map_err(db("audit leaves"))? {
        let b = r
            .get_ref(0)
            .and_then(|v| v.as_blob().map_err(Into::into))
            .map_err(db("audit leaves"))?;
        out.push(<[u8; 32]>::try_from(b).map_err(|_| StoreError::Corrupt("audit leaf"))?);
    }
    if out.len() as u64 != hi - lo {
        return Err(StoreError::Corrupt("audit log has a gap"));
    }
    Ok(out)
}

pub(crate) fn node_at(c: &Connection, level: u32, idx: u64) -> Result<Hash, StoreError> {
    let b: Vec<u8> = c
        .prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")
        .map_err(db("prepare audit node"))?
        .query_row(params![level, idx as i64], |r| r.get(0))
        .optional()
        .map_err(db("audit node"))?
        .ok_or(StoreError::Corrupt("audit subtree missing"))?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| StoreError::Corrupt("audit subtree"))
}

/// Records the whole subtrees completed when the log grew from `before` to `after` entries:
/// each completed block of leaves, then its parents while it is a right child.
pub(crate) fn extend_nodes(c: &Connection, before: u64, after: u64) -> Result<(), StoreError> {
    let mut ins = c
        .prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
        .map_err(db("prepare audit node"))?;
    for block in before / BLOCK..after / BLOCK {
        let mut hash = merkle::root(&leaves_between(c, block * BLOCK, (block + 1) * BLOCK)?);
        let (mut level, mut idx) = (BLOCK_LEVEL, block);
        ins.execute(params![level, idx as i64, &hash[..]])
            .map_err(db("record audit node"))?;
        while idx & 1 == 1 {
            hash = merkle::node_hash(&node_at(c, level, idx - 1)?, &hash);
            level += 1;
            idx >>= 1;
            ins.execute(params![level, idx as i64, &hash[..]])
                .map_err(db("record audit node"))?;
        }
    }
    Ok(())
}

/// (leaves covered by stored blocks, leaves in the log).
pub(crate) fn nodes_position(c: &Connection) -> Result<(u64, u64), StoreError> {
    let (blocks, len): (i64, i64) = c
        .query_row(
            "SELECT (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_nodes WHERE level = ?1),
                    (SELECT COALESCE(MAX(seq), 0) FROM audit_log)",
            params![BLOCK_LEVEL],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db("read audit subtrees"))?;
    Ok((blocks as u64 * BLOCK, len as u64))
}

/// Builds the whole subtrees of a log written before they were kept (or by an older binary).
/// Up to date (the usual case), it only reads.
pub(crate) fn catch_up_nodes(pool: &Pool) -> Result<(), StoreError> {
    let behind = |(covered, len): (u64, u64)| len / BLOCK * BLOCK > covered;
    let reader = pool.read().map_err(db("open reader"))?;
    let position = nodes_position(&reader)?;
    drop(reader);
    if !behind(position) {
        return Ok(());
    }
    let mut w = pool.write();
    let tx = w
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin audit subtrees"))?;
    let (covered, len) = nodes_position(&tx)?;
    if behind((covered, len)) {
        extend_nodes(&tx, covered, len)?;
    }
    tx.commit().map_err(db("commit audit subtrees"))
}

/// [`Subtrees`] over one pooled connection, keeping the last block of leaves read.
pub(crate) struct SqliteSubtrees<'a> {
    conn: crate::pool::Pooled<'a>,
    block: Option<(u64, Vec<Hash>)>,
}

impl Subtrees for SqliteSubtrees<'_> {
    type Error = StoreError;

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        node_at(&self.conn, level, index)
    }

    fn leaves(&mut self, lo: u64, hi: u64) -> Result<Vec<Hash>, StoreError> {
        let b = lo / BLOCK;
        if hi > (b + 1) * BLOCK {
            return leaves_between(&self.conn, lo, hi);
        }
        // A proof asks for several ranges of the same block: read it once, as far as needed.
        let have = self
            .block
            .as_ref()
            .is_some_and(|(cb, l)| *cb == b && (b * BLOCK + l.len() as u64) >= hi);
        if !have {
            let l = leaves_between(&self.conn, b * BLOCK, hi)?;
            self.block = Some((b, l));
        }
        let l = self
            .block
            .as_ref()
            .map(|(_, l)| l.as_slice())
            .unwrap_or(&[]);
        let (from, to) = ((lo - b * BLOCK) as usize, (hi - b * BLOCK) as usize);
        l.get(from..to)
            .map(<[Hash]>::to_vec)
            .ok_or(StoreError::Corrupt("audit log has a gap"))
    }
}

impl AuditLog for SqliteStore {
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.audit.append(entries)
    }

    fn submit_audit(&self, entries: &[AuditEntry]) -> AuditTicket {
        self.audit.submit(entries)
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        // The number of the last entry: O(log n), where COUNT(*) reads the whole log. The
        // two differ only if entries were deleted, which `audit verify` reports.
        log_len(&c).map(|n| n as u64)
    }

    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached("SELECT seq, entry, leaf FROM audit_log WHERE seq > ?1 ORDER BY seq")
            .map_err(db("prepare audit scan"))?;
        let mut rows = st.query(params![after as i64]).map_err(db("audit scan"))?;
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(db("audit scan"))? {
            let seq = r.get::<_, i64>(0).map_err(db("audit scan"))? as u64;
            // Borrowed blobs: no copy per entry.
            let entry = r
                .get_ref(1)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit scan"))?;
            let leaf = r
                .get_ref(2)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(db("audit scan"))?;
            n += 1;
            if !visit(seq, entry, leaf) {
                break;
            }
        }
        Ok(n)
    }

    fn audit_subtrees(&self) -> Result<Box<AuditSubtrees<'_>>, StoreError> {
        Ok(Box::new(SqliteSubtrees {
            conn: self.log.read().map_err(db("open reader"))?,
            block: None,
        }))
    }

    fn insert_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(cp).map_err(|_| StoreError::Corrupt("checkpoint"))?;
        self.log
            .write()
            .execute(
                "INSERT OR REPLACE INTO audit_checkpoints (size, checkpoint) VALUES (?1, ?2)",
                params![cp.size as i64, bytes],
            )
            .map(|_| ())
            .map_err(db("insert checkpoint"))
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        let mut st = c
            .prepare_cached("SELECT checkpoint FROM audit_checkpoints ORDER BY size")
            .map_err(db("prepare checkpoints"))?;
        let rows = st
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(db("checkpoints"))?;
        let mut out = Vec::new();
        for r in rows {
            let b = r.map_err(db("checkpoints"))?;
            out.push(serde_json::from_slice(&b).map_err(|_| StoreError::Corrupt("checkpoint"))?);
        }
        Ok(out)
    }

    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let c = self.log.read().map_err(db("open reader"))?;
        let bytes: Option<Vec<u8>> = c
            .prepare_cached("SELECT checkpoint FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
            .map_err(db("latest checkpoint"))?;
        bytes
            .map(|b| serde_json::from_slice(&b).map_err(|_| StoreError::Corrupt("checkpoint")))
            .transpose()
    }
}
