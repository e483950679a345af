//! The two figures of each report that the overview's charts sum: costs invoiced (SEK) and active
//! participants, by the report's leaf index, written by the sequencer in the append transaction
//! that integrates the report.
//!
//! Charting a municipality's year would otherwise read and parse every report of it (37,000
//! payloads for one municipality on a million-entry log). The table is derived from the payloads,
//! not part of the ledger: erasing a payload deletes its figures too, so it carries no
//! append-only trigger. Reports integrated before this migration get their figures here, from
//! their stored payloads (none for an erased payload).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Creates `report_figures` and fills it from the reports already stored.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ReportFigures {
    Table,
    Idx,
    InvoicedSek,
    Active,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReportFigures::Table)
                    .col(
                        ColumnDef::new(ReportFigures::Idx)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReportFigures::InvoicedSek)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ReportFigures::Active)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Every stored report payload passed the report schema when it was admitted, so it is
        // UTF-8 JSON with both fields; a row without them is left out rather than guessed.
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "INSERT INTO report_figures (idx, invoiced_sek, active)
                 SELECT idx, invoiced, active FROM (
                   SELECT r.idx,
                          (parsed.j #>> '{costs_sek,total_invoiced}')::bigint AS invoiced,
                          (parsed.j #>> '{caseload,active}')::bigint AS active
                   FROM report_index r
                   JOIN entries e ON e.idx = r.idx
                   JOIN payloads p ON p.sha256 = e.payload_hash,
                   LATERAL (SELECT convert_from(p.bytes, 'UTF8')::jsonb AS j) AS parsed
                   WHERE p.bytes IS NOT NULL
                 ) AS f
                 WHERE invoiced IS NOT NULL AND active IS NOT NULL"
            }
            DbBackend::Sqlite => {
                "INSERT INTO report_figures (idx, invoiced_sek, active)
                 SELECT idx, invoiced, active FROM (
                   SELECT r.idx,
                          CAST(json_extract(CAST(p.bytes AS TEXT), '$.costs_sek.total_invoiced') AS INTEGER) AS invoiced,
                          CAST(json_extract(CAST(p.bytes AS TEXT), '$.caseload.active') AS INTEGER) AS active
                   FROM report_index r
                   JOIN entries e ON e.idx = r.idx
                   JOIN payloads p ON p.sha256 = e.payload_hash
                   WHERE p.bytes IS NOT NULL AND json_valid(CAST(p.bytes AS TEXT))
                 )
                 WHERE invoiced IS NOT NULL AND active IS NOT NULL"
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "Insyn supports SQLite and PostgreSQL, not {other:?}"
                )));
            }
        };
        manager
            .get_connection()
            .execute_unprepared(backfill)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReportFigures::Table).to_owned())
            .await
    }
}
