//! RFC 6962 / RFC 9162 Merkle trees over stored hashes: tree hashes, inclusion and consistency
//! proofs (make and check), behind a small [`HashReader`] trait so the store can keep hashes in SQL.
//!
//! Stored hashes are addressed by the dense "stored hash index" of Crosby and Wallach, as in Go's
//! `sumdb/tlog` and `tlog_tiles`: appending leaf `n` stores the hashes returned by
//! [`stored_hashes_for_leaf`] at indexes `stored_hash_index(0, n)..`. The algorithms are
//! `tlog_tiles`' (a port of Go's well-tested code); this module wraps them so callers never see
//! their panics or their error type.

use std::cell::RefCell;

use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// The longest proof we accept. An inclusion proof has at most 64 hashes and a consistency
/// proof at most 128 for any tree size that fits in a `u64`; longer input is refused before any work.
const MAX_PROOF_LEN: usize = 130;

/// The largest tree this crate handles: 2^62 leaves. Stored hash indexes of larger trees would
/// not fit a `u64`; no real log comes near it, but sizes from untrusted input are checked against it.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Why a Merkle operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The reader has no hash at a stored index that the tree of that size must have.
    #[error("stored hash {0} is missing")]
    Missing(u64),
    /// The reader failed for a reason of its own (a database error, say).
    #[error("reading stored hashes failed: {0}")]
    Storage(String),
    /// The reader returned the wrong number of hashes.
    #[error("the hash reader returned {got} hashes for {wanted} indexes")]
    ShortRead {
        /// How many were asked for.
        wanted: usize,
        /// How many came back.
        got: usize,
    },
    /// A leaf index at or beyond the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency request whose old size exceeds the new size.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// A tree size beyond [`MAX_TREE_SIZE`].
    #[error("tree size {0} exceeds the supported maximum of 2^62 leaves")]
    TooLarge(u64),
    /// The proof does not prove what it claims.
    #[error("the Merkle proof does not verify")]
    InvalidProof,
}

/// Reads stored hashes by their stored hash index (see [`stored_hash_index`]).
///
/// The store implements this over its SQL table; [`MemoryHashes`] implements it over a `Vec`.
pub trait HashReader {
    /// Returns the hashes at the given stored indexes, in the same order. Callers ask for
    /// indexes in increasing order.
    ///
    /// # Errors
    /// Returns [`MerkleError::Missing`] when an index is not stored, or
    /// [`MerkleError::Storage`] for any failure of the underlying storage.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        (**self).read_hashes(indexes)
    }
}

/// Adapts our reader to `tlog_tiles`' trait: checks the length (their code asserts it) and keeps
/// our error so the caller gets it back unchanged.
struct Adapter<'a, R: ?Sized> {
    inner: &'a R,
    error: RefCell<Option<MerkleError>>,
}

impl<'a, R: HashReader + ?Sized> Adapter<'a, R> {
    fn new(inner: &'a R) -> Self {
        Self {
            inner,
            error: RefCell::new(None),
        }
    }

    /// Maps a `tlog_tiles` error back to ours, preferring the reader's own error.
    fn convert(&self, e: &tlog_tiles::Error) -> MerkleError {
        if let Some(err) = self.error.borrow_mut().take() {
            return err;
        }
        match e {
            tlog_tiles::Error::InvalidProof => MerkleError::InvalidProof,
            other => MerkleError::Storage(other.to_string()),
        }
    }
}

impl<R: HashReader + ?Sized> tlog_tiles::HashReader for Adapter<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let result = self.inner.read_hashes(indexes).and_then(|hashes| {
            if hashes.len() == indexes.len() {
                Ok(hashes)
            } else {
                Err(MerkleError::ShortRead {
                    wanted: indexes.len(),
                    got: hashes.len(),
                })
            }
        });
        result.map_err(|e| {
            let msg = e.to_string();
            *self.error.borrow_mut() = Some(e);
            tlog_tiles::Error::InvalidInput(msg)
        })
    }
}

/// The stored hash index of the `n`th hash at `level` (level 0 holds the leaf hashes), for hashes
/// of trees up to [`MAX_TREE_SIZE`] leaves.
#[must_use]
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    tlog_tiles::stored_hash_index(level, n)
}

