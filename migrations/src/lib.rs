//! Insyn's database schema as sea-orm migrations, shared by SQLite and PostgreSQL.
//!
//! The same migration code runs on both databases: tables and indices go through sea-query, and the
//! only raw SQL is what sea-query cannot express (the triggers that make ledger tables append-only,
//! expression indexes, and data backfills).
//! Every test in `insyn-store` runs these real migrations; no schema is ever built from entities.
//!
//! Architecture invariant: a migration, once committed to `main`, is never edited. Changes are new
//! migrations appended to [`Migrator::migrations`].

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261125_000001_ledger;
mod m20261125_000002_accounts;
mod m20261125_000003_api_credentials;
mod m20261201_000004_full_tiles;
mod m20261202_000005_report_figures;
mod m20261203_000006_report_version_key;
mod m20261204_000007_payload_carriers;
mod m20261205_000008_report_version_by_period;
mod m20261206_000009_leaf_hash_runs;
mod m20261206_000010_payloads_by_entry;

/// The list of Insyn's migrations, in the order they run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_ledger::Migration),
            Box::new(m20261125_000002_accounts::Migration),
            Box::new(m20261125_000003_api_credentials::Migration),
            Box::new(m20261201_000004_full_tiles::Migration),
            Box::new(m20261202_000005_report_figures::Migration),
            Box::new(m20261203_000006_report_version_key::Migration),
            Box::new(m20261204_000007_payload_carriers::Migration),
            Box::new(m20261205_000008_report_version_by_period::Migration),
            Box::new(m20261206_000009_leaf_hash_runs::Migration),
            Box::new(m20261206_000010_payloads_by_entry::Migration),
        ]
    }
}

/// The message fragment every append-only refusal carries, on both databases, so callers and tests
/// can recognise the refusal whatever the driver's error wrapping looks like.
pub const APPEND_ONLY_MESSAGE: &str = "is append-only";
