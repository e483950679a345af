//! Full tiles at rest: the bytes of every full C2SP tile (hash tiles of every level and entry
//! bundles), written by the sequencer in the append transaction that completes the tile.
//!
//! A full tile never changes, so serving it is one row read instead of rebuilding it from 256
//! entries or stored hashes. The table is append-only like the rest of the ledger. Logs written
//! before this migration have no rows for their older tiles; those are built from their rows as
//! before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Creates `full_tiles` and its append-only triggers.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum FullTiles {
    Table,
    Path,
    Data,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FullTiles::Table)
                    .col(
                        ColumnDef::new(FullTiles::Path)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(FullTiles::Data).blob().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                // `insyn_refuse_change` comes from the first migration.
                db.execute_unprepared(
                    "CREATE TRIGGER full_tiles_append_only BEFORE UPDATE OR DELETE ON full_tiles
                       FOR EACH ROW EXECUTE FUNCTION insyn_refuse_change();
                     CREATE TRIGGER full_tiles_no_truncate BEFORE TRUNCATE ON full_tiles
                       FOR EACH STATEMENT EXECUTE FUNCTION insyn_refuse_change();",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                for op in ["UPDATE", "DELETE"] {
                    let lower = op.to_ascii_lowercase();
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER full_tiles_no_{lower} BEFORE {op} ON full_tiles
                         BEGIN SELECT RAISE(ABORT, 'insyn: full_tiles is append-only: {op} refused'); END"
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FullTiles::Table).to_owned())
            .await
    }
}
