//! C2SP tlog-checkpoint: the log's signed tree head text (origin, size, base64 root, optional
//! extension lines). Signing and verifying checkpoints as signed notes is in [`crate::note`].

use std::fmt;

use crate::hash::Hash;

/// The default checkpoint origin (and note key name) of an Insyn log.
pub const DEFAULT_ORIGIN: &str = "localhost/insyn";

/// Why checkpoint text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not origin, decimal size and base64 root hash, each on its own line, ending in a newline.
    #[error(
        "malformed checkpoint: expected an origin line, a decimal tree size line and a base64 root hash line"
    )]
    Malformed,
    /// An origin that is empty, has control characters, or leading or trailing space.
    #[error(
        "{0:?} is not a valid checkpoint origin (non-empty, printable, no leading or trailing space)"
    )]
    Origin(String),
}

/// Why a newer checkpoint does not extend an older one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// The checkpoints are of different logs.
    #[error("the checkpoints are of different logs ({old:?} and {new:?})")]
    Origin {
        /// The older checkpoint's origin.
        old: String,
        /// The newer checkpoint's origin.
        new: String,
    },
    /// The consistency proof fails (or the newer tree is smaller): the log is not append-only
    /// between these two checkpoints, or the proof is wrong.
    #[error("the newer checkpoint does not extend the older one: {0}")]
    Proof(crate::merkle::MerkleError),
}

/// A checkpoint per C2SP tlog-checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extension: String,
}

/// Whether `name` can be a note key name and a checkpoint origin: non-empty, no whitespace, no
/// `+`, no control characters.
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    signed_note::is_key_name_valid(name) && !name.chars().any(char::is_control)
}

