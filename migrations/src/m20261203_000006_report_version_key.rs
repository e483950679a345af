//! One index per report version instead of three: the append path's write cost.
//!
//! Every index whose key is random (a hash, or a contract among thousands) costs each appended
//! report a page of its own once the log outgrows the page cache: SQLite writes that page to the
//! write-ahead log and again when checkpointing, and the commit waits for both. A report used to
//! dirty three such pages for its identity alone:
//!
//! - `report_index_one_original_per_period`, unique on (municipality, contract, period) over the
//!   originals;
//! - `report_index_contract`, on (municipality, contract, period, leaf) over every version;
//! - `entries_dedupe_hash`, unique on SHA-256(statement ‖ signature), which finds a resubmission.
//!
//! They are replaced by one unique index, `report_index_version`, on (municipality, contract,
//! period, the leaf the version supersedes or -1 for the original). It still refuses a second
//! original for a period, it also refuses two corrections of the same version (the policy only
//! ever lets a correction supersede the latest version, so no log holds two), it answers every
//! query by contract and period, and it identifies a report version exactly, so it is how the
//! sequencer finds a resubmitted report or correction. `entries_dedupe_hash` keeps its
//! uniqueness for every other kind of entry, as a partial index without the reports
//! (`ReportSubmitted` = 6, `ReportCorrected` = 7).

use sea_orm_migration::prelude::*;

/// Replaces the report and dedupe indexes as described above.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The entry kind codes of reports and corrections (`insyn_ledger::entry::Kind`).
const REPORT_KINDS: &str = "(6, 7)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: the indexes change together or not at all, and every
    /// statement runs on the same connection (on SQLite, another connection of the pool could
    /// still hold the schema from before a `DROP INDEX`, and refuse the index that replaces it).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX report_index_version ON report_index \
             (municipality, contract_ref, period, COALESCE(supersedes, -1))",
        )
        .await?;
        db.execute_unprepared("DROP INDEX report_index_one_original_per_period")
            .await?;
        db.execute_unprepared("DROP INDEX report_index_contract")
            .await?;
        db.execute_unprepared("DROP INDEX entries_dedupe_hash")
            .await?;
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX entries_dedupe_hash ON entries (dedupe_hash) \
             WHERE kind NOT IN {REPORT_KINDS}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX entries_dedupe_hash")
            .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX entries_dedupe_hash ON entries (dedupe_hash)")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX report_index_contract ON report_index \
             (municipality, contract_ref, period, idx)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX report_index_one_original_per_period ON report_index \
             (municipality, contract_ref, period) WHERE supersedes IS NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX report_index_version")
            .await?;
        Ok(())
    }
}