/// The inverse of [`stored_hash_index`]: `(level, n)`.
#[must_use]
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    tlog_tiles::split_stored_hash_index(index)
}

/// How many hashes are stored for a tree of `size` leaves.
#[must_use]
pub fn stored_hash_count(size: u64) -> u64 {
    tlog_tiles::stored_hash_count(size)
}

/// The hashes to store when appending leaf `n` (0-based) with `leaf_hash`: the leaf hash itself
/// followed by the roots of the subtrees it completes. Store them at consecutive indexes starting
/// at `stored_hash_index(0, n)`. Reads at most `log2(n)` earlier hashes.
///
/// # Errors
/// [`MerkleError::TooLarge`] when leaf `n` would exceed [`MAX_TREE_SIZE`], or the reader's error
/// if an earlier hash cannot be read.
pub fn stored_hashes_for_leaf<R: HashReader + ?Sized>(
    n: u64,
    leaf_hash: Hash,
    reader: &R,
) -> Result<Vec<Hash>, MerkleError> {
    if n >= MAX_TREE_SIZE {
        return Err(MerkleError::TooLarge(n.saturating_add(1)));
    }
    let a = Adapter::new(reader);
    tlog_tiles::stored_hashes_for_record_hash(n, leaf_hash, &a).map_err(|e| a.convert(&e))
}

/// The root hash of the tree of the first `size` leaves.
///
/// # Errors
/// [`MerkleError::TooLarge`], or the reader's error if a stored hash cannot be read.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, MerkleError> {
    if size > MAX_TREE_SIZE {
        return Err(MerkleError::TooLarge(size));
    }
    let a = Adapter::new(reader);
    tlog_tiles::tree_hash(size, &a).map_err(|e| a.convert(&e))
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves.
///
/// # Errors
/// [`MerkleError::IndexOutOfRange`] when `index >= size`, [`MerkleError::TooLarge`], or the
/// reader's error.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    reader: &R,
) -> Result<Vec<Hash>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    if size > MAX_TREE_SIZE {
        return Err(MerkleError::TooLarge(size));
    }
    let a = Adapter::new(reader);
    tlog_tiles::prove_record(size, index, &a).map_err(|e| a.convert(&e))
}

/// Checks that `proof` shows leaf `index` with hash `leaf` is in the tree of `size` with `root`.
///
/// # Errors
/// [`MerkleError::IndexOutOfRange`] when `index >= size`, [`MerkleError::InvalidProof`] otherwise.
pub fn verify_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    index: u64,
    leaf: Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(MerkleError::InvalidProof);
    }
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf)
        .map_err(|_| MerkleError::InvalidProof)
}

/// The RFC 6962 consistency proof that the tree of `new` leaves extends the tree of `old` leaves.
/// Empty when `old` is 0 or equals `new`.
///
/// # Errors
/// [`MerkleError::SizeOrder`] when `old > new`, [`MerkleError::TooLarge`], or the reader's error.
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, MerkleError> {
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    if new > MAX_TREE_SIZE {
        return Err(MerkleError::TooLarge(new));
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let a = Adapter::new(reader);
    tlog_tiles::prove_tree(new, old, &a).map_err(|e| a.convert(&e))
}

/// Checks that `proof` shows the tree (`new`, `new_root`) extends the tree (`old`, `old_root`).
///
/// The empty tree is consistent with every tree (its proof is empty), and a tree is consistent
/// with itself only when the roots are equal and the proof is empty.
///
/// # Errors
/// [`MerkleError::SizeOrder`] when `old > new`, [`MerkleError::InvalidProof`] otherwise.
pub fn verify_consistency(
    proof: &[Hash],
    old: u64,
    old_root: Hash,
    new: u64,
    new_root: Hash,
) -> Result<(), MerkleError> {
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(MerkleError::InvalidProof);
    }
    if old == 0 {
        return if proof.is_empty() && old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(MerkleError::InvalidProof)
        };
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(MerkleError::InvalidProof)
        };
    }
    tlog_tiles::check_tree(&proof.to_vec(), new, new_root, old, old_root)
        .map_err(|_| MerkleError::InvalidProof)
}

