//! The store's integration tests: every test runs on SQLite and, when `INSYN_TEST_DATABASE_URL`
//! is set, on PostgreSQL too (see `harness.rs`), always through the real migrations.

mod fixtures;
mod harness;
mod known_reports;
mod overview;
mod reads;
mod schema;
mod sequencer;
mod wal;
