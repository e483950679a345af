//! The portal's integration tests: the real router over a real SQLite database made by the real
//! migrations, one fresh database per test; plus the browser test in headless Chromium.

mod access_log;
mod browser;
mod data;
mod helpers;
mod ledger;
mod pages;
mod sessions;
mod verification;
