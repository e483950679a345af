//! The read handlers.

pub(crate) mod entries;
pub(crate) mod log;
pub(crate) mod payloads;