/// The RFC 6962 Merkle tree hash computed directly from all leaf hashes, recursively, as the RFC
/// defines it. Independent of the stored-hash machinery, so tests and verifiers can cross-check.
#[must_use]
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            // The largest power of two strictly smaller than n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(
                root_from_leaves(&leaves[..k]),
                root_from_leaves(&leaves[k..]),
            )
        }
    }
}

/// Stored hashes in memory, indexed by stored hash index: for tests, the command-line verifier and
/// the sequencer's batch (which reads old hashes through an overlay of its own).
#[derive(Debug, Clone, Default)]
pub struct MemoryHashes {
    hashes: Vec<Hash>,
    leaves: u64,
}

impl MemoryHashes {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree holding the given leaf hashes, in order.
    #[must_use]
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut m = Self::new();
        for l in leaves {
            m.push(l);
        }
        m
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf_hash: Hash) -> u64 {
        let n = self.leaves;
        // Reading our own earlier hashes cannot fail: every index asked for is below `n`'s.
        let new = stored_hashes_for_leaf(n, leaf_hash, &*self).unwrap_or_default();
        self.hashes.extend(new);
        self.leaves += 1;
        n
    }

    /// The number of leaves.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.leaves
    }

    /// Whether the tree has no leaves.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The root of the whole tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        tree_hash(self.leaves, self).unwrap_or(EMPTY_ROOT)
    }

    /// All stored hashes, in stored-index order.
    #[must_use]
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|u| self.hashes.get(u).copied())
                    .ok_or(MerkleError::Missing(i))
            })
            .collect()
    }
}

/// Appends a batch of leaves on top of stored hashes the caller cannot change yet (rows in a
/// database, say): reads old hashes from `base`, keeps the new ones in memory, and tells the caller
/// exactly which stored hashes to write. This is the sequencer's batch.
///
/// ```
/// use insyn_ledger::hash::leaf_hash;
/// use insyn_ledger::merkle::{Appender, MemoryHashes};
///
/// let stored = MemoryHashes::from_leaves([leaf_hash(b"a"), leaf_hash(b"b")]);
/// let mut batch = Appender::new(&stored, stored.len());
/// assert_eq!(batch.push(leaf_hash(b"c")).unwrap(), 2);
/// let (first_index, new_hashes) = batch.new_hashes();
/// assert_eq!(first_index, stored.stored().len() as u64);
/// assert_eq!(batch.root().unwrap(),
///     MemoryHashes::from_leaves([b"a", b"b", b"c"].map(|x| leaf_hash(x))).root());
/// # let _ = new_hashes;
/// ```
#[derive(Debug, Clone)]
pub struct Appender<R> {
    base: R,
    base_size: u64,
    base_count: u64,
    size: u64,
    new: Vec<Hash>,
}

impl<R: HashReader> Appender<R> {
    /// A batch on top of a stored tree of `base_size` leaves.
    pub fn new(base: R, base_size: u64) -> Self {
        let base_count = stored_hash_count(base_size);
        Self {
            base,
            base_size,
            base_count,
            size: base_size,
            new: Vec::new(),
        }
    }

    /// Appends a leaf hash; returns its leaf index.
    ///
    /// # Errors
    /// The base reader's error.
    pub fn push(&mut self, leaf_hash: Hash) -> Result<u64, MerkleError> {
        let n = self.size;
        let hashes = stored_hashes_for_leaf(n, leaf_hash, &*self)?;
        self.new.extend(hashes);
        self.size += 1;
        Ok(n)
    }

    /// The tree size including the batch.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree size before the batch.
    #[must_use]
    pub fn base_size(&self) -> u64 {
        self.base_size
    }

    /// The stored hashes to write: the stored index of the first, and all of them in order.
    #[must_use]
    pub fn new_hashes(&self) -> (u64, &[Hash]) {
        (self.base_count, &self.new)
    }

    /// The root of the tree including the batch.
    ///
    /// # Errors
    /// The base reader's error.
    pub fn root(&self) -> Result<Hash, MerkleError> {
        tree_hash(self.size, self)
    }
}

