//! The audit log: entries in one order across every node, their leaves, whole subtrees,
//! checkpoints, and the per-person index written with them.
//!
//! The sequencer is the row of `audit_head`: an append locks it (`SELECT … FOR UPDATE`) in
//! the transaction that inserts its entries, so positions are given out one transaction at a
//! time, in the order they commit, without gaps: a transaction that fails gives its positions
//! back with its lock. A node's appends are batched (`crate::group`), so the lock is taken
//! once per batch, not per entry.

use crate::db::{Exec, Tx};
use crate::PgStore;
use rempart_audit::merkle::{self, Hash, Subtrees, BLOCK, BLOCK_LEVEL};
use rempart_audit::{leaf_of, AuditEntry, Checkpoint};
use rempart_store::{AuditLog, AuditSubtrees, AuditTicket, AuditVisitor, StoreError};

/// An entry as the log stores it, encoded by the thread that hands it over, with the keys the
/// per-person index holds it under ([`AuditEntry::index_keys`]).
pub(crate) struct Encoded {
    pub(crate) bytes: Vec<u8>,
    pub(crate) keys: Vec<String>,
}

impl Encoded {
    pub(crate) fn new(e: &AuditEntry) -> Encoded {
        Encoded {
            bytes: e.canonical(),
            keys: e.index_keys(),
        }
    }
}

/// In `tx`: takes the sequencer's lock, appends `entries` after the last entry of the log with
/// their leaves, index rows and the subtrees they complete. Returns the position of the first.
pub(crate) fn append_in(tx: &mut Tx<'_>, entries: &[Encoded]) -> Result<Option<u64>, StoreError> {
    if entries.is_empty() {
        return Ok(None);
    }
    let len: i64 = tx
        .one(
            "SELECT len FROM audit_head WHERE id = 1 FOR UPDATE",
            &[],
            "take the audit sequencer",
        )?
        .get(0);
    let before = len as u64;
    let mut seqs = Vec::with_capacity(entries.len());
    let mut bytes = Vec::with_capacity(entries.len());
    let mut leaves = Vec::with_capacity(entries.len());
    let (mut keys, mut key_seqs) = (Vec::new(), Vec::new());
    for (i, e) in entries.iter().enumerate() {
        let seq = len + 1 + i as i64;
        seqs.push(seq);
        leaves.push(leaf_of(seq as u64, &e.bytes).to_vec());
        bytes.push(e.bytes.as_slice());
        for k in &e.keys {
            keys.push(k.as_str());
            key_seqs.push(seq);
        }
    }
    // One statement per table for the whole batch (arrays unnested), not one per row.
    tx.exec(
        "INSERT INTO audit_log (seq, entry, leaf) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])",
        &[&seqs, &bytes, &leaves],
        "append audit entries",
    )?;
    tx.exec(
        "INSERT INTO audit_persons (person_id, seq) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
        &[&keys, &key_seqs],
        "index audit entries",
    )?;
    let after = before + entries.len() as u64;
    extend_nodes(tx, before, after)?;
    tx.exec(
        "UPDATE audit_head SET len = $1 WHERE id = 1",
        &[&(after as i64)],
        "advance the audit sequencer",
    )?;
    Ok(Some(before + 1))
}

/// In `tx`, the transaction of a write act: appends the act's entries, so that the act and
/// its entries commit together or not at all. Call it last in the transaction: the sequencer's
/// lock is then held only until the commit, and always taken after the act's own rows (no
/// two transactions wait for each other).
pub(crate) fn append_entries(tx: &mut Tx<'_>, entries: &[AuditEntry]) -> Result<(), StoreError> {
    let encoded: Vec<Encoded> = entries.iter().map(Encoded::new).collect();
    append_in(tx, &encoded).map(|_| ())
}

