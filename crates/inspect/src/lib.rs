//! Insyn's inspector: everything a party that does not trust the log's operator needs, with no
//! command-line concerns.
//!
//! | module | owns |
//! |---|---|
//! | [`source`] | where a log is read from: [`source::LogSource`] over HTTP (C2SP tlog-tiles) or an export bundle |
//! | [`store_source`] | a [`LogSource`] over the server's own store, for the portal's verification |
//! | [`bundle`] | the single-file export format (`insyn-export/v1`, see `docs/FORMAT.md`): writer and reader |
//! | [`tree`] | the streaming Merkle tree: right edge, partial tiles, root |
//! | [`state`] | the inspector's state directory: last verified checkpoint, right edge, entry cache |
//! | [`verify`](mod@verify) | the verification engine: tree, tiles, strict decoding, key history and rules, resume |
//! | `presign` | the engine's signature checks on every core, ahead of the sequential replay |
//! | [`export`] | writing an export bundle from the server's store |
//! | [`payloads`] | checking stored payloads against the hashes their entries sign |
//! | [`client`] | a provider's HTTP client: signed files, submissions, receipts, consistency proofs |
//! | [`witness`] | a C2SP tlog-witness that cosigns checkpoints it has checked for consistency |
//!
//! Architecture invariant: every signature is checked with the ledger's one acceptance rule
//! (`insyn_ledger::keys::verify`, in parallel through `keys::verify_many`, whose verdicts go to
//! `insyn_domain::rules::LedgerState::apply_verified`; anything not pre-verified is verified by
//! `LedgerState::apply` itself), and every rule is the domain crate's; this crate adds no rule of
//! its own, only the reading.

pub mod bundle;
pub mod client;
pub mod export;
pub mod payloads;
mod presign;
pub mod source;
pub mod state;
pub mod store_source;
pub mod tree;
pub mod verify;
pub mod witness;

pub use source::{BundleSource, HttpSource, LogSource, SourceError};
pub use store_source::StoreSource;
pub use verify::{Finding, Report, VerifyOptions, verify};
