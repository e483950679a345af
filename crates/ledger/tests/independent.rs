//! An independent verifier written from `docs/FORMAT.md` section 8 alone (not from our Merkle
//! module or `tlog_tiles`), checked against every proof our library makes for small trees. If
//! the page's algorithm text were wrong, this would fail.

#![allow(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use insyn_ledger::hash::{Hash, leaf_hash};
use insyn_ledger::merkle::{MemoryHashes, prove_consistency, prove_inclusion, tree_hash};
use sha2::{Digest, Sha256};

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

fn doc_verify_inclusion(p: &[[u8; 32]], h: [u8; 32], m: u64, n: u64, r: [u8; 32]) -> bool {
    if m >= n {
        return false;
    }
    let (mut fnn, mut sn, mut x) = (m, n - 1, h);
    for c in p {
        if sn == 0 {
            return false;
        }
        if fnn % 2 == 1 || fnn == sn {
            x = node(c, &x);
            while fnn % 2 == 0 && fnn != 0 {
                fnn >>= 1;
                sn >>= 1;
            }
        } else {
            x = node(&x, c);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    sn == 0 && x == r
}

fn doc_verify_consistency(p: &[[u8; 32]], m: u64, r1: [u8; 32], n: u64, r2: [u8; 32]) -> bool {
    if p.is_empty() {
        return false;
    }
    let mut p = p.to_vec();
    if m.is_power_of_two() {
        p.insert(0, r1);
    }
    let (mut fnn, mut sn) = (m - 1, n - 1);
    while fnn % 2 == 1 {
        fnn >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (p[0], p[0]);
    for c in &p[1..] {
        if sn == 0 {
            return false;
        }
        if fnn % 2 == 1 || fnn == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fnn % 2 == 0 && fnn != 0 {
                fnn >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    fr == r1 && sr == r2 && sn == 0
}

fn raw(v: &[Hash]) -> Vec<[u8; 32]> {
    v.iter().map(|h| h.0).collect()
}

#[test]
fn the_documented_algorithms_accept_our_proofs_and_reject_tampering() {
    let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let m = MemoryHashes::from_leaves(leaves.iter().copied());
    for n in 1..=40u64 {
        let root = tree_hash(n, &m).unwrap().0;
        for i in 0..n {
            let p = raw(&prove_inclusion(n, i, &m).unwrap());
            assert!(
                doc_verify_inclusion(&p, leaves[i as usize].0, i, n, root),
                "inclusion {i} in {n}"
            );
            assert!(
                !doc_verify_inclusion(&p, leaves[i as usize].0, (i + 1) % n, n, root) || n == 1
            );
        }
        for old in 1..n {
            let r1 = tree_hash(old, &m).unwrap().0;
            let p = raw(&prove_consistency(old, n, &m).unwrap());
            assert!(
                doc_verify_consistency(&p, old, r1, n, root),
                "consistency {old} -> {n}"
            );
            let mut bad = p.clone();
            bad[0][0] ^= 1;
            assert!(!doc_verify_consistency(&bad, old, r1, n, root));
        }
    }
}
