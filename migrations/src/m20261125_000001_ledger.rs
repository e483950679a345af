//! The ledger's tables: entries, stored tree hashes, checkpoints, payloads and their reads, the
//! report index, cosignatures and the log's identity, plus the triggers that make them append-only.
//!
//! Conventions shared by every table here:
//! - Leaf indices, tree sizes and stored-hash indices are `BIGINT` (u64 values below 2⁶³).
//! - Times are `BIGINT` Unix milliseconds, the same unit the entry encoding uses for
//!   `integrated_at`, so both databases store and compare them identically.
//! - Hashes, keys and entry bytes are binary (`blob` on SQLite, `bytea` on PostgreSQL).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Creates the ledger schema.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Entries {
    Table,
    Idx,
    Entry,
    LeafHash,
    DedupeHash,
    Kind,
    Actor,
    KeyId,
    PayloadHash,
    IntegratedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StoredHashes {
    Table,
    Idx,
    Hash,
}

#[derive(DeriveIden, Clone, Copy)]
enum Checkpoints {
    Table,
    Size,
    Note,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payloads {
    Table,
    Sha256,
    Bytes,
    Size,
    StoredAt,
    ErasedAt,
    ErasedBy,
    ErasureReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum PayloadReads {
    Table,
    Id,
    PayloadHash,
    Reader,
    Role,
    ReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportIndex {
    Table,
    Idx,
    Municipality,
    ContractRef,
    Period,
    Provider,
    Kind,
    Supersedes,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cosignatures {
    Table,
    Witness,
    CheckpointSize,
    Signature,
    ReceivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LogMeta {
    Table,
    Id,
    Origin,
    VerifierKey,
    CreatedAt,
}

/// Tables whose rows are never updated nor deleted, by anyone. `payloads` is not in this list: it
/// allows exactly one kind of update, an erasure with a recorded tombstone (see below).
const APPEND_ONLY: [&str; 7] = [
    "entries",
    "stored_hashes",
    "checkpoints",
    "report_index",
    "payload_reads",
    "cosignatures",
    "log_meta",
];

/// A 64-bit integer primary key. On SQLite it is declared `integer` so that it becomes the table's
/// rowid (SQLite integers are 64-bit): one B-tree per table instead of two, which halves the write
/// work of the hot append path. On PostgreSQL it is a plain `bigint`.
fn index_key<T: IntoIden>(backend: DbBackend, name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::Sqlite => col.integer(),
        _ => col.big_integer(),
    };
    col.not_null().primary_key();
    col
}

fn blob<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.blob().not_null();
    col
}

fn blob_null<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.blob().null();
    col
}

fn bigint<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().not_null();
    col
}

fn text<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.text().not_null();
    col
}

fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.text().null();
    col
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .col(index_key(backend, Entries::Idx))
                    .col(blob(Entries::Entry))
                    .col(blob(Entries::LeafHash))
                    .col(blob(Entries::DedupeHash))
                    .col(ColumnDef::new(Entries::Kind).small_integer().not_null())
                    .col(text(Entries::Actor))
                    .col(blob(Entries::KeyId))
                    .col(blob_null(Entries::PayloadHash))
                    .col(bigint(Entries::IntegratedAt))
                    .to_owned(),
            )
            .await?;
        // Resubmission returns the existing receipt; the database guarantees there is only one.
        create_index(
            manager,
            "entries_dedupe_hash",
            Entries::Table,
            &[Entries::DedupeHash],
            true,
        )
        .await?;
        create_index(
            manager,
            "entries_leaf_hash",
            Entries::Table,
            &[Entries::LeafHash],
            true,
        )
        .await?;
        create_index(
            manager,
            "entries_kind_idx",
            Entries::Table,
            &[Entries::Kind, Entries::Idx],
            false,
        )
        .await?;
        create_index(
            manager,
            "entries_actor_idx",
            Entries::Table,
            &[Entries::Actor, Entries::Idx],
            false,
        )
        .await?;
        create_index(
            manager,
            "entries_payload_hash",
            Entries::Table,
            &[Entries::PayloadHash],
            false,
        )
        .await?;
        create_index(
            manager,
            "entries_integrated_at",
            Entries::Table,
            &[Entries::IntegratedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StoredHashes::Table)
                    .col(index_key(backend, StoredHashes::Idx))
                    .col(blob(StoredHashes::Hash))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Checkpoints::Table)
                    .col(index_key(backend, Checkpoints::Size))
                    .col(text(Checkpoints::Note))
                    .col(bigint(Checkpoints::CreatedAt))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "checkpoints_created_at",
            Checkpoints::Table,
            &[Checkpoints::CreatedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payloads::Table)
                    .col(
                        ColumnDef::new(Payloads::Sha256)
                            .blob()
                            .not_null()
                            .primary_key(),
                    )
                    .col(blob_null(Payloads::Bytes))
                    .col(bigint(Payloads::Size))
                    .col(bigint(Payloads::StoredAt))
                    .col(ColumnDef::new(Payloads::ErasedAt).big_integer().null())
                    .col(text_null(Payloads::ErasedBy))
                    .col(text_null(Payloads::ErasureReason))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PayloadReads::Table)
                    .col(
                        ColumnDef::new(PayloadReads::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(blob(PayloadReads::PayloadHash))
                    .col(text(PayloadReads::Reader))
                    .col(text(PayloadReads::Role))
                    .col(bigint(PayloadReads::ReadAt))
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "payload_reads_payload",
            PayloadReads::Table,
            &[PayloadReads::PayloadHash, PayloadReads::Id],
            false,
        )
        .await?;
        create_index(
            manager,
            "payload_reads_reader",
            PayloadReads::Table,
            &[PayloadReads::Reader, PayloadReads::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReportIndex::Table)
                    .col(index_key(backend, ReportIndex::Idx))
                    .col(text(ReportIndex::Municipality))
                    .col(text(ReportIndex::ContractRef))
                    .col(text(ReportIndex::Period))
                    .col(text(ReportIndex::Provider))
                    .col(ColumnDef::new(ReportIndex::Kind).small_integer().not_null())
                    .col(ColumnDef::new(ReportIndex::Supersedes).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("report_index_entry")
                            .from(ReportIndex::Table, ReportIndex::Idx)
                            .to(Entries::Table, Entries::Idx),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("report_index_supersedes")
                            .from(ReportIndex::Table, ReportIndex::Supersedes)
                            .to(ReportIndex::Table, ReportIndex::Idx),
                    )
                    .to_owned(),
            )
            .await?;
        // The database itself backs "one original report per contract and period": a second
        // report for the same period can only enter the log as a correction (supersedes set).
        manager
            .create_index(
                Index::create()
                    .name("report_index_one_original_per_period")
                    .table(ReportIndex::Table)
                    .col(ReportIndex::Municipality)
                    .col(ReportIndex::ContractRef)
                    .col(ReportIndex::Period)
                    .unique()
                    .and_where(Expr::col(ReportIndex::Supersedes).is_null())
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "report_index_contract",
            ReportIndex::Table,
            &[
                ReportIndex::Municipality,
                ReportIndex::ContractRef,
                ReportIndex::Period,
                ReportIndex::Idx,
            ],
            false,
        )
        .await?;
        create_index(
            manager,
            "report_index_municipality",
            ReportIndex::Table,
            &[
                ReportIndex::Municipality,
                ReportIndex::Period,
                ReportIndex::Idx,
            ],
            false,
        )
        .await?;
        create_index(
            manager,
            "report_index_provider",
            ReportIndex::Table,
            &[ReportIndex::Provider, ReportIndex::Period, ReportIndex::Idx],
            false,
        )
        .await?;
        create_index(
            manager,
            "report_index_period",
            ReportIndex::Table,
            &[ReportIndex::Period, ReportIndex::Idx],
            false,
        )
        .await?;
        create_index(
            manager,
            "report_index_supersedes",
            ReportIndex::Table,
            &[ReportIndex::Supersedes],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Cosignatures::Table)
                    .col(text(Cosignatures::Witness))
                    .col(bigint(Cosignatures::CheckpointSize))
                    .col(text(Cosignatures::Signature))
                    .col(bigint(Cosignatures::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(Cosignatures::Witness)
                            .col(Cosignatures::CheckpointSize),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("cosignatures_checkpoint")
                            .from(Cosignatures::Table, Cosignatures::CheckpointSize)
                            .to(Checkpoints::Table, Checkpoints::Size),
                    )
                    .to_owned(),
            )
            .await?;
        create_index(
            manager,
            "cosignatures_size",
            Cosignatures::Table,
            &[Cosignatures::CheckpointSize],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(LogMeta::Table)
                    .col(
                        ColumnDef::new(LogMeta::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(LogMeta::Id).eq(1)),
                    )
                    .col(text(LogMeta::Origin))
                    .col(text(LogMeta::VerifierKey))
                    .col(bigint(LogMeta::CreatedAt))
                    .to_owned(),
            )
            .await?;

        create_triggers(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The ledger is evidence: there is deliberately no way to migrate it away.
        Err(DbErr::Migration(
            "the ledger schema cannot be rolled back: ledger tables are append-only".to_owned(),
        ))
    }

    fn use_transaction(&self) -> Option<bool> {
        // All or nothing on both databases: a half-created schema must never be left behind.
        Some(true)
    }
}

