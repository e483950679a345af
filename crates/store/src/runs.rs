//! Finding a row by a hash without an index keyed by a random hash on the append path: the
//! lookups by leaf hash (migration 9) and by payload hash (migration 10).
//!
//! A B-tree keyed by a hash takes each appended entry to a random page of it; once the index
//! outgrows the page cache, every entry dirties a page of its own, which SQLite writes to the WAL
//! and again when checkpointing. Here each lookup is log-structured, in two tables derived from a
//! hash column the append path writes anyway ([`RunIndex`]):
//!
//! - the lookup `(run, hash, idx)`, keyed by `(run, hash)` (with `idx` when one hash may name
//!   several entries). Each append transaction puts its batch's hashes in as a new run, sorted,
//!   in a key range of its own: a few fresh pages per batch, whatever the log's size.
//! - the runs `(id, level, size)`. A run's level is the logarithm of its size in base
//!   [`RunShape::fanout`]; when a level holds `fanout` runs they are merged into one run of a
//!   higher level, in the same transaction (size-tiered compaction, as in an LSM tree). Runs of
//!   [`RunShape::final_level`] are never merged again, which bounds the largest merge (under
//!   65,536 entries by default).
//!
//! A lookup seeks once per run: fewer than `fanout` runs per open level plus the final runs, one
//! per 4,096 entries or more (a few hundred seeks at a million entries under full load, where
//! every batch is one run of hundreds of entries). Lookups by hash are reads a person asks for
//! (an inclusion proof by leaf hash, a payload); the append path never reads these tables.
//!
//! Invariants:
//! - Every committed row of the source (an entry, a stored payload) is in exactly one run: the
//!   runs change only inside append transactions, and a merge inserts its run and deletes the
//!   runs it replaces in one.
//! - Neither table is part of the ledger (both are rebuilt from the source, which stays
//!   append-only); a reader still checks the found row's own hash.

use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::StoreError;
use crate::error::{from_db, to_db};

/// One log-structured lookup: its tables and key column. Names are constants of this crate,
/// never input, so they are written into the SQL as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunIndex {
    lookup: &'static str,
    runs: &'static str,
    key: &'static str,
    what: &'static str,
}

/// Entries by leaf hash (`entries.leaf_hash`, migration 9): one entry per hash.
pub const LEAF: RunIndex = RunIndex {
    lookup: "leaf_lookup",
    runs: "leaf_runs",
    key: "leaf_hash",
    what: "leaf-hash",
};

/// Stored payloads by SHA-256 (`payloads.sha256`, migration 10): the entries that stored a copy.
pub const PAYLOAD: RunIndex = RunIndex {
    lookup: "payload_lookup",
    runs: "payload_runs",
    key: "sha256",
    what: "payload-hash",
};

impl RunIndex {
    /// The lookup table's name.
    #[must_use]
    pub fn lookup_table(self) -> &'static str {
        self.lookup
    }

    /// The runs table's name.
    #[must_use]
    pub fn runs_table(self) -> &'static str {
        self.runs
    }

    /// The lookup table's hash column.
    #[must_use]
    pub fn key_column(self) -> &'static str {
        self.key
    }
}

/// How the runs are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunShape {
    /// How many runs of one level are merged into one (2 or more).
    pub fanout: u32,
    /// Runs of this level or higher (`fanout^final_level` entries or more) are never merged.
    pub final_level: u8,
}

impl Default for RunShape {
    /// Sixteen runs to a merge; runs of 4,096 entries or more are final.
    fn default() -> Self {
        Self {
            fanout: 16,
            final_level: 3,
        }
    }
}

