//! Writing an export bundle ([`crate::bundle`]) from the server's store: the latest checkpoint,
//! every tile of its tree (entry bundles and hash tiles, at the checkpoint's size) and the
//! checkpoint's cosignatures.

use std::io::Write;

use insyn_ledger::tile::Tile;
use insyn_store::{Store, StoreError};

use crate::bundle::BundleWriter;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The store failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Writing failed.
    #[error("writing the bundle: {0}")]
    Io(#[from] std::io::Error),
    /// The log has no checkpoint yet, or a tile the checkpoint needs is missing.
    #[error("{0}")]
    Incomplete(String),
}

/// What was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// The exported checkpoint's size.
    pub size: u64,
    /// Tiles written.
    pub tiles: u64,
    /// Cosignatures written.
    pub cosignatures: u64,
}

/// Writes the bundle of the latest checkpoint to `out`.
///
/// # Errors
/// [`ExportError`].
pub async fn export<W: Write>(store: &Store, out: W) -> Result<(W, ExportSummary), ExportError> {
    let cp = store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ExportError::Incomplete("the log has no checkpoint yet".into()))?;
    let mut w = BundleWriter::new(out, cp.note.as_bytes())?;
    let mut tiles = 0;
    for tile in Tile::for_tree(cp.size) {
        let contents = store.tile_at(&tile, cp.size).await?.ok_or_else(|| {
            ExportError::Incomplete(format!("the store has no tile {}", tile.path()))
        })?;
        w.tile(&tile.path(), &contents)?;
        tiles += 1;
    }
    let cosigs = store.cosignatures(cp.size).await?;
    for c in &cosigs {
        let line = if c.signature.ends_with('\n') {
            c.signature.clone()
        } else {
            format!("{}\n", c.signature)
        };
        w.cosignature(&line)?;
    }
    let out = w.finish()?;
    Ok((
        out,
        ExportSummary {
            size: cp.size,
            tiles,
            cosignatures: cosigs.len() as u64,
        },
    ))
}
