//! Insyn's transparency-log core: everything needed to make and check the log, with no I/O.
//!
//! Storage reaches this crate only through small reader traits; HTTP, SQL and async never do.

pub mod id;
