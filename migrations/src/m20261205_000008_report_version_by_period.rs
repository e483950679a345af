//! The report version index in the order reports arrive: period before contract.
//!
//! `report_index_version` (migration 6) was keyed by (municipality, contract, period, version).
//! Reports arrive month by month: after a month ends, every contract's report for that month
//! comes in, in no particular order of contracts. With the contract second in the key, each
//! appended report went to its own contract's corner of the index, so once the index outgrew the
//! page cache every report dirtied a page of its own, which SQLite writes to the write-ahead log
//! and again when checkpointing. Keyed by (municipality, period, contract, version), a month's
//! reports of one municipality go into one narrow range of the index (its current month), a few
//! pages however long the log grows.
//!
//! The index keeps its name and its rules: one original per contract and period, one correction
//! per version. Every lookup of a report by contract and period still names all three columns.
//! Reads of one contract over a window of months now read the municipality's index entries for
//! those months and keep the contract's (from the index alone, without the table).

use sea_orm_migration::prelude::*;

/// Re-keys `report_index_version` as described above.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: the index is replaced or not at all, and no statement
    /// ever runs without the uniqueness rule it carries.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX report_index_version")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX report_index_version ON report_index \
             (municipality, period, contract_ref, COALESCE(supersedes, -1))",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX report_index_version")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX report_index_version ON report_index \
             (municipality, contract_ref, period, COALESCE(supersedes, -1))",
        )
        .await?;
        Ok(())
    }
}
