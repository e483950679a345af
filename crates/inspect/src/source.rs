//! Where a log is read from: its signed checkpoint and its tiles, in the C2SP tlog-tiles layout,
//! from a server over HTTP or from an export bundle on disk.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::tile::{Tile, TileKind, encode_bundle};

use crate::bundle::BundleReader;

/// Why a source could not give what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source does not have it (HTTP 404, or not in the bundle).
    #[error("not found: {0}")]
    NotFound(String),
    /// The transport failed or the server answered with an error.
    #[error("{0}")]
    Transport(String),
    /// A file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The bundle file is not a valid export.
    #[error("not a valid export bundle: {0}")]
    Format(String),
}

/// A log to read. Implementations are cheap to share between tasks.
pub trait LogSource: Send + Sync + 'static {
    /// The latest signed checkpoint note, as published.
    fn checkpoint(&self) -> impl Future<Output = Result<Vec<u8>, SourceError>> + Send;

    /// A tile's contents exactly as served at its tlog-tiles path.
    fn tile(&self, tile: Tile) -> impl Future<Output = Result<Vec<u8>, SourceError>> + Send;
}

/// A log served over HTTP by `insyn serve` (or any static host of its tiles).
#[derive(Debug, Clone)]
pub struct HttpSource {
    base: String,
    http: reqwest::Client,
}

impl HttpSource {
    /// A source for the server at `base` (e.g. `http://127.0.0.1:8080`).
    ///
    /// # Errors
    /// [`SourceError::Transport`] when the HTTP client cannot be built.
    pub fn new(base: &str) -> Result<Self, SourceError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| SourceError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The server's base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| SourceError::Transport(format!("GET {url}: {e}")))?;
        let status = r.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(SourceError::NotFound(url));
        }
        if !status.is_success() {
            return Err(SourceError::Transport(format!("GET {url}: HTTP {status}")));
        }
        let body = r
            .bytes()
            .await
            .map_err(|e| SourceError::Transport(format!("GET {url}: {e}")))?;
        Ok(body.to_vec())
    }

    /// Entries one by one through `/api/v1/entries/{i}`, up to the first the server does not
    /// have: what a tampered log still serves when a whole entry bundle is missing, so that the
    /// verifier can name the first bad entry instead of only the bundle.
    async fn entries_one_by_one(&self, tile: Tile) -> Result<Vec<u8>, SourceError> {
        #[derive(serde::Deserialize)]
        struct View {
            entry: String,
        }
        let mut entries = Vec::new();
        for i in tile.positions() {
            let body = match self.get(&format!("api/v1/entries/{i}")).await {
                Ok(b) => b,
                Err(SourceError::NotFound(_)) => break,
                Err(e) => return Err(e),
            };
            let view: View = serde_json::from_slice(&body)
                .map_err(|e| SourceError::Transport(format!("entry {i}: {e}")))?;
            let bytes = B64
                .decode(view.entry)
                .map_err(|_| SourceError::Transport(format!("entry {i} is not base64")))?;
            entries.push(bytes);
        }
        encode_bundle(&entries).map_err(|e| SourceError::Transport(e.to_string()))
    }
}

impl LogSource for HttpSource {
    async fn checkpoint(&self) -> Result<Vec<u8>, SourceError> {
        self.get("checkpoint").await
    }

    async fn tile(&self, tile: Tile) -> Result<Vec<u8>, SourceError> {
        match self.get(&tile.path()).await {
            Err(SourceError::NotFound(_)) if tile.kind() == TileKind::Entries => {
                self.entries_one_by_one(tile).await
            }
            other => other,
        }
    }
}

/// A log read from an export bundle (`insyn export`), fully offline.
#[derive(Debug)]
pub struct BundleSource {
    reader: BundleReader,
}

impl BundleSource {
    /// Opens and indexes the bundle at `path`.
    ///
    /// # Errors
    /// [`SourceError::Io`] or [`SourceError::Format`].
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Ok(Self {
            reader: BundleReader::open(path)?,
        })
    }

    /// The bundle's reader (checkpoint, cosignatures, tiles).
    #[must_use]
    pub fn reader(&self) -> &BundleReader {
        &self.reader
    }
}

impl LogSource for BundleSource {
    async fn checkpoint(&self) -> Result<Vec<u8>, SourceError> {
        Ok(self.reader.checkpoint().to_vec())
    }

    async fn tile(&self, tile: Tile) -> Result<Vec<u8>, SourceError> {
        self.reader.tile(&tile.path())
    }
}
