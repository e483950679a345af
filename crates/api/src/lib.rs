//! Insyn's HTTP API for providers and inspectors: submissions, proofs, payloads and the C2SP
//! tlog-tiles read endpoints. It renders no HTML.

pub mod error;

pub use error::{ApiError, FieldProblem};