impl<R: HashReader> HashReader for Appender<R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        let old: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|&i| i < self.base_count)
            .collect();
        let mut old_hashes = if old.is_empty() {
            Vec::new()
        } else {
            self.base.read_hashes(&old)?
        };
        if old_hashes.len() != old.len() {
            return Err(MerkleError::ShortRead {
                wanted: old.len(),
                got: old_hashes.len(),
            });
        }
        old_hashes.reverse();
        indexes
            .iter()
            .map(|&i| {
                if i < self.base_count {
                    old_hashes.pop().ok_or(MerkleError::Missing(i))
                } else {
                    usize::try_from(i - self.base_count)
                        .ok()
                        .and_then(|k| self.new.get(k).copied())
                        .ok_or(MerkleError::Missing(i))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn tree(n: u64) -> (Vec<Hash>, MemoryHashes) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let m = MemoryHashes::from_leaves(leaves.iter().copied());
        (leaves, m)
    }

    #[test]
    fn stored_roots_match_the_rfc_definition() {
        for n in 0..70u64 {
            let (leaves, m) = tree(n);
            assert_eq!(m.len(), n);
            assert_eq!(m.stored().len() as u64, stored_hash_count(n));
            for size in 0..=n {
                assert_eq!(
                    tree_hash(size, &m).unwrap(),
                    root_from_leaves(&leaves[..size as usize]),
                    "size {size}"
                );
            }
        }
    }

    #[test]
    fn every_proof_in_small_trees_verifies() {
        let (leaves, m) = tree(33);
        for size in 1..=33u64 {
            let root = tree_hash(size, &m).unwrap();
            for i in 0..size {
                let p = prove_inclusion(size, i, &m).unwrap();
                verify_inclusion(&p, size, root, i, leaves[i as usize]).unwrap();
                assert!(verify_inclusion(&p, size, root, i, leaves[0]).is_err() || i == 0);
            }
            for old in 0..=size {
                let old_root = tree_hash(old, &m).unwrap();
                let p = prove_consistency(old, size, &m).unwrap();
                verify_consistency(&p, old, old_root, size, root).unwrap();
            }
        }
    }

    #[test]
    fn an_appender_writes_exactly_what_memory_hashes_would() {
        let (leaves, full) = tree(700);
        for base in [0usize, 1, 255, 256, 257, 500] {
            let stored = MemoryHashes::from_leaves(leaves[..base].iter().copied());
            let mut batch = Appender::new(&stored, base as u64);
            for l in &leaves[base..] {
                batch.push(*l).unwrap();
            }
            let (start, new) = batch.new_hashes();
            assert_eq!(start as usize, stored.stored().len());
            assert_eq!(new, &full.stored()[start as usize..]);
            assert_eq!(batch.root().unwrap(), full.root());
            assert_eq!(
                prove_inclusion(700, 3, &batch).unwrap(),
                prove_inclusion(700, 3, &full).unwrap()
            );
        }
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        let (_, m) = tree(5);
        assert_eq!(
            prove_inclusion(5, 5, &m).unwrap_err().to_string(),
            "leaf index 5 is not in a tree of size 5"
        );
        assert!(matches!(
            prove_consistency(6, 5, &m),
            Err(MerkleError::SizeOrder { .. })
        ));
        assert!(matches!(tree_hash(6, &m), Err(MerkleError::Missing(_))));
        assert!(matches!(
            prove_inclusion(9, 1, &m),
            Err(MerkleError::Missing(_))
        ));
        let root = m.root();
        let long = vec![root; 500];
        assert_eq!(
            verify_inclusion(&long, 5, root, 1, root),
            Err(MerkleError::InvalidProof)
        );
        assert_eq!(
            verify_consistency(&long, 2, root, 5, root),
            Err(MerkleError::InvalidProof)
        );
    }

    struct Short;
    impl HashReader for Short {
        fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, MerkleError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_lying_reader_is_an_error() {
        assert!(matches!(
            tree_hash(3, &Short),
            Err(MerkleError::ShortRead { .. })
        ));
        assert!(matches!(
            prove_inclusion(3, 1, &Short),
            Err(MerkleError::ShortRead { .. })
        ));
    }
}
