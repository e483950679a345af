//! Payloads stored by the entry that brought them, found by hash through sorted runs.
//!
//! `payloads` was keyed by the payload's SHA-256, the last key on the append path whose value is
//! random: once its index outgrew the page cache, every appended report dirtied a page of it of
//! its own, written to the WAL and again when checkpointing, and the append path read it to ask
//! "are these bytes already stored?" (measured on 2026-12-06: dropping it took SQLite from about
//! 10,100 to 11,300 submissions a second, and it is why the rate fell as the log grew).
//!
//! Now:
//!
//! - `payloads` is keyed by `idx`, the entry whose submission brought the bytes: appended rows go
//!   at the end of the table. Every entry that brings bytes stores its own copy; the same bytes
//!   named by two entries are two rows with one hash (rare: each report's payload is its own).
//!   The sequencer does not store bytes of a payload that has been erased (an entry naming it is
//!   a carrier, as is an entry naming a payload without bringing it), found through
//!   `payloads_erased`, a partial index that holds erased rows only, so appends never write it.
//! - `payload_lookup (run, sha256, idx)` and `payload_runs (id, level, size)`: the hash lookup,
//!   log-structured exactly as the leaf-hash lookup of migration 9, maintained by the sequencer
//!   in each append transaction. Derived from `payloads`, not part of the ledger.
//!
//! The erasure rule is unchanged (an erasure with a complete tombstone is the only update), and
//! now also keeps `idx`. The rows move to the new table unchanged, each under its `first_idx`;
//! a row without one (no entry names it; the sequencer never writes one) stops the migration.
//! Down keeps one row per hash (the lowest entry's) and makes the other copies' entries
//! carriers, as migration 7 defines them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Rebuilds `payloads` keyed by entry, and creates `payload_runs` and `payload_lookup`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The final level of the runs (16^3 = 4,096 entries or more are never merged), as in the store.
const FINAL_LEVEL: i32 = 3;

const APPEND_ONLY: &str = "'insyn: payloads is append-only: % refused (the only change allowed is an erasure with a recorded tombstone)'";

/// The erasure rule on PostgreSQL; `keep` names the column that says whose payload it is.
fn pg_erasure_rule(keep: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION insyn_payload_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF TG_OP = 'UPDATE'
              AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
              AND NEW.bytes IS NULL AND NEW.erased_by IS NOT NULL
              AND NEW.erasure_reason IS NOT NULL
              AND NEW.sha256 = OLD.sha256 AND NEW.size = OLD.size
              AND NEW.stored_at = OLD.stored_at
              AND NEW.{keep} IS NOT DISTINCT FROM OLD.{keep} THEN
             RETURN NEW;
           END IF;
           RAISE EXCEPTION {APPEND_ONLY}, TG_OP
             USING ERRCODE = 'integrity_constraint_violation';
         END $$;
         CREATE TRIGGER payloads_erasure_only BEFORE UPDATE OR DELETE ON payloads
           FOR EACH ROW EXECUTE FUNCTION insyn_payload_erasure_only();
         CREATE TRIGGER payloads_no_truncate BEFORE TRUNCATE ON payloads
           FOR EACH STATEMENT EXECUTE FUNCTION insyn_refuse_change();"
    )
}

/// The erasure rule on SQLite (`IS` is the null-safe comparison).
fn sqlite_erasure_rule(keep: &str) -> [String; 2] {
    [
        "CREATE TRIGGER payloads_no_delete BEFORE DELETE ON payloads
         BEGIN SELECT RAISE(ABORT, 'insyn: payloads is append-only: DELETE refused (the only change allowed is an erasure with a recorded tombstone)'); END"
            .to_owned(),
        format!(
            "CREATE TRIGGER payloads_erasure_only BEFORE UPDATE ON payloads
             WHEN NOT (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
                       AND NEW.bytes IS NULL AND NEW.erased_by IS NOT NULL
                       AND NEW.erasure_reason IS NOT NULL
                       AND NEW.sha256 IS OLD.sha256 AND NEW.size IS OLD.size
                       AND NEW.stored_at IS OLD.stored_at AND NEW.{keep} IS OLD.{keep})
             BEGIN SELECT RAISE(ABORT, 'insyn: payloads is append-only: UPDATE refused (the only change allowed is an erasure with a recorded tombstone)'); END"
        ),
    ]
}