/// The leaves `lo..hi` (0-based leaf indexes: entries `lo+1..=hi`), all present.
pub(crate) fn leaves_between(c: &mut impl Exec, lo: u64, hi: u64) -> Result<Vec<Hash>, StoreError> {
    let rows = c.rows(
        "SELECT leaf FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        &[&(lo as i64), &(hi as i64)],
        "audit leaves",
    )?;
    let out = rows
        .iter()
        .map(|r| {
            <[u8; 32]>::try_from(r.get::<_, &[u8]>(0))
                .map_err(|_| StoreError::Corrupt("audit leaf"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if out.len() as u64 != hi - lo {
        return Err(StoreError::Corrupt("audit log has a gap"));
    }
    Ok(out)
}

fn node_at(c: &mut impl Exec, level: u32, idx: u64) -> Result<Hash, StoreError> {
    let r = c
        .row(
            "SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2",
            &[&i64::from(level), &(idx as i64)],
            "audit node",
        )?
        .ok_or(StoreError::Corrupt("audit subtree missing"))?;
    <[u8; 32]>::try_from(r.get::<_, &[u8]>(0)).map_err(|_| StoreError::Corrupt("audit subtree"))
}

/// Records the whole subtrees completed when the log grew from `before` to `after` entries:
/// each completed block of leaves, then its parents while it is a right child.
fn extend_nodes(tx: &mut Tx<'_>, before: u64, after: u64) -> Result<(), StoreError> {
    for block in before / BLOCK..after / BLOCK {
        let mut hash = merkle::root(&leaves_between(tx, block * BLOCK, (block + 1) * BLOCK)?);
        let (mut level, mut idx) = (BLOCK_LEVEL, block);
        insert_node(tx, level, idx, &hash)?;
        while idx & 1 == 1 {
            hash = merkle::node_hash(&node_at(tx, level, idx - 1)?, &hash);
            level += 1;
            idx >>= 1;
            insert_node(tx, level, idx, &hash)?;
        }
    }
    Ok(())
}

fn insert_node(tx: &mut Tx<'_>, level: u32, idx: u64, hash: &Hash) -> Result<(), StoreError> {
    tx.exec(
        "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)",
        &[&i64::from(level), &(idx as i64), &&hash[..]],
        "record audit node",
    )
    .map(|_| ())
}

/// [`Subtrees`] over one pooled connection, keeping the last block of leaves read.
struct PgSubtrees {
    conn: crate::pool::Client,
    block: Option<(u64, Vec<Hash>)>,
}

impl Subtrees for PgSubtrees {
    type Error = StoreError;

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        node_at(&mut self.conn, level, index)
    }

    fn leaves(&mut self, lo: u64, hi: u64) -> Result<Vec<Hash>, StoreError> {
        let b = lo / BLOCK;
        if hi > (b + 1) * BLOCK {
            return leaves_between(&mut self.conn, lo, hi);
        }
        // A proof asks for several ranges of the same block: read it once, as far as needed.
        let have = self
            .block
            .as_ref()
            .is_some_and(|(cb, l)| *cb == b && (b * BLOCK + l.len() as u64) >= hi);
        if !have {
            let l = leaves_between(&mut self.conn, b * BLOCK, hi)?;
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

/// Entries read per round trip when the log is scanned.
const SCAN_PAGE: i64 = 4096;

impl AuditLog for PgStore {
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.audit.submit(entries).wait()
    }

    fn submit_audit(&self, entries: &[AuditEntry]) -> AuditTicket {
        self.audit.submit(entries)
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        let len: i64 = self
            .pool
            .get()?
            .one(
                "SELECT len FROM audit_head WHERE id = 1",
                &[],
                "read audit position",
            )?
            .get(0);
        Ok(len as u64)
    }

    fn audit_visit(&self, after: u64, visit: &mut AuditVisitor<'_>) -> Result<u64, StoreError> {
        let mut c = self.pool.get()?;
        let mut from = after as i64;
        let mut n = 0u64;
        loop {
            let rows = c.rows(
                "SELECT seq, entry, leaf FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&from, &SCAN_PAGE],
                "audit scan",
            )?;
            for r in &rows {
                let seq: i64 = r.get(0);
                n += 1;
                if !visit(seq as u64, r.get::<_, &[u8]>(1), r.get::<_, &[u8]>(2)) {
                    return Ok(n);
                }
                from = seq;
            }
            if (rows.len() as i64) < SCAN_PAGE {
                return Ok(n);
            }
        }
    }

    fn audit_subtrees(&self) -> Result<Box<AuditSubtrees<'_>>, StoreError> {
        Ok(Box::new(PgSubtrees {
            conn: self.pool.get()?,
            block: None,
        }))
    }

    fn insert_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(cp).map_err(|_| StoreError::Corrupt("checkpoint"))?;
        self.pool
            .get()?
            .exec(
                "INSERT INTO audit_checkpoints (size, checkpoint) VALUES ($1, $2) ON CONFLICT (size) DO UPDATE SET checkpoint = EXCLUDED.checkpoint",
                &[&(cp.size as i64), &bytes],
                "insert checkpoint",
            )
            .map(|_| ())
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.pool
            .get()?
            .rows(
                "SELECT checkpoint FROM audit_checkpoints ORDER BY size",
                &[],
                "checkpoints",
            )?
            .iter()
            .map(|r| {
                serde_json::from_slice(r.get::<_, &[u8]>(0))
                    .map_err(|_| StoreError::Corrupt("checkpoint"))
            })
            .collect()
    }

    fn checkpoint_lease(&self, node: &str, ttl_secs: i64) -> Result<bool, StoreError> {
        // The database's clock, not the nodes': theirs may disagree.
        let held = self.pool.get()?.row(
            "INSERT INTO audit_lease (id, holder, expires_at)
             VALUES (1, $1, extract(epoch from clock_timestamp())::bigint + $2)
             ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
             WHERE audit_lease.holder = EXCLUDED.holder
                OR audit_lease.expires_at < extract(epoch from clock_timestamp())::bigint
             RETURNING holder",
            &[&node, &ttl_secs],
            "take the checkpoint lease",
        )?;
        Ok(held.is_some())
    }

    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.pool
            .get()?
            .row(
                "SELECT checkpoint FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                &[],
                "latest checkpoint",
            )?
            .map(|r| {
                serde_json::from_slice(r.get::<_, &[u8]>(0))
                    .map_err(|_| StoreError::Corrupt("checkpoint"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testdb::TestDb;

    fn entry(i: i64) -> AuditEntry {
        AuditEntry {
            time: i,
            principal: "c.a".into(),
            token_id: "t".into(),
            agency: "ML-1".into(),
            role: "counsellor".into(),
            action: rempart_audit::Action::Read,
            persons: vec![format!("p{}", i % 7)],
            categories: vec![],
            purpose: None,
            client: None,
            request_id: None,
            outcome: rempart_audit::Outcome::Allowed,
            detail: None,
        }
    }

    #[test]
    fn entries_from_two_stores_on_one_database_share_one_order_without_gaps() {
        let db = TestDb::new();
        PgStore::init(&db.url).unwrap();
        let (a, b) = (
            PgStore::open(&db.url).unwrap(),
            PgStore::open(&db.url).unwrap(),
        );
        std::thread::scope(|s| {
            for store in [&a, &b] {
                s.spawn(move || {
                    for i in 0..300 {
                        store.append_audit(&[entry(i), entry(i + 1)]).unwrap();
                    }
                });
            }
        });
        assert_eq!(a.audit_len().unwrap(), 1200);
        let mut leaves = Vec::new();
        let mut next = 1;
        a.audit_visit(0, &mut |seq, bytes, leaf| {
            assert_eq!(seq, next);
            next += 1;
            assert_eq!(leaf, &leaf_of(seq, bytes)[..]);
            leaves.push(<[u8; 32]>::try_from(leaf).unwrap());
            true
        })
        .unwrap();
        assert_eq!(leaves.len(), 1200);
        // The whole subtrees kept agree with the leaves.
        let mut sub = b.audit_subtrees().unwrap();
        assert_eq!(
            sub.node(BLOCK_LEVEL + 2, 0).unwrap(),
            merkle::root(&leaves[..1024])
        );
    }
}
