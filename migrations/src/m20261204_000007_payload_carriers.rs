//! One index on a payload's hash instead of two: the append path's write cost.
//!
//! Two indexes were keyed by the same random value, the payload's SHA-256: the payloads' own key
//! and `entries_payload_hash` (which entries name a payload: payload-read authorisation, erasure,
//! the read log). Each cost every appended report a page of its own once the log outgrew the page
//! cache, written to the WAL and again when checkpointing (measured on 2026-12-04: about 100 of
//! the 550 WAL frames of a 100-report commit).
//!
//! The relation is kept without `entries_payload_hash`:
//!
//! - `payloads.first_idx`: the entry whose submission stored the bytes (almost always the only
//!   entry that names them), found through the payloads' key;
//! - `payload_carriers`: every other entry that names a payload (the same bytes named again, or a
//!   statement naming a payload it did not bring), keyed by the entry, with an index on the
//!   hash. Rare, so its index costs the append path almost nothing.
//!
//! The entries that name a payload are `first_idx` and the carriers (see the store's
//! `entries_naming`). `first_idx` never changes: the erasure trigger now also keeps it, and
//! `payload_carriers` is append-only like the rest of the ledger. Rows stored before this
//! migration get their `first_idx` (the lowest entry naming the payload) and their carriers here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Adds `payloads.first_idx` and `payload_carriers`, and drops `entries_payload_hash`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The erasure rule of `payloads` on PostgreSQL, with or without `first_idx` among the columns an
/// erasure must leave alone.
fn pg_erasure_function(with_first_idx: bool) -> String {
    let keep = if with_first_idx {
        "AND NEW.first_idx IS NOT DISTINCT FROM OLD.first_idx"
    } else {
        ""
    };
    format!(
        "CREATE OR REPLACE FUNCTION insyn_payload_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF TG_OP = 'UPDATE'
              AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
              AND NEW.bytes IS NULL AND NEW.erased_by IS NOT NULL
              AND NEW.erasure_reason IS NOT NULL
              AND NEW.sha256 = OLD.sha256 AND NEW.size = OLD.size
              AND NEW.stored_at = OLD.stored_at {keep} THEN
             RETURN NEW;
           END IF;
           RAISE EXCEPTION 'insyn: payloads is append-only: % refused (the only change allowed is an erasure with a recorded tombstone)', TG_OP
             USING ERRCODE = 'integrity_constraint_violation';
         END $$"
    )
}

/// The erasure rule of `payloads` on SQLite (`IS` is the null-safe comparison).
fn sqlite_erasure_trigger(with_first_idx: bool) -> String {
    let keep = if with_first_idx {
        "AND NEW.first_idx IS OLD.first_idx"
    } else {
        ""
    };
    format!(
        "CREATE TRIGGER payloads_erasure_only BEFORE UPDATE ON payloads
         WHEN NOT (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
                   AND NEW.bytes IS NULL AND NEW.erased_by IS NOT NULL
                   AND NEW.erasure_reason IS NOT NULL
                   AND NEW.sha256 IS OLD.sha256 AND NEW.size IS OLD.size
                   AND NEW.stored_at IS OLD.stored_at {keep})
         BEGIN SELECT RAISE(ABORT, 'insyn: payloads is append-only: UPDATE refused (the only change allowed is an erasure with a recorded tombstone)'); END"
    )
}

const BACKFILL_FIRST: &str = "UPDATE payloads SET first_idx = \
     (SELECT MIN(e.idx) FROM entries e WHERE e.payload_hash = payloads.sha256)";

const BACKFILL_CARRIERS: &str = "INSERT INTO payload_carriers (idx, payload_hash) \
     SELECT e.idx, e.payload_hash FROM entries e \
     WHERE e.payload_hash IS NOT NULL AND NOT EXISTS \
       (SELECT 1 FROM payloads p WHERE p.sha256 = e.payload_hash AND p.first_idx = e.idx)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases, as in the report-version migration: the trigger is
    /// briefly replaced for the backfill, and nothing else may see the table meanwhile.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE payloads ADD COLUMN first_idx BIGINT")
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE payloads DISABLE TRIGGER payloads_erasure_only")
                    .await?;
                db.execute_unprepared(BACKFILL_FIRST).await?;
                db.execute_unprepared("ALTER TABLE payloads ENABLE TRIGGER payloads_erasure_only")
                    .await?;
                db.execute_unprepared(&pg_erasure_function(true)).await?;
                db.execute_unprepared(
                    "CREATE TABLE payload_carriers (
                       idx BIGINT NOT NULL PRIMARY KEY REFERENCES entries (idx),
                       payload_hash BYTEA NOT NULL);
                     CREATE TRIGGER payload_carriers_append_only BEFORE UPDATE OR DELETE ON payload_carriers
                       FOR EACH ROW EXECUTE FUNCTION insyn_refuse_change();
                     CREATE TRIGGER payload_carriers_no_truncate BEFORE TRUNCATE ON payload_carriers
                       FOR EACH STATEMENT EXECUTE FUNCTION insyn_refuse_change();",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                db.execute_unprepared("DROP TRIGGER payloads_erasure_only")
                    .await?;
                db.execute_unprepared(BACKFILL_FIRST).await?;
                db.execute_unprepared(&sqlite_erasure_trigger(true)).await?;
                // `integer` makes the key the table's rowid, as for the other ledger tables.
                db.execute_unprepared(
                    "CREATE TABLE payload_carriers (
                       idx INTEGER NOT NULL PRIMARY KEY REFERENCES entries (idx),
                       payload_hash BLOB NOT NULL)",
                )
                .await?;
                for op in ["UPDATE", "DELETE"] {
                    let lower = op.to_ascii_lowercase();
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER payload_carriers_no_{lower} BEFORE {op} ON payload_carriers
                         BEGIN SELECT RAISE(ABORT, 'insyn: payload_carriers is append-only: {op} refused'); END"
                    ))
                    .await?;
                }
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "Insyn supports SQLite and PostgreSQL, not {other:?}"
                )));
            }
        }
        db.execute_unprepared(
            "CREATE INDEX payload_carriers_hash ON payload_carriers (payload_hash, idx)",
        )
        .await?;
        // Uses `entries_payload_hash`, dropped only afterwards.
        db.execute_unprepared(BACKFILL_CARRIERS).await?;
        db.execute_unprepared("DROP INDEX entries_payload_hash")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("CREATE INDEX entries_payload_hash ON entries (payload_hash)")
            .await?;
        db.execute_unprepared("DROP TABLE payload_carriers").await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&pg_erasure_function(false)).await?;
            }
            DbBackend::Sqlite => {
                // SQLite refuses to drop a column a trigger names.
                db.execute_unprepared("DROP TRIGGER payloads_erasure_only")
                    .await?;
                db.execute_unprepared(&sqlite_erasure_trigger(false))
                    .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "Insyn supports SQLite and PostgreSQL, not {other:?}"
                )));
            }
        }
        db.execute_unprepared("ALTER TABLE payloads DROP COLUMN first_idx")
            .await?;
        Ok(())
    }
}
