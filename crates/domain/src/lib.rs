//! Insyn's shared business rules, written once and used by the API, the portal, the command line
//! and the inspector's verifier.
//!
//! No I/O, no async, no HTTP, no SQL: every function here takes values and returns values.
//!
//! | module | owns |
//! |---|---|
//! | [`report`] | the activity report schema v1: types, published JSON Schema, [`report::validate_report`] listing every problem |
//! | [`rules`] | the ledger's business rules ([`rules::Registry`]) and, with the ledger's key history, [`rules::LedgerState`]: one `admit` per submission |
//! | [`status`] | reporting status per period (on time, late, missing, corrected, reviewed), budget pro-rating, anomaly flags |
//! | [`access`] | who may read and do what ([`access::Role`]) |
//! | [`aggregate`] | sums over reports, and the public version with small counts hidden |
//! | [`calendar`] | Swedish time: period starts and report deadlines (CET/CEST) |
//! | [`demo`] | the deterministic synthetic history behind `insyn serve --demo` |

pub mod access;
pub mod aggregate;
pub mod calendar;
pub mod demo;
pub mod report;
pub mod rules;
pub mod status;
