//! Insyn's shared business rules, written once and used by the API, the portal, the command line
//! and the inspector's verifier: the activity-report schema, the ledger's registration and
//! reporting rules, reporting status, access policy and the synthetic demo dataset.
//!
//! No I/O, no async, no HTTP, no SQL: every function here takes values and returns values.

pub mod access;
pub mod calendar;
pub mod demo;
pub mod report;
pub mod rules;
pub mod status;
