//! RFC 9162 §2.1 Merkle tree hashing and proofs.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `leaves`; empty when the
/// index is out of range.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut out = Vec::new();
    if index < leaves.len() {
        path(index, leaves, &mut out);
    }
    out
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
    }
}

/// The consistency proof between the tree of the first `m` leaves and the tree of all of
/// `leaves`; empty when `m` is 0, equal to the size, or larger.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    let mut out = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut out);
    }
    out
}

fn subproof(m: usize, d: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], whole, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` shows `leaf` at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &r == root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows that the tree of size `first` with `first_root` is
/// a prefix of the tree of size `second` with `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty() && first_root == &empty_root();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &fr == first_root && &sr == second_root
}

/// Subtrees of `2^BLOCK_LEVEL` leaves and more are kept whole beside the log, so that proofs
/// and checkpoints read O(log n) hashes instead of every leaf.
pub const BLOCK_LEVEL: u32 = 8;
/// Leaves in a block, the smallest subtree kept whole.
pub const BLOCK: u64 = 1 << BLOCK_LEVEL;

/// Where the hashes of a large tree come from: its aligned perfect subtrees of at least
/// [`BLOCK`] leaves, kept beside the log, and the leaves themselves.
pub trait Subtrees {
    /// Why a hash could not be read.
    type Error;
    /// The root of leaves `index·2^level .. (index+1)·2^level`, with `level ≥ BLOCK_LEVEL`.
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
    /// The leaves `lo..hi`, never more than [`BLOCK`] of them.
    fn leaves(&mut self, lo: u64, hi: u64) -> Result<Vec<Hash>, Self::Error>;
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split64(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH of leaves `lo..hi`, from whole subtrees where they exist.
pub fn range_root<S: Subtrees + ?Sized>(s: &mut S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let n = hi.saturating_sub(lo);
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && n >= BLOCK && lo.is_multiple_of(n) {
        return s.node(n.trailing_zeros(), lo / n);
    }
    if n <= BLOCK {
        return Ok(root(&s.leaves(lo, hi)?));
    }
    let k = split64(n);
    Ok(node_hash(
        &range_root(s, lo, lo + k)?,
        &range_root(s, lo + k, hi)?,
    ))
}

/// [`inclusion_proof`] of leaf `index` in the tree of the first `size` leaves of `s`, reading
/// O(log n) whole subtrees and at most two blocks of leaves; empty when out of range.
pub fn inclusion_path<S: Subtrees + ?Sized>(
    s: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if index < size {
        path_in(s, index, 0, size, &mut out)?;
    }
    Ok(out)
}

fn path_in<S: Subtrees + ?Sized>(
    s: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split64(n);
    if m < k {
        path_in(s, m, lo, lo + k, out)?;
        out.push(range_root(s, lo + k, hi)?);
    } else {
        path_in(s, m - k, lo + k, hi, out)?;
        out.push(range_root(s, lo, lo + k)?);
    }
    Ok(())
}

/// [`consistency_proof`] between the trees of the first `first` and `second` leaves of `s`;
/// empty when `first` is 0 or not below `second`.
pub fn consistency_path<S: Subtrees + ?Sized>(
    s: &mut S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if first > 0 && first < second {
        subproof_in(s, first, 0, second, true, &mut out)?;
    }
    Ok(out)
}

fn subproof_in<S: Subtrees + ?Sized>(
    s: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(range_root(s, lo, hi)?);
        }
        return Ok(());
    }
    let k = split64(n);
    if m <= k {
        subproof_in(s, m, lo, lo + k, whole, out)?;
        out.push(range_root(s, lo + k, hi)?);
    } else {
        subproof_in(s, m - k, lo + k, hi, false, out)?;
        out.push(range_root(s, lo, lo + k)?);
    }
    Ok(())
}

/// A root computed while leaves stream past, in O(log n) memory: the stack of perfect
/// subtrees, folded right to left at the end. For verifying a long log without holding it.
#[derive(Debug, Default, Clone)]
pub struct StreamingRoot {
    /// (height, hash) of perfect subtrees, left to right, strictly decreasing heights.
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl StreamingRoot {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_inner(leaf, None);
    }

    /// Appends a leaf hash and adds to `completed` the whole subtrees kept beside the log
    /// (`2^BLOCK_LEVEL` leaves and more) that it completes, as (level, index, root).
    pub fn push_reporting(&mut self, leaf: Hash, completed: &mut Vec<(u32, u64, Hash)>) {
        self.push_inner(leaf, Some(completed));
    }

