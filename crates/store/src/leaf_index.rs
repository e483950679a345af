//! Finding an entry by its leaf hash, without an index keyed by a random hash on the append path.
//!
//! A B-tree keyed by leaf hash takes each appended entry to a random page of it; once the index
//! outgrows the page cache, every entry dirties a page of its own, which SQLite writes to the WAL
//! and again when checkpointing. Here the lookup is log-structured, in two tables derived from
//! `entries.leaf_hash` (migration 9):
//!
//! - `leaf_lookup (run, leaf_hash, idx)`, keyed by (run, leaf_hash). Each append transaction puts
//!   its batch's leaf hashes in as a new run, sorted, in a key range of its own: a few fresh
//!   pages per batch, whatever the log's size.
//! - `leaf_runs (id, level, size)`: the runs. A run's level is the logarithm of its size in base
//!   [`LeafRunShape::fanout`]; when a level holds `fanout` runs they are merged into one run of a
//!   higher level, in the same transaction (size-tiered compaction, as in an LSM tree). Runs of
//!   [`LeafRunShape::final_level`] are never merged again, which bounds the largest merge (under
//!   65,536 entries by default).
//!
//! A lookup seeks once per run: fewer than `fanout` runs per open level plus the final runs, one
//! per 4,096 entries or more (a few hundred seeks at a million entries under full load, where
//! every batch is one run of hundreds of entries). Lookups by leaf hash are rare reads (an
//! inclusion proof asked for by hash); the append path never reads these tables.
//!
//! Invariants:
//! - Every committed entry is in exactly one run: the runs change only inside append
//!   transactions, and a merge inserts its run and deletes the runs it replaces in one.
//! - Neither table is part of the ledger (both are rebuilt from `entries`, which stays
//!   append-only); a reader still checks a found entry's own leaf hash.

use insyn_ledger::hash::Hash;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};

use crate::StoreError;
use crate::entity::{leaf_lookup, leaf_runs};
use crate::error::{from_db, to_db};

/// How the leaf-hash runs are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafRunShape {
    /// How many runs of one level are merged into one (2 or more).
    pub fanout: u32,
    /// Runs of this level or higher (`fanout^final_level` entries or more) are never merged.
    pub final_level: u8,
}

impl Default for LeafRunShape {
    /// Sixteen runs to a merge; runs of 4,096 entries or more are final.
    fn default() -> Self {
        Self {
            fanout: 16,
            final_level: 3,
        }
    }
}

impl LeafRunShape {
    fn fanout(self) -> u64 {
        u64::from(self.fanout.max(2))
    }

    /// The level of a run of `size` entries: `floor(log_fanout(size))`, at most the final level.
    fn level_of(self, size: u64) -> i16 {
        let mut level: u8 = 0;
        let mut n = size;
        while n >= self.fanout() && level < self.final_level {
            n /= self.fanout();
            level += 1;
        }
        i16::from(level)
    }
}

#[derive(Debug, Clone, Copy)]
struct Run {
    id: i64,
    level: i16,
    size: u64,
}

impl Run {
    /// A new run of `size` entries, at the level its size gives it.
    fn new(shape: LeafRunShape, id: i64, size: u64) -> Self {
        Self {
            id,
            level: shape.level_of(size),
            size,
        }
    }
}

/// The sequencer's view of the runs that may still be merged, and the next run's id, as its
/// last committed append left them. Loaded again whenever another process may have appended
/// (a catch-up) or a transaction failed.
#[derive(Debug)]
pub(crate) struct LeafRuns {
    shape: LeafRunShape,
    next_id: i64,
    open: Vec<Run>,
}

