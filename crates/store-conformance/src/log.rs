//! The audit log: order, leaves, subtrees, checkpoints.

use crate::{entry, Fixture};
use rempart_audit::{leaf_of, merkle, Checkpoint};

/// Entries are appended in one order, each with the leaf of its position; the subtrees the
/// store keeps give the same roots and proofs as the leaves themselves.
pub fn entries_keep_their_order_leaves_and_subtrees(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    let before = s.audit_len().unwrap();
    let batch: Vec<_> = (0..700)
        .map(|i| {
            let mut e = entry();
            e.time = i;
            e
        })
        .collect();
    s.append_audit(&batch[..300]).unwrap();
    s.submit_audit(&batch[300..]).wait().unwrap();
    let len = s.audit_len().unwrap();
    assert_eq!(len, before + 700);
    let mut leaves = Vec::new();
    let mut times = Vec::new();
    s.audit_visit(0, &mut |seq, bytes, leaf| {
        assert_eq!(leaf, leaf_of(seq, bytes), "the leaf of entry {seq}");
        leaves.push(<[u8; 32]>::try_from(leaf).unwrap());
        times.push(rempart_audit::AuditEntry::parse(bytes).unwrap().time);
        true
    })
    .unwrap();
    assert_eq!(leaves.len() as u64, len);
    assert_eq!(&times[before as usize..], (0..700).collect::<Vec<i64>>());
    let mut sub = s.audit_subtrees().unwrap();
    for size in [1, 255, 256, 257, 512, len] {
        assert_eq!(
            merkle::range_root(&mut *sub, 0, size).unwrap(),
            merkle::root(&leaves[..size as usize]),
            "root of the first {size}"
        );
        assert_eq!(
            merkle::inclusion_path(&mut *sub, size - 1, size).unwrap(),
            merkle::inclusion_proof(&leaves[..size as usize], size as usize - 1),
            "proof of entry {size}"
        );
    }
    let mut visited = 0;
    s.audit_visit(len - 3, &mut |_, _, _| {
        visited += 1;
        visited < 2
    })
    .unwrap();
    assert_eq!(visited, 2, "the visit stops when told");
}

/// Checkpoints are kept by size; the latest is the largest, whatever the order of insertion.
pub fn checkpoints_are_kept_by_size(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    assert_eq!(s.latest_checkpoint().unwrap(), None);
    let cp = |size: u64| Checkpoint::new(size, &[size as u8; 32], size as i64, &[7; 64]);
    for size in [5, 9, 2, 7] {
        s.insert_checkpoint(&cp(size)).unwrap();
    }
    assert_eq!(s.latest_checkpoint().unwrap(), Some(cp(9)));
    let sizes: Vec<u64> = s.checkpoints().unwrap().iter().map(|c| c.size).collect();
    assert_eq!(sizes, [2, 5, 7, 9]);
}
