//! The inspector's state directory: what it verified last (checkpoint, size, root, the tree's
//! right edge) in `state.json`, and a cache of the entries it verified in `entries.bin`
//! (`u16be length | entry bytes`, in log order), so that a later run fetches only new tiles, can
//! rebuild the key history without the network, and can name the first entry a rewritten
//! history changed.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::hash::{Hash, from_base64};
use serde::{Deserialize, Serialize};

use crate::tree::StreamingTree;

/// The `format` field of `state.json`.
pub const STATE_FORMAT: &str = "insyn-inspector-state/v1";

const STATE_FILE: &str = "state.json";
const CACHE_FILE: &str = "entries.bin";

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file is damaged or of another format.
    #[error("{0}")]
    Invalid(String),
}

/// What the inspector verified last.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The log's note verifier key.
    pub verifier_key: String,
    /// The verified checkpoint note.
    pub checkpoint: String,
    /// The tree (size, root, right edge, partial tiles) at that checkpoint.
    pub tree: StreamingTree,
    /// Bytes of `entries.bin` that belong to the verified entries.
    pub cache_len: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    verifier_key: String,
    size: u64,
    root: String,
    checkpoint: String,
    edge: Vec<String>,
    pending: Vec<Vec<String>>,
    cache_len: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

fn hashes(list: &[String]) -> Result<Vec<Hash>, StateError> {
    list.iter()
        .map(|h| from_base64(h).map_err(|e| StateError::Invalid(format!("bad hash: {e}"))))
        .collect()
}

/// An inspector's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory at `dir` (created when first saved).
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The last verified state, if any.
    ///
    /// # Errors
    /// [`StateError`] when the file exists but cannot be read or is invalid.
    pub fn load(&self) -> Result<Option<Verified>, StateError> {
        let path = self.dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let w: Wire = serde_json::from_str(&text)
            .map_err(|e| StateError::Invalid(format!("{}: {e}", path.display())))?;
        if w.format != STATE_FORMAT {
            return Err(StateError::Invalid(format!(
                "{}: format {:?}, expected {STATE_FORMAT:?}",
                path.display(),
                w.format
            )));
        }
        let edge = hashes(&w.edge)?;
        let pending = w
            .pending
            .iter()
            .map(|p| hashes(p))
            .collect::<Result<Vec<_>, _>>()?;
        let tree = StreamingTree::from_parts(w.size, edge, pending)
            .ok_or_else(|| StateError::Invalid(format!("{}: inconsistent tree", path.display())))?;
        if tree.root().to_string() != w.root {
            return Err(StateError::Invalid(format!(
                "{}: the root does not match the saved tree",
                path.display()
            )));
        }
        Ok(Some(Verified {
            verifier_key: w.verifier_key,
            checkpoint: w.checkpoint,
            tree,
            cache_len: w.cache_len,
        }))
    }

    /// Saves a verified state (atomically: a temporary file renamed over the old one).
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn save(&self, v: &Verified) -> Result<(), StateError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let b64 = |h: &Hash| B64.encode(h.0);
        let w = Wire {
            format: STATE_FORMAT.to_owned(),
            verifier_key: v.verifier_key.clone(),
            size: v.tree.size(),
            root: v.tree.root().to_string(),
            checkpoint: v.checkpoint.clone(),
            edge: v.tree.edge().iter().map(b64).collect(),
            pending: v
                .tree
                .pending()
                .iter()
                .map(|p| p.iter().map(b64).collect())
                .collect(),
            cache_len: v.cache_len,
        };
        let text =
            serde_json::to_string_pretty(&w).map_err(|e| StateError::Invalid(e.to_string()))?;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        let path = self.dir.join(STATE_FILE);
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// Opens the entry cache for reading its first `len` bytes.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn cache_reader(&self, len: u64) -> Result<CacheReader, StateError> {
        let path = self.dir.join(CACHE_FILE);
        let file = File::open(&path).map_err(io(&path))?;
        Ok(CacheReader {
            r: BufReader::with_capacity(1 << 20, file.take(len)),
            path,
        })
    }

    /// Starts a new entry cache beside the current one (`entries.bin.new`), for a run that
    /// re-verifies from the first entry while still reading the old cache;
    /// [`StateDir::replace_cache`] puts it in place.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn fresh_cache_writer(&self) -> Result<CacheWriter, StateError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join("entries.bin.new");
        let file = File::create(&path).map_err(io(&path))?;
        Ok(CacheWriter {
            w: BufWriter::with_capacity(1 << 20, file),
            len: 0,
            path,
        })
    }

    /// Replaces the entry cache with the one [`StateDir::fresh_cache_writer`] wrote.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn replace_cache(&self) -> Result<(), StateError> {
        let path = self.dir.join(CACHE_FILE);
        std::fs::rename(self.dir.join("entries.bin.new"), &path).map_err(io(&path))
    }

    /// Opens the entry cache for appending after its first `len` bytes (anything after them,
    /// left by a run that found a problem, is cut off).
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn cache_writer(&self, len: u64) -> Result<CacheWriter, StateError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join(CACHE_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let actual = file.metadata().map_err(io(&path))?.len();
        if actual < len {
            return Err(StateError::Invalid(format!(
                "{} is shorter than the state says",
                path.display()
            )));
        }
        file.set_len(len).map_err(io(&path))?;
        Ok(CacheWriter {
            w: BufWriter::with_capacity(1 << 20, file),
            len,
            path,
        })
    }
}

/// Reads cached entries in order.
#[derive(Debug)]
pub struct CacheReader {
    r: BufReader<std::io::Take<File>>,
    path: PathBuf,
}

impl CacheReader {
    /// The next cached entry, `None` at the end.
    ///
    /// # Errors
    /// [`StateError`] for a damaged cache.
    pub fn next_entry(&mut self) -> Result<Option<Vec<u8>>, StateError> {
        let mut len = [0u8; 2];
        match self.r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io(&self.path)(e)),
        }
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.r.read_exact(&mut buf).map_err(io(&self.path))?;
        Ok(Some(buf))
    }
}

/// Appends verified entries to the cache.
#[derive(Debug)]
pub struct CacheWriter {
    w: BufWriter<File>,
    len: u64,
    path: PathBuf,
}

impl CacheWriter {
    /// Appends one entry.
    ///
    /// # Errors
    /// [`StateError::Io`]; an entry longer than 65535 bytes.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), StateError> {
        let n = u16::try_from(entry.len())
            .map_err(|_| StateError::Invalid("entry longer than 65535 bytes".into()))?;
        self.w.write_all(&n.to_be_bytes()).map_err(io(&self.path))?;
        self.w.write_all(entry).map_err(io(&self.path))?;
        self.len += 2 + entry.len() as u64;
        Ok(())
    }

    /// Flushes and returns the cache's length.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn finish(mut self) -> Result<u64, StateError> {
        self.w.flush().map_err(io(&self.path))?;
        self.w.get_ref().sync_all().map_err(io(&self.path))?;
        Ok(self.len)
    }
}