/// The payload table, keyed by entry (`by_entry`) or, as before this migration, by hash.
fn payload_table(backend: DbBackend, name: &str, by_entry: bool) -> String {
    let (int, key_int, bin) = match backend {
        DbBackend::Postgres => ("BIGINT", "BIGINT", "BYTEA"),
        // `INTEGER` makes the key the table's rowid: one B-tree, appended at its end.
        _ => ("BIGINT", "INTEGER", "BLOB"),
    };
    let keys = if by_entry {
        format!("idx {key_int} NOT NULL PRIMARY KEY, sha256 {bin} NOT NULL,")
    } else {
        format!("sha256 {bin} NOT NULL PRIMARY KEY,")
    };
    let first = if by_entry {
        String::new()
    } else {
        format!(", first_idx {int}")
    };
    format!(
        "CREATE TABLE {name} ({keys}
           bytes {bin}, size {int} NOT NULL, stored_at {int} NOT NULL,
           erased_at {int}, erased_by TEXT, erasure_reason TEXT{first})"
    )
}

fn unsupported(other: DbBackend) -> DbErr {
    DbErr::Migration(format!(
        "Insyn supports SQLite and PostgreSQL, not {other:?}"
    ))
}

/// Replaces `payloads` by the table built in `replacement` and puts the erasure rule on it.
async fn swap_in(
    db: &SchemaManagerConnection<'_>,
    backend: DbBackend,
    replacement: &str,
    keep: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared("DROP TABLE payloads").await?;
    db.execute_unprepared(&format!("ALTER TABLE {replacement} RENAME TO payloads"))
        .await?;
    match backend {
        DbBackend::Postgres => {
            db.execute_unprepared(&pg_erasure_rule(keep)).await?;
        }
        DbBackend::Sqlite => {
            for sql in sqlite_erasure_rule(keep) {
                db.execute_unprepared(&sql).await?;
            }
        }
        other => return Err(unsupported(other)),
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: payloads are found before and after, never half-way.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let orphans = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM payloads WHERE first_idx IS NULL",
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if orphans > 0 {
            return Err(DbErr::Migration(format!(
                "{orphans} stored payload(s) are named by no entry (payloads.first_idx is empty); \
                 Insyn never writes such a row. Find out where they came from before migrating: \
                 this migration keys payloads by the entry that stored them and will not drop any"
            )));
        }
        db.execute_unprepared(&payload_table(backend, "payloads_by_entry", true))
            .await?;
        db.execute_unprepared(
            "INSERT INTO payloads_by_entry \
               (idx, sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason) \
             SELECT first_idx, sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason \
             FROM payloads ORDER BY first_idx",
        )
        .await?;
        swap_in(db, backend, "payloads_by_entry", "idx").await?;
        db.execute_unprepared(
            "CREATE INDEX payloads_erased ON payloads (sha256) WHERE erased_at IS NOT NULL",
        )
        .await?;
        match backend {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TABLE payload_runs (
                       id BIGINT NOT NULL PRIMARY KEY,
                       level SMALLINT NOT NULL,
                       size BIGINT NOT NULL);
                     CREATE TABLE payload_lookup (
                       run BIGINT NOT NULL,
                       sha256 BYTEA NOT NULL,
                       idx BIGINT NOT NULL,
                       PRIMARY KEY (run, sha256, idx))",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE TABLE payload_runs (
                       id INTEGER NOT NULL PRIMARY KEY,
                       level INTEGER NOT NULL,
                       size INTEGER NOT NULL)",
                )
                .await?;
                // Without a rowid the key is the table: one B-tree, each run a range of it.
                db.execute_unprepared(
                    "CREATE TABLE payload_lookup (
                       run INTEGER NOT NULL,
                       sha256 BLOB NOT NULL,
                       idx INTEGER NOT NULL,
                       PRIMARY KEY (run, sha256, idx)) WITHOUT ROWID",
                )
                .await?;
            }
            other => return Err(unsupported(other)),
        }
        db.execute_unprepared(&format!(
            "INSERT INTO payload_runs (id, level, size) \
             SELECT 1, {FINAL_LEVEL}, COUNT(*) FROM payloads HAVING COUNT(*) > 0"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO payload_lookup (run, sha256, idx) \
             SELECT 1, sha256, idx FROM payloads ORDER BY sha256, idx",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared("DROP TABLE payload_lookup").await?;
        db.execute_unprepared("DROP TABLE payload_runs").await?;
        db.execute_unprepared(&payload_table(backend, "payloads_by_hash", false))
            .await?;
        // The lowest entry's copy of each payload; the others' entries become carriers.
        db.execute_unprepared(
            "INSERT INTO payloads_by_hash \
               (sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason, first_idx) \
             SELECT sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason, idx \
             FROM payloads p WHERE p.idx = (SELECT MIN(q.idx) FROM payloads q WHERE q.sha256 = p.sha256)",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO payload_carriers (idx, payload_hash) \
             SELECT idx, sha256 FROM payloads p \
             WHERE p.idx > (SELECT MIN(q.idx) FROM payloads q WHERE q.sha256 = p.sha256)",
        )
        .await?;
        swap_in(db, backend, "payloads_by_hash", "first_idx").await
    }
}
