//! Receipts: what a submitter keeps to prove, forever and offline, that its entry is in the log —
//! the entry, its index, a signed checkpoint and the inclusion proof — with a stable JSON encoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::entry::{Entry, EntryError};
use crate::hash::{Hash, from_base64};
use crate::keys::{PublicKey, SignatureError};
use crate::merkle::{MerkleError, verify_inclusion};
use crate::note::{CosignedCheckpoint, CosignerVerifier, LogVerifier, NoteError};

/// The `format` field of a receipt's JSON form.
pub const RECEIPT_FORMAT: &str = "insyn-receipt/v1";

/// Why a receipt does not verify or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The checkpoint is not validly signed by the log.
    #[error("the receipt's checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The inclusion proof does not lead from the entry to the checkpoint's root.
    #[error("the receipt's inclusion proof: {0}")]
    Proof(#[from] MerkleError),
    /// The entry is not a valid entry.
    #[error("the receipt's entry: {0}")]
    Entry(#[from] EntryError),
    /// The statement's signature does not verify with the key given.
    #[error("the receipt's statement signature: {0}")]
    Signature(#[from] SignatureError),
    /// Not a receipt in the JSON form.
    #[error("not an Insyn receipt: {0}")]
    Json(String),
}

/// A receipt for one entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The entry.
    pub entry: Entry,
    /// Its leaf index.
    pub index: u64,
    /// The signed checkpoint note (bytes as served at `/checkpoint`), of a tree containing the entry.
    pub checkpoint: Vec<u8>,
    /// The inclusion proof of `index` in that tree.
    pub proof: Vec<Hash>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    index: u64,
    entry: String,
    checkpoint: String,
    inclusion_proof: Vec<String>,
}

impl Receipt {
    /// Verifies the receipt offline with only the log's verifier: the checkpoint is signed by the
    /// log, and the proof shows the entry at `index` under the checkpoint's root. Returns the
    /// checkpoint.
    ///
    /// # Errors
    /// [`ReceiptError::Checkpoint`] or [`ReceiptError::Proof`].
    pub fn verify(&self, log: &LogVerifier) -> Result<Checkpoint, ReceiptError> {
        let cp = log.verify_checkpoint(&self.checkpoint)?;
        verify_inclusion(
            &self.proof,
            cp.size(),
            cp.root(),
            self.index,
            self.entry.leaf_hash(),
        )?;
        Ok(cp)
    }

    /// Like [`Receipt::verify`], for a checkpoint that may carry cosignatures: returns the
    /// checkpoint with the cosignatures of `cosigners` that verified (the caller decides what
    /// quorum it needs). A listed cosigner's bad cosignature rejects the receipt.
    ///
    /// # Errors
    /// [`ReceiptError::Checkpoint`] or [`ReceiptError::Proof`].
    pub fn verify_cosigned(
        &self,
        log: &LogVerifier,
        cosigners: &[CosignerVerifier],
    ) -> Result<CosignedCheckpoint, ReceiptError> {
        let c = log.verify_cosigned_checkpoint(&self.checkpoint, cosigners)?;
        verify_inclusion(
            &self.proof,
            c.checkpoint.size(),
            c.checkpoint.root(),
            self.index,
            self.entry.leaf_hash(),
        )?;
        Ok(c)
    }

    /// Also checks the statement's signature with the signer's public key (under the one
    /// acceptance rule). Whether that key was valid at that point is the key history's question.
    ///
    /// # Errors
    /// As [`Receipt::verify`], plus [`ReceiptError::Signature`].
    pub fn verify_signed_by(
        &self,
        log: &LogVerifier,
        signer: &PublicKey,
    ) -> Result<Checkpoint, ReceiptError> {
        let cp = self.verify(log)?;
        self.entry.signed().verify_signature(signer)?;
        Ok(cp)
    }

    /// The JSON form (see `docs/FORMAT.md`): `format`, `index`, `entry` (base64),
    /// `checkpoint` (the signed note text), `inclusion_proof` (base64 hashes).
    #[must_use]
    pub fn to_json(&self) -> String {
        let w = Wire {
            format: RECEIPT_FORMAT.to_owned(),
            index: self.index,
            entry: B64.encode(self.entry.encode()),
            checkpoint: String::from_utf8_lossy(&self.checkpoint).into_owned(),
            inclusion_proof: self.proof.iter().map(ToString::to_string).collect(),
        };
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_string_pretty(&w).unwrap_or_default()
    }

    /// Parses the JSON form strictly (unknown fields, other formats and bad values refused).
    /// Parsing does not verify: call [`Receipt::verify`].
    ///
    /// # Errors
    /// [`ReceiptError::Json`] or [`ReceiptError::Entry`].
    pub fn from_json(text: &str) -> Result<Self, ReceiptError> {
        let w: Wire = serde_json::from_str(text).map_err(|e| ReceiptError::Json(e.to_string()))?;
        if w.format != RECEIPT_FORMAT {
            return Err(ReceiptError::Json(format!(
                "format is {:?}, expected {RECEIPT_FORMAT:?}",
                w.format
            )));
        }
        let entry_bytes = B64
            .decode(&w.entry)
            .map_err(|_| ReceiptError::Json("entry is not base64".into()))?;
        let entry = Entry::decode(&entry_bytes)?;
        let proof = w
            .inclusion_proof
            .iter()
            .map(|h| from_base64(h).map_err(|e| ReceiptError::Json(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            entry,
            index: w.index,
            checkpoint: w.checkpoint.into_bytes(),
            proof,
        })
    }
}