impl LeafRuns {
    /// Reads the open runs and the largest run id (inside the append transaction).
    pub(crate) async fn load(
        db: &impl ConnectionTrait,
        shape: LeafRunShape,
    ) -> Result<Self, StoreError> {
        let open = leaf_runs::Entity::find()
            .filter(leaf_runs::Column::Level.lt(i16::from(shape.final_level)))
            .all(db)
            .await?
            .into_iter()
            .map(|r| {
                Ok(Run {
                    id: r.id,
                    level: r.level,
                    size: from_db(r.size)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let max: Option<Option<i64>> = leaf_runs::Entity::find()
            .select_only()
            .column_as(leaf_runs::Column::Id.max(), "max")
            .into_tuple()
            .one(db)
            .await?;
        Ok(Self {
            shape,
            next_id: max.flatten().unwrap_or(0) + 1,
            open,
        })
    }

    /// Adds one batch's leaves (leaf index, leaf hash) as a new run, then merges while some
    /// level holds `fanout` runs.
    pub(crate) async fn append(
        &mut self,
        txn: &impl ConnectionTrait,
        leaves: impl Iterator<Item = (u64, Hash)>,
    ) -> Result<(), StoreError> {
        let mut rows: Vec<(Hash, u64)> = leaves.map(|(i, h)| (h, i)).collect();
        if rows.is_empty() {
            return Ok(());
        }
        rows.sort_unstable_by_key(|(h, _)| h.0);
        let id = self.take_id();
        let models = rows
            .iter()
            .map(|(h, i)| {
                Ok(leaf_lookup::ActiveModel {
                    run: Set(id),
                    leaf_hash: Set(h.0.to_vec()),
                    idx: Set(to_db(*i)?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        crate::sequencer::insert_rows(txn, models, crate::sequencer::INSERT_CHUNK).await?;
        self.add(txn, Run::new(self.shape, id, rows.len() as u64))
            .await?;
        while let Some(level) = self.full_level() {
            self.merge(txn, level).await?;
        }
        Ok(())
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    async fn add(&mut self, txn: &impl ConnectionTrait, run: Run) -> Result<(), StoreError> {
        leaf_runs::Entity::insert(leaf_runs::ActiveModel {
            id: Set(run.id),
            level: Set(run.level),
            size: Set(to_db(run.size)?),
        })
        .exec_without_returning(txn)
        .await?;
        if run.level < i16::from(self.shape.final_level) {
            self.open.push(run);
        }
        Ok(())
    }

    /// The lowest level holding `fanout` runs, if any.
    fn full_level(&self) -> Option<i16> {
        (0..i16::from(self.shape.final_level)).find(|level| {
            self.open.iter().filter(|r| r.level == *level).count() as u64 >= self.shape.fanout()
        })
    }

    /// Merges every open run of `level` into one new run, sorted by leaf hash.
    async fn merge(&mut self, txn: &impl ConnectionTrait, level: i16) -> Result<(), StoreError> {
        let (merged, open): (Vec<Run>, Vec<Run>) =
            self.open.drain(..).partition(|r| r.level == level);
        self.open = open;
        let size: u64 = merged.iter().map(|r| r.size).sum();
        // Run ids are integers this module assigned, never input: written into the SQL as such.
        let ids = merged
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let id = self.take_id();
        txn.execute_unprepared(&format!(
            "INSERT INTO leaf_lookup (run, leaf_hash, idx) \
             SELECT {id}, leaf_hash, idx FROM leaf_lookup WHERE run IN ({ids}) ORDER BY leaf_hash"
        ))
        .await?;
        txn.execute_unprepared(&format!("DELETE FROM leaf_lookup WHERE run IN ({ids})"))
            .await?;
        txn.execute_unprepared(&format!("DELETE FROM leaf_runs WHERE id IN ({ids})"))
            .await?;
        tracing::debug!(level, runs = merged.len(), size, "merged leaf-hash runs");
        self.add(txn, Run::new(self.shape, id, size)).await
    }
}

/// The lookup: one seek of `leaf_lookup`'s key per run. `CROSS JOIN` makes the runs the outer
/// loop on SQLite whatever its statistics say; PostgreSQL's plan is tested.
#[doc(hidden)]
#[must_use]
pub fn lookup_statement(backend: DbBackend, leaf: &Hash) -> Statement {
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT MIN(l.idx) AS idx FROM leaf_runs r CROSS JOIN leaf_lookup l \
             WHERE l.run = r.id AND l.leaf_hash = {p}"
        ),
        [leaf.0.to_vec().into()],
    )
}

/// The leaf index of the entry with this leaf hash, if any (as the runs say; callers check the
/// entry's own hash).
pub(crate) async fn find(
    db: &impl ConnectionTrait,
    leaf: &Hash,
) -> Result<Option<u64>, StoreError> {
    let row = db
        .query_one_raw(lookup_statement(db.get_database_backend(), leaf))
        .await?;
    let idx: Option<i64> = match row {
        Some(r) => r.try_get("", "idx")?,
        None => None,
    };
    idx.map(from_db).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_logarithms_capped_at_the_final_level() {
        let shape = LeafRunShape::default();
        assert_eq!(shape.level_of(1), 0);
        assert_eq!(shape.level_of(15), 0);
        assert_eq!(shape.level_of(16), 1);
        assert_eq!(shape.level_of(255), 1);
        assert_eq!(shape.level_of(256), 2);
        assert_eq!(shape.level_of(4095), 2);
        assert_eq!(shape.level_of(4096), 3);
        assert_eq!(shape.level_of(1 << 40), 3);
        let two = LeafRunShape {
            fanout: 2,
            final_level: 3,
        };
        assert_eq!(
            (1..=9).map(|n| two.level_of(n)).collect::<Vec<_>>(),
            [0, 1, 1, 2, 2, 2, 2, 3, 3]
        );
    }
}
