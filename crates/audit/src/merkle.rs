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
        let mut cur = (0u32, leaf);
        while let Some(&(h, left)) = self.stack.last() {
            if h != cur.0 {
                break;
            }
            self.stack.pop();
            cur = (h + 1, node_hash(&left, &cur.1));
        }
        self.stack.push(cur);
        self.size += 1;
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

    proptest! {
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
