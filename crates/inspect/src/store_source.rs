//! A log read straight from the server's own store: the latest signed checkpoint and the tiles,
//! exactly as `/checkpoint` and `/tile/…` would serve them, without HTTP. It lets the server's
//! portal run the same verification as `insyn verify` over its own database: entry bundles come
//! from the stored entries and hash tiles from the stored tree hashes, so a tampered row in
//! either shows up as a finding just as it would over HTTP.

use std::sync::atomic::{AtomicU64, Ordering};

use insyn_ledger::tile::Tile;
use insyn_store::{Store, StoreError};

use crate::source::{LogSource, SourceError};

/// A [`LogSource`] over an opened [`Store`].
#[derive(Debug)]
pub struct StoreSource {
    store: Store,
    /// The size of the checkpoint last handed out (0 before the first); tiles are read against
    /// it, which saves a size query per tile.
    size: AtomicU64,
}

impl StoreSource {
    /// A source reading `store`.
    #[must_use]
    pub fn new(store: Store) -> Self {
        Self {
            store,
            size: AtomicU64::new(0),
        }
    }
}

fn database(e: &StoreError) -> SourceError {
    SourceError::Transport(format!("database: {e}"))
}

impl LogSource for StoreSource {
    async fn checkpoint(&self) -> Result<Vec<u8>, SourceError> {
        let cp = self
            .store
            .latest_checkpoint()
            .await
            .map_err(|e| database(&e))?
            .ok_or_else(|| SourceError::NotFound("the log has no checkpoint yet".into()))?;
        self.size.fetch_max(cp.size, Ordering::Relaxed);
        Ok(cp.note.into_bytes())
    }

    async fn tile(&self, tile: Tile) -> Result<Vec<u8>, SourceError> {
        let contents = match self.size.load(Ordering::Relaxed) {
            0 => self.store.tile(&tile).await,
            size => self.store.tile_at(&tile, size).await,
        }
        .map_err(|e| database(&e))?;
        contents.ok_or_else(|| SourceError::NotFound(tile.path()))
    }
}