async fn create_index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

/// Installs the triggers that refuse UPDATE and DELETE (and on PostgreSQL TRUNCATE) on ledger
/// tables, and the trigger that allows a payload to change only by being erased with a tombstone.
///
/// Every refusal message contains `is append-only` (see `APPEND_ONLY_MESSAGE` in the crate root).
async fn create_triggers(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_unprepared(
                "CREATE FUNCTION insyn_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   RAISE EXCEPTION 'insyn: % is append-only: % refused', TG_TABLE_NAME, TG_OP
                     USING ERRCODE = 'integrity_constraint_violation';
                 END $$",
            )
            .await?;
            for table in APPEND_ONLY {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION insyn_refuse_change();
                     CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                       FOR EACH STATEMENT EXECUTE FUNCTION insyn_refuse_change();"
                ))
                .await?;
            }
            db.execute_unprepared(
                "CREATE FUNCTION insyn_payload_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF TG_OP = 'UPDATE'
                      AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
                      AND NEW.bytes IS NULL AND NEW.erased_by IS NOT NULL
                      AND NEW.erasure_reason IS NOT NULL
                      AND NEW.sha256 = OLD.sha256 AND NEW.size = OLD.size
                      AND NEW.stored_at = OLD.stored_at THEN
                     RETURN NEW;
                   END IF;
                   RAISE EXCEPTION 'insyn: payloads is append-only: % refused (the only change allowed is an erasure with a recorded tombstone)', TG_OP
                     USING ERRCODE = 'integrity_constraint_violation';
                 END $$;
                 CREATE TRIGGER payloads_erasure_only BEFORE UPDATE OR DELETE ON payloads
                   FOR EACH ROW EXECUTE FUNCTION insyn_payload_erasure_only();
                 CREATE TRIGGER payloads_no_truncate BEFORE TRUNCATE ON payloads
                   FOR EACH STATEMENT EXECUTE FUNCTION insyn_refuse_change();",
            )
            .await?;
        }
        DbBackend::Sqlite => {
            for table in APPEND_ONLY {
                for op in ["UPDATE", "DELETE"] {
                    let lower = op.to_ascii_lowercase();
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_no_{lower} BEFORE {op} ON {table}
                         BEGIN SELECT RAISE(ABORT, 'insyn: {table} is append-only: {op} refused'); END"
                    ))
                    .await?;
                }
            }
            // `IS` is SQLite's null-safe comparison, so a NULL can never slip a change through.
            db.execute_unprepared(
                "CREATE TRIGGER payloads_no_delete BEFORE DELETE ON payloads
                 BEGIN SELECT RAISE(ABORT, 'insyn: payloads is append-only: DELETE refused (the only change allowed is an erasure with a recorded tombstone)'); END",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER payloads_erasure_only BEFORE UPDATE ON payloads
                 WHEN NOT (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
                           AND NEW.bytes IS NULL AND NEW.erased_by IS NOT NULL
                           AND NEW.erasure_reason IS NOT NULL
                           AND NEW.sha256 IS OLD.sha256 AND NEW.size IS OLD.size
                           AND NEW.stored_at IS OLD.stored_at)
                 BEGIN SELECT RAISE(ABORT, 'insyn: payloads is append-only: UPDATE refused (the only change allowed is an erasure with a recorded tombstone)'); END",
            )
            .await?;
        }
        other => {
            return Err(DbErr::Migration(format!(
                "Insyn supports SQLite and PostgreSQL, not {other:?}"
            )));
        }
    }
    Ok(())
}
