//! Lookups by leaf hash through sorted runs instead of a B-tree keyed by a random hash.
//!
//! `entries_leaf_hash` (migration 1) was the last index on the append path keyed by a random
//! value. Once it outgrew the page cache, every appended entry dirtied a page of it of its own,
//! written to the WAL and again when checkpointing: measured on 2026-12-06, dropping it alone
//! took SQLite from about 8,100 to 10,100 submissions a second.
//!
//! Its one use is a reader's question "which entry has this leaf hash?". It is answered now from
//! two derived tables, maintained by the sequencer in each append transaction:
//!
//! - `leaf_lookup (run, leaf_hash, idx)`, keyed by (run, leaf_hash): each batch's leaf hashes go
//!   in as one new run, in a key range of their own, so the insert fills a few fresh pages
//!   instead of touching one random page per entry;
//! - `leaf_runs (id, level, size)`: the runs. A run's level is the base-16 logarithm of its
//!   size; sixteen runs of one level are merged into one (size-tiered, as in an LSM tree), up to
//!   the final level (runs of 4,096 entries or more), whose runs are never merged again. So a
//!   lookup seeks once per run: a few dozen seeks at a million entries.
//!
//! Neither table is part of the ledger: both are derived from `entries.leaf_hash` (which stays)
//! and may be rebuilt from it, so a merge deletes the runs it replaces. Rows stored before this
//! migration go into one final run here (the unique index guaranteed one entry per leaf hash;
//! should two share one anyway, the lookup names the first, as a lookup does).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Creates `leaf_runs` and `leaf_lookup`, fills them, and drops `entries_leaf_hash`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The final level (runs of 16^3 = 4,096 entries or more are never merged), as in the store.
const FINAL_LEVEL: i32 = 3;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: lookups by leaf hash work before and after, never
    /// half-way.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TABLE leaf_runs (
                       id BIGINT NOT NULL PRIMARY KEY,
                       level SMALLINT NOT NULL,
                       size BIGINT NOT NULL);
                     CREATE TABLE leaf_lookup (
                       run BIGINT NOT NULL,
                       leaf_hash BYTEA NOT NULL,
                       idx BIGINT NOT NULL,
                       PRIMARY KEY (run, leaf_hash))",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                // Without a rowid the key is the table: one B-tree, each run a range of it.
                db.execute_unprepared(
                    "CREATE TABLE leaf_runs (
                       id INTEGER NOT NULL PRIMARY KEY,
                       level INTEGER NOT NULL,
                       size INTEGER NOT NULL)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TABLE leaf_lookup (
                       run INTEGER NOT NULL,
                       leaf_hash BLOB NOT NULL,
                       idx INTEGER NOT NULL,
                       PRIMARY KEY (run, leaf_hash)) WITHOUT ROWID",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "Insyn supports SQLite and PostgreSQL, not {other:?}"
                )));
            }
        }
        db.execute_unprepared(&format!(
            "INSERT INTO leaf_runs (id, level, size) \
             SELECT 1, {FINAL_LEVEL}, COUNT(DISTINCT leaf_hash) FROM entries HAVING COUNT(*) > 0"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO leaf_lookup (run, leaf_hash, idx) \
             SELECT 1, leaf_hash, MIN(idx) FROM entries GROUP BY leaf_hash ORDER BY leaf_hash",
        )
        .await?;
        db.execute_unprepared("DROP INDEX entries_leaf_hash")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("CREATE UNIQUE INDEX entries_leaf_hash ON entries (leaf_hash)")
            .await?;
        db.execute_unprepared("DROP TABLE leaf_lookup").await?;
        db.execute_unprepared("DROP TABLE leaf_runs").await?;
        Ok(())
    }
}
