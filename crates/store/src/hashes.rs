//! Stored Merkle hashes read from SQL for the ledger's synchronous [`HashReader`] algorithms.
//!
//! The ledger's algorithms (tree hash, proofs, tiles) ask for all the stored hashes they need in
//! one `read_hashes` call, and *which* indexes they need depends only on sizes, never on hash
//! values. So a computation runs in two passes: a first pass against what is in memory records
//! the missing indexes (answering zeros), one batched `SELECT … WHERE idx IN (…)` fetches them,
//! and a second pass computes the real result. No query per hash, and no async in the ledger.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use insyn_ledger::hash::Hash;
use insyn_ledger::merkle::{HashReader, MerkleError};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::StoreError;
use crate::entity::stored_hashes;
use crate::error::{from_db, hash32, to_db};

/// At most this many values in one `IN (…)` list (well under both databases' parameter limits).
const IN_CHUNK: usize = 4096;

/// Stored hashes known in memory, plus the misses of the current pass.
#[derive(Debug, Default)]
pub(crate) struct HashCache {
    known: HashMap<u64, Hash>,
    misses: RefCell<BTreeSet<u64>>,
}

impl HashReader for HashCache {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        let mut misses = self.misses.borrow_mut();
        Ok(indexes
            .iter()
            .map(|i| {
                self.known.get(i).copied().unwrap_or_else(|| {
                    misses.insert(*i);
                    Hash([0; 32])
                })
            })
            .collect())
    }
}

impl HashCache {
    /// Remembers a stored hash.
    pub(crate) fn insert(&mut self, index: u64, hash: Hash) {
        self.known.insert(index, hash);
    }

    /// Forgets every hash except those at `keep`.
    pub(crate) fn retain(&mut self, keep: &BTreeSet<u64>) {
        self.known.retain(|i, _| keep.contains(i));
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.known.clear();
    }

    /// Runs `f` over stored hashes, fetching the ones not in memory from `db` in one batch (and
    /// keeping them). `f` must ask for the same indexes whatever the hash values, which holds for
    /// every algorithm of `insyn_ledger::merkle` and `insyn_ledger::tile`.
    pub(crate) async fn compute<T, C: ConnectionTrait>(
        &mut self,
        db: &C,
        f: impl Fn(&dyn HashReader) -> Result<T, MerkleError>,
    ) -> Result<T, StoreError> {
        self.misses.borrow_mut().clear();
        let first = f(self);
        let missing: Vec<u64> = std::mem::take(&mut *self.misses.borrow_mut())
            .into_iter()
            .collect();
        if missing.is_empty() {
            return first.map_err(merkle_error);
        }
        for (index, hash) in fetch(db, &missing).await? {
            self.known.insert(index, hash);
        }
        if let Some(absent) = missing.iter().find(|i| !self.known.contains_key(i)) {
            return Err(StoreError::Corrupt(format!(
                "stored hash {absent} is missing"
            )));
        }
        f(self).map_err(merkle_error)
    }
}

pub(crate) fn merkle_error(e: MerkleError) -> StoreError {
    match e {
        MerkleError::IndexOutOfRange { .. } | MerkleError::SizeOrder { .. } => {
            StoreError::InvalidInput(e.to_string())
        }
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Reads stored hashes by index, in batches. Absent indexes are simply not returned.
pub(crate) async fn fetch<C: ConnectionTrait>(
    db: &C,
    indexes: &[u64],
) -> Result<Vec<(u64, Hash)>, StoreError> {
    let mut out = Vec::with_capacity(indexes.len());
    for chunk in indexes.chunks(IN_CHUNK) {
        let keys = chunk
            .iter()
            .map(|i| to_db(*i))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = stored_hashes::Entity::find()
            .filter(stored_hashes::Column::Idx.is_in(keys))
            .all(db)
            .await?;
        for row in rows {
            out.push((from_db(row.idx)?, Hash(hash32(&row.hash)?)));
        }
    }
    Ok(out)
}
