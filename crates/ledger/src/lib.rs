//! Insyn's transparency-log core: everything needed to make and check the log, with no I/O.
//!
//! Storage reaches this crate only through small reader traits; HTTP, SQL and async never do.
//!
//! | module | owns |
//! |---|---|
//! | [`id`] | Swedish identifiers (organisation numbers, municipality and county codes, periods, kronor) |
//! | [`hash`] | SHA-256, RFC 6962 leaf and node hashes |
//! | [`merkle`] | tree hashes, inclusion and consistency proofs over a [`merkle::HashReader`] |
//! | [`tile`] | C2SP tlog-tiles coordinates, paths, contents and entry bundles |
//! | [`keys`] | Ed25519 keys, key IDs and the one signature acceptance rule, [`keys::verify`] |
//! | [`entry`] | statements and entries: canonical encoding, strict decoding, signing |
//! | [`checkpoint`] | C2SP tlog-checkpoint text |
//! | [`note`] | C2SP signed notes, the log's signer and verifier, tlog-cosignature/v1 |
//! | [`history`] | which keys were valid at each point of the log |
//! | [`receipt`] | offline-verifiable proof that an entry is in the log |
//!
//! The byte formats are specified in `docs/FORMAT.md`.

pub mod checkpoint;
pub mod entry;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;
pub mod hash;
pub mod history;
pub mod id;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod tile;
