//! SHA-256 hashes of the log: RFC 6962 leaf and node hashing, and the hash type every other module uses.

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 hash: a leaf hash, an interior node hash or a tree root.
///
/// This is `tlog_tiles`' hash type, so hashes pass straight into that crate. Its `Display` form is
/// standard base64 (as in checkpoints); use [`to_hex`] for the hexadecimal form.
pub use tlog_tiles::Hash;

/// The number of bytes in a [`struct@Hash`].
pub const HASH_SIZE: usize = 32;

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962, section 2.1).
pub const EMPTY_ROOT: Hash = tlog_tiles::EMPTY_HASH;

/// The RFC 6962 leaf hash of an entry: `SHA-256(0x00 || entry_bytes)`.
#[must_use]
pub fn leaf_hash(entry_bytes: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry_bytes)
}

/// The RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
#[must_use]
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    tlog_tiles::node_hash(left, right)
}

/// Plain SHA-256 of some bytes, e.g. of a payload.
#[must_use]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A hash as 64 lowercase hexadecimal digits.
#[must_use]
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash.0)
}

/// A hash from 64 hexadecimal digits (either case).
///
/// # Errors
/// Returns [`HashParseError`] when the text is not exactly 32 bytes of hex.
pub fn from_hex(text: &str) -> Result<Hash, HashParseError> {
    let mut out = [0u8; HASH_SIZE];
    hex::decode_to_slice(text, &mut out).map_err(|_| HashParseError::Hex(text.to_owned()))?;
    Ok(Hash(out))
}

/// A hash from its standard base64 form (44 characters, as in checkpoints).
///
/// # Errors
/// Returns [`HashParseError`] when the text is not the canonical base64 of exactly 32 bytes.
pub fn from_base64(text: &str) -> Result<Hash, HashParseError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| HashParseError::Base64(text.to_owned()))?;
    let arr: [u8; HASH_SIZE] = bytes
        .try_into()
        .map_err(|_| HashParseError::Base64(text.to_owned()))?;
    Ok(Hash(arr))
}

/// Why a textual hash was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// Not 64 hexadecimal digits.
    #[error("{0:?} is not a SHA-256 hash written as 64 hexadecimal digits")]
    Hex(String),
    /// Not the base64 of 32 bytes.
    #[error("{0:?} is not a SHA-256 hash written in base64 (44 characters)")]
    Base64(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            to_hex(&EMPTY_ROOT),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(EMPTY_ROOT.0, sha256(b""));
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        // RFC 6962: the empty leaf hashes to SHA-256(0x00).
        assert_eq!(
            to_hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l = leaf_hash(b"a");
        assert_ne!(node_hash(l, l), leaf_hash(&[l.0, l.0].concat()));
    }

    #[test]
    fn hex_and_base64_round_trip() {
        let h = leaf_hash(b"x");
        assert_eq!(from_hex(&to_hex(&h)).unwrap(), h);
        assert_eq!(from_base64(&h.to_string()).unwrap(), h);
        assert!(from_hex("00").is_err());
        assert!(from_base64("AAAA").is_err());
    }
}