    fn push_inner(&mut self, leaf: Hash, mut completed: Option<&mut Vec<(u32, u64, Hash)>>) {
        let mut cur = (0u32, leaf);
        let size = self.size + 1;
        while let Some(&(h, left)) = self.stack.last() {
            if h != cur.0 {
                break;
            }
            self.stack.pop();
            cur = (h + 1, node_hash(&left, &cur.1));
            if let Some(out) = completed.as_deref_mut().filter(|_| cur.0 >= BLOCK_LEVEL) {
                out.push((cur.0, (size >> cur.0) - 1, cur.1));
            }
        }
        self.stack.push(cur);
        self.size = size;
    }

    /// The state after the first `size` leaves of `s`, read from its whole subtrees: resumes
    /// a long log without reading it again. Check [`StreamingRoot::root`] against a signed root
    /// before trusting it.
    pub fn resume<S: Subtrees + ?Sized>(s: &mut S, size: u64) -> Result<Self, S::Error> {
        let mut stack = Vec::new();
        let mut off = 0u64;
        for height in (0..u64::BITS).rev() {
            let width = 1u64 << height;
            if size & width != 0 {
                stack.push((height, range_root(s, off, off + width)?));
                off += width;
            }
        }
        Ok(StreamingRoot { stack, size })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            return empty_root();
        };
        for (_, h) in it {
            acc = node_hash(h, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// The Certificate Transparency reference leaves and roots (RFC 6962 test data, as
    /// published by transparency-dev/merkle): an independent implementation's outputs.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference() -> Vec<Hash> {
        LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect()
    }

    #[test]
    fn roots_match_the_reference_for_every_size() {
        let leaves = reference();
        let mut s = StreamingRoot::new();
        assert_eq!(s.root(), h(ROOTS[0]));
        for n in 0..=8 {
            assert_eq!(root(&leaves[..n]), h(ROOTS[n]), "size {n}");
            if n > 0 {
                s.push(leaves[n - 1]);
                assert_eq!(s.root(), h(ROOTS[n]), "streaming size {n}");
            }
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference() {
        let leaves = reference();
        let p0 = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        let p5 = [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ];
        assert_eq!(inclusion_proof(&leaves, 0), p0.map(h).to_vec());
        assert_eq!(inclusion_proof(&leaves, 5), p5.map(h).to_vec());
        assert!(verify_inclusion(&leaves[5], 5, 8, &p5.map(h), &h(ROOTS[8])));
    }

    #[test]
    fn consistency_proofs_match_the_reference() {
        let leaves = reference();
        let c28 = [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        let c68 = [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ];
        let c25 = [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ];
        assert_eq!(consistency_proof(&leaves, 2), c28.map(h).to_vec());
        assert_eq!(consistency_proof(&leaves, 6), c68.map(h).to_vec());
        assert_eq!(consistency_proof(&leaves[..5], 2), c25.map(h).to_vec());
        assert!(verify_consistency(
            6,
            8,
            &h(ROOTS[6]),
            &h(ROOTS[8]),
            &c68.map(h)
        ));
        assert!(!verify_consistency(
            6,
            8,
            &h(ROOTS[5]),
            &h(ROOTS[8]),
            &c68.map(h)
        ));
    }

    fn leaves_of(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    /// Whole subtrees computed from a slice, checking that only aligned perfect subtrees of
    /// at least a block and at most a block of leaves are asked for.
    struct FromSlice<'a>(&'a [Hash], usize);

    impl Subtrees for FromSlice<'_> {
        type Error = std::convert::Infallible;
        fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
            assert!(level >= BLOCK_LEVEL);
            self.1 += 1;
            let w = 1usize << level;
            let lo = index as usize * w;
            Ok(root(&self.0[lo..lo + w]))
        }
        fn leaves(&mut self, lo: u64, hi: u64) -> Result<Vec<Hash>, Self::Error> {
            assert!(hi - lo <= BLOCK);
            self.1 += 1;
            Ok(self.0[lo as usize..hi as usize].to_vec())
        }
    }

    #[test]
    fn a_proof_in_a_large_tree_reads_few_subtrees() {
        let leaves = leaves_of(70_000);
        let mut s = FromSlice(&leaves, 0);
        let p = inclusion_path(&mut s, 12_345, 70_000).unwrap();
        assert_eq!(p, inclusion_proof(&leaves, 12_345));
        assert!(s.1 <= 2 * 17 + 2, "{} reads", s.1);
    }

    proptest! {
        #[test]
        fn proofs_from_whole_subtrees_equal_proofs_from_every_leaf(n in 1u64..2100, i in 0u64..2100, m in 0u64..2100) {
            let leaves = leaves_of(n as usize);
            let i = i % n;
            let mut s = FromSlice(&leaves, 0);
            prop_assert_eq!(inclusion_path(&mut s, i, n).unwrap(), inclusion_proof(&leaves, i as usize));
            let m = m % (n + 1);
            prop_assert_eq!(consistency_path(&mut s, m, n).unwrap(), consistency_proof(&leaves, m as usize));
            prop_assert_eq!(range_root(&mut s, 0, n).unwrap(), root(&leaves));
            // A stream reports exactly the whole subtrees the source keeps.
            let mut reported = Vec::new();
            let mut st = StreamingRoot::new();
            for l in &leaves { st.push_reporting(*l, &mut reported); }
            prop_assert_eq!(reported.len() as u64, (BLOCK_LEVEL..64).map(|l| n >> l).sum::<u64>());
            for (level, index, root) in reported {
                prop_assert_eq!(s.node(level, index).unwrap(), root);
            }
            let resumed = StreamingRoot::resume(&mut s, n).unwrap();
            prop_assert_eq!(resumed.root(), root(&leaves));
            // Resumed, it goes on like a stream that saw every leaf.
            let mut a = StreamingRoot::resume(&mut s, m).unwrap();
            for l in &leaves[m as usize..] { a.push(*l); }
            prop_assert_eq!(a.root(), root(&leaves));
            prop_assert_eq!(a.size(), n);
        }

        #[test]
        fn every_inclusion_proof_verifies_and_a_wrong_one_does_not(n in 1usize..70, i in 0usize..70, flip in 0usize..32) {
            let leaves = leaves_of(n);
            let i = i % n;
            let r = root(&leaves);
            let p = inclusion_proof(&leaves, i);
            prop_assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &p, &r));
            prop_assert!(!verify_inclusion(&leaf_hash(b"other"), i as u64, n as u64, &p, &r));
            if n > 1 {
                prop_assert!(!verify_inclusion(&leaves[i], ((i + 1) % n) as u64, n as u64, &p, &r));
                let mut bad = p.clone();
                bad[0][flip] ^= 1;
                prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &bad, &r));
            }
            // Against the next tree's root, this tree's proof fails.
            let bigger = root(&leaves_of(n + 1));
            prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64 + 1, &p, &bigger));
        }

        #[test]
        fn every_consistency_proof_verifies_and_a_rewritten_history_does_not(n in 2usize..70, m in 1usize..70, changed in 0usize..70) {
            let leaves = leaves_of(n);
            let m = 1 + m % (n - 1);
            let p = consistency_proof(&leaves, m);
            prop_assert!(verify_consistency(m as u64, n as u64, &root(&leaves[..m]), &root(&leaves), &p));
            // The old tree with one entry rewritten is not a prefix of the new one.
            let mut forged = leaves[..m].to_vec();
            forged[changed % m] = leaf_hash(b"forged");
            prop_assert!(!verify_consistency(m as u64, n as u64, &root(&forged), &root(&leaves), &p));
        }

        /// What a proof file from outside can hold: any position, sizes over the whole range
        /// of u64 (and small ones), any path of any length. The verifiers neither panic (the
        /// tests run with overflow checks) nor accept hashes that were never in a tree.
        #[test]
        fn arbitrary_positions_sizes_and_paths_never_panic_nor_verify(
            index in any::<u64>(), size in any::<u64>(), small in 0u64..70,
            path in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
            leaf in any::<[u8; 32]>(),
        ) {
            let mut root = leaf;
            root[0] ^= 1;
            for (i, n) in [
                (index, size),
                (index % (small + 1), small),
                (u64::MAX - 1, u64::MAX),
                (0, u64::MAX),
                (u64::MAX, u64::MAX),
            ] {
                prop_assert!(!verify_inclusion(&leaf, i, n, &path, &root));
                prop_assert!(!verify_consistency(i, n, &leaf, &root, &path));
            }
        }

        #[test]
        fn streaming_root_equals_recursive_root(n in 0usize..300) {
            let leaves = leaves_of(n);
            let mut s = StreamingRoot::new();
            for l in &leaves { s.push(*l); }
            prop_assert_eq!(s.root(), root(&leaves));
            prop_assert_eq!(s.size(), n as u64);
        }
    }
}