impl RunShape {
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
    fn new(shape: RunShape, id: i64, size: u64) -> Self {
        Self {
            id,
            level: shape.level_of(size),
            size,
        }
    }
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// The sequencer's view of one lookup's runs that may still be merged, and the next run's id,
/// as its last committed append left them. Loaded again whenever another process may have
/// appended (a catch-up) or a transaction failed.
#[derive(Debug)]
pub(crate) struct Runs {
    index: RunIndex,
    shape: RunShape,
    next_id: i64,
    open: Vec<Run>,
}

impl Runs {
    /// Reads the open runs and the largest run id (inside the append transaction).
    pub(crate) async fn load(
        db: &impl ConnectionTrait,
        index: RunIndex,
        shape: RunShape,
    ) -> Result<Self, StoreError> {
        let backend = db.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT id, level, size FROM {} WHERE level < {}",
                    index.runs,
                    placeholder(backend, 1)
                ),
                [Value::from(i16::from(shape.final_level))],
            ))
            .await?;
        let open = rows
            .iter()
            .map(|r| {
                Ok(Run {
                    id: r.try_get("", "id")?,
                    level: r.try_get("", "level")?,
                    size: from_db(r.try_get("", "size")?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let max: Option<i64> = match db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT MAX(id) AS max FROM {}", index.runs),
            ))
            .await?
        {
            Some(r) => r.try_get("", "max")?,
            None => None,
        };
        Ok(Self {
            index,
            shape,
            next_id: max.unwrap_or(0) + 1,
            open,
        })
    }

    /// Adds one batch's rows (entry index, hash) as a new run, then merges while some level
    /// holds `fanout` runs.
    pub(crate) async fn append(
        &mut self,
        txn: &impl ConnectionTrait,
        rows: impl Iterator<Item = (u64, [u8; 32])>,
    ) -> Result<(), StoreError> {
        let mut rows: Vec<([u8; 32], u64)> = rows.map(|(i, h)| (h, i)).collect();
        if rows.is_empty() {
            return Ok(());
        }
        rows.sort_unstable();
        let id = self.take_id();
        self.insert(txn, id, &rows).await?;
        self.add(txn, Run::new(self.shape, id, rows.len() as u64))
            .await?;
        while let Some(level) = self.full_level() {
            self.merge(txn, level).await?;
        }
        Ok(())
    }

    /// Inserts one run's rows with multi-row INSERTs of the sizes `insert_chunks` gives (as
    /// `insert_rows` does for entities), so that the statement cache always hits.
    async fn insert(
        &self,
        txn: &impl ConnectionTrait,
        run: i64,
        rows: &[([u8; 32], u64)],
    ) -> Result<(), StoreError> {
        let mut rest = rows;
        for take in crate::sequencer::insert_chunks(rows.len(), crate::sequencer::INSERT_CHUNK) {
            let (chunk, after) = rest.split_at(take);
            rest = after;
            let mut q = Query::insert();
            q.into_table(Alias::new(self.index.lookup)).columns([
                Alias::new("run"),
                Alias::new(self.index.key),
                Alias::new("idx"),
            ]);
            for (hash, idx) in chunk {
                q.values([run.into(), hash.to_vec().into(), to_db(*idx)?.into()])
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            }
            txn.execute_raw(txn.get_database_backend().build(&q))
                .await?;
        }
        Ok(())
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    async fn add(&mut self, txn: &impl ConnectionTrait, run: Run) -> Result<(), StoreError> {
        let backend = txn.get_database_backend();
        let p = |n| placeholder(backend, n);
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO {} (id, level, size) VALUES ({}, {}, {})",
                self.index.runs,
                p(1),
                p(2),
                p(3)
            ),
            [
                Value::from(run.id),
                Value::from(run.level),
                Value::from(to_db(run.size)?),
            ],
        ))
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

    /// Merges every open run of `level` into one new run, sorted by hash.
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
        let RunIndex {
            lookup, runs, key, ..
        } = self.index;
        txn.execute_unprepared(&format!(
            "INSERT INTO {lookup} (run, {key}, idx) \
             SELECT {id}, {key}, idx FROM {lookup} WHERE run IN ({ids}) ORDER BY {key}, idx"
        ))
        .await?;
        txn.execute_unprepared(&format!("DELETE FROM {lookup} WHERE run IN ({ids})"))
            .await?;
        txn.execute_unprepared(&format!("DELETE FROM {runs} WHERE id IN ({ids})"))
            .await?;
        tracing::debug!(
            lookup = self.index.what,
            level,
            runs = merged.len(),
            size,
            "merged runs"
        );
        self.add(txn, Run::new(self.shape, id, size)).await
    }
}

/// The lookup: one seek of the lookup's key per run, for the lowest entry index with `hash`.
/// `CROSS JOIN` makes the runs the outer loop on SQLite whatever its statistics say;
/// PostgreSQL's plan is tested.
#[doc(hidden)]
#[must_use]
pub fn lookup_statement(backend: DbBackend, index: RunIndex, hash: &[u8; 32]) -> Statement {
    let RunIndex {
        lookup, runs, key, ..
    } = index;
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT MIN(l.idx) AS idx FROM {runs} r CROSS JOIN {lookup} l \
             WHERE l.run = r.id AND l.{key} = {}",
            placeholder(backend, 1)
        ),
        [hash.to_vec().into()],
    )
}

/// The lowest entry index the runs give for `hash`, if any (callers check the row's own hash).
pub(crate) async fn find(
    db: &impl ConnectionTrait,
    index: RunIndex,
    hash: &[u8; 32],
) -> Result<Option<u64>, StoreError> {
    let row = db
        .query_one_raw(lookup_statement(db.get_database_backend(), index, hash))
        .await?;
    let idx: Option<i64> = match row {
        Some(r) => r.try_get("", "idx")?,
        None => None,
    };
    idx.map(from_db).transpose()
}

/// Every entry index the runs give for `hash`, lowest first.
pub(crate) async fn find_all(
    db: &impl ConnectionTrait,
    index: RunIndex,
    hash: &[u8; 32],
) -> Result<Vec<u64>, StoreError> {
    let RunIndex {
        lookup, runs, key, ..
    } = index;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT l.idx AS idx FROM {runs} r CROSS JOIN {lookup} l \
                 WHERE l.run = r.id AND l.{key} = {} ORDER BY l.idx",
                placeholder(backend, 1)
            ),
            [hash.to_vec().into()],
        ))
        .await?;
    rows.iter()
        .map(|r| from_db(r.try_get("", "idx")?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_logarithms_capped_at_the_final_level() {
        let shape = RunShape::default();
        assert_eq!(shape.level_of(1), 0);
        assert_eq!(shape.level_of(15), 0);
        assert_eq!(shape.level_of(16), 1);
        assert_eq!(shape.level_of(255), 1);
        assert_eq!(shape.level_of(256), 2);
        assert_eq!(shape.level_of(4095), 2);
        assert_eq!(shape.level_of(4096), 3);
        assert_eq!(shape.level_of(1 << 40), 3);
        let two = RunShape {
            fanout: 2,
            final_level: 3,
        };
        assert_eq!(
            (1..=9).map(|n| two.level_of(n)).collect::<Vec<_>>(),
            [0, 1, 1, 2, 2, 2, 2, 3, 3]
        );
    }
}