/// Whether `origin` can be a checkpoint origin line: non-empty, no control characters, no
/// leading or trailing space. Other logs' origins may contain inner spaces (Go's checksum
/// database uses `go.sum database tree`); an Insyn log's origin is also its note key name, which
/// [`is_valid_name`] restricts further.
#[must_use]
pub fn is_valid_origin(origin: &str) -> bool {
    !origin.is_empty() && !origin.chars().any(char::is_control) && origin.trim() == origin
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    ///
    /// # Errors
    /// [`CheckpointError::Origin`] for an origin that is not a valid key name.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        Self::with_extension(origin, size, root, "")
    }

    /// A checkpoint with extension lines (`extension` is empty or non-empty lines each ending in
    /// `\n`).
    ///
    /// # Errors
    /// [`CheckpointError::Origin`] for a bad origin, [`CheckpointError::Malformed`] for bad
    /// extension lines.
    pub fn with_extension(
        origin: &str,
        size: u64,
        root: Hash,
        extension: &str,
    ) -> Result<Self, CheckpointError> {
        if !is_valid_origin(origin) {
            return Err(CheckpointError::Origin(origin.to_owned()));
        }
        if extension.chars().any(|c| c.is_control() && c != '\n') {
            return Err(CheckpointError::Malformed);
        }
        let c = tlog_tiles::Checkpoint::new(origin, size, root, extension)
            .map_err(|_| CheckpointError::Malformed)?;
        Ok(Self::from_tlog(&c))
    }

    fn from_tlog(c: &tlog_tiles::Checkpoint) -> Self {
        Self {
            origin: c.origin().to_owned(),
            size: c.size(),
            root: *c.hash(),
            extension: c.extension().to_owned(),
        }
    }

    /// Parses checkpoint text (a note's body, ending in a newline).
    ///
    /// # Errors
    /// [`CheckpointError`] when the text is not exactly a checkpoint.
    pub fn parse(text: &[u8]) -> Result<Self, CheckpointError> {
        let c = tlog_tiles::Checkpoint::from_bytes(text).map_err(|_| CheckpointError::Malformed)?;
        let cp = Self::from_tlog(&c);
        if !is_valid_origin(&cp.origin) {
            return Err(CheckpointError::Origin(cp.origin));
        }
        // The root line must be the canonical base64 of the hash, and the whole text must be the
        // canonical form, so one checkpoint has one encoding.
        if cp.to_text().as_bytes() != text {
            return Err(CheckpointError::Malformed);
        }
        Ok(cp)
    }

    /// The origin line.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    #[must_use]
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The extension lines (empty, or lines each ending in `\n`).
    #[must_use]
    pub fn extension(&self) -> &str {
        &self.extension
    }

    /// Checks that `newer` extends this checkpoint (same origin, not smaller, and `proof` is a
    /// valid consistency proof between their roots): what a client, witness or inspector does
    /// before trusting a newer checkpoint.
    ///
    /// # Errors
    /// [`ConsistencyError`] saying which check failed.
    pub fn verify_extended_by(
        &self,
        newer: &Checkpoint,
        proof: &[Hash],
    ) -> Result<(), ConsistencyError> {
        if self.origin != newer.origin {
            return Err(ConsistencyError::Origin {
                old: self.origin.clone(),
                new: newer.origin.clone(),
            });
        }
        crate::merkle::verify_consistency(proof, self.size, self.root, newer.size, newer.root)
            .map_err(ConsistencyError::Proof)
    }

    /// The checkpoint text: `origin\nsize\nbase64(root)\n` followed by any extension lines.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.origin, self.size, self.root, self.extension
        )
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::from_base64;

    #[test]
    fn parses_the_c2sp_example() {
        let text = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse(text).unwrap();
        assert_eq!(c.origin(), "example.com/behind-the-sofa");
        assert_eq!(c.size(), 20_852_163);
        assert_eq!(
            c.root(),
            from_base64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=").unwrap()
        );
        assert_eq!(c.to_text().as_bytes(), text);
    }

    #[test]
    fn refuses_non_canonical_checkpoints() {
        for bad in [
            &b"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="[..],
            b"o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            b"o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            b"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
            b"\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            b" o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            b"o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
            b"o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        ] {
            assert!(
                Checkpoint::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(Checkpoint::new("a ", 1, crate::hash::EMPTY_ROOT).is_err());
        // Other logs' origins may have inner spaces, like Go's checksum database.
        let go = Checkpoint::new("go.sum database tree", 1, crate::hash::EMPTY_ROOT).unwrap();
        assert_eq!(Checkpoint::parse(go.to_text().as_bytes()).unwrap(), go);
        assert!(Checkpoint::new("a\nb", 1, crate::hash::EMPTY_ROOT).is_err());
    }

    #[test]
    fn newer_checkpoints_must_extend_older_ones() {
        use crate::hash::leaf_hash;
        use crate::merkle::{MemoryHashes, prove_consistency};
        let m = MemoryHashes::from_leaves((0..10u8).map(|i| leaf_hash(&[i])));
        let cp =
            |n: u64| Checkpoint::new("o", n, crate::merkle::tree_hash(n, &m).unwrap()).unwrap();
        let proof = prove_consistency(4, 10, &m).unwrap();
        cp(4).verify_extended_by(&cp(10), &proof).unwrap();
        assert!(cp(4).verify_extended_by(&cp(9), &proof).is_err());
        assert!(cp(10).verify_extended_by(&cp(4), &proof).is_err());
        let forked = Checkpoint::new("o", 10, leaf_hash(b"fork")).unwrap();
        assert_eq!(
            cp(4)
                .verify_extended_by(&forked, &proof)
                .unwrap_err()
                .to_string(),
            "the newer checkpoint does not extend the older one: the Merkle proof does not verify"
        );
        let other = Checkpoint::new("p", 10, cp(10).root()).unwrap();
        assert!(matches!(
            cp(4).verify_extended_by(&other, &proof),
            Err(ConsistencyError::Origin { .. })
        ));
    }

    #[test]
    fn extension_lines_round_trip() {
        let c = Checkpoint::with_extension("o", 3, crate::hash::EMPTY_ROOT, "x\ny\n").unwrap();
        assert_eq!(Checkpoint::parse(c.to_text().as_bytes()).unwrap(), c);
    }
}
