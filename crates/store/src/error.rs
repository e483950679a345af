//! The store's error type.

use sea_orm::DbErr;

/// Why a store operation failed.
///
/// HTTP mapping (for `crates/api`): [`StoreError::Database`] and [`StoreError::Unavailable`]
/// are "503 unavailable, try again"; [`StoreError::Corrupt`] is a logged 500;
/// [`StoreError::InvalidInput`] is a 400 with its message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (unreachable, disk full, I/O error, or a refused statement).
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// The store cannot serve right now (a closed sequencer, a failed batch); retrying may help.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A row in the database does not decode or contradicts the tree: a bug or tampering.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The request cannot be answered as asked (an index beyond the tree, sizes out of order).
    #[error("invalid request: {0}")]
    InvalidInput(String),
}

impl StoreError {
    /// Whether the error says the database refused a change to an append-only table (the
    /// triggers installed by the migrations).
    #[must_use]
    pub fn is_append_only_refusal(&self) -> bool {
        match self {
            StoreError::Database(e) => is_append_only_refusal(e),
            _ => false,
        }
    }
}

/// Whether a database error is a refusal by one of the append-only triggers.
#[must_use]
pub fn is_append_only_refusal(e: &DbErr) -> bool {
    e.to_string()
        .contains(insyn_migrations::APPEND_ONLY_MESSAGE)
}

/// Converts a u64 (index, size) to the signed column type. Values ≥ 2⁶³ cannot exist in a log.
pub(crate) fn to_db(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::InvalidInput(format!("{v} is out of range")))
}

/// Converts a stored signed integer back; a negative value in a row is corruption.
pub(crate) fn from_db(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("negative value {v} in an index column")))
}

/// Converts a stored binary column to a 32-byte hash.
pub(crate) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| {
        StoreError::Corrupt(format!("a hash column holds {} bytes, not 32", bytes.len()))
    })
}
