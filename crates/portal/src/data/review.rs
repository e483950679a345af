//! Signing and submitting reviews: the municipality keys the server holds for its portal, and
//! the handle to the sequencer that integrates the signed `ReportReviewed` statements.
//!
//! Where the keys come from:
//! - `insyn serve --demo`: the demo municipalities' current keys, derived from the demo seed
//!   (`insyn::demo::portal_key`); demo only.
//! - A real deployment: one file per municipality, `<data-dir>/portal-keys/<code>.key`, holding
//!   the secret key in Insyn's text form (as `insyn provider keygen` writes keys, mode 0600). The
//!   municipality registers the matching public key in the ledger with a `KeyAdded` statement,
//!   like any of its keys; [`PortalKeys::load_dir`] reads the directory at start-up. A
//!   municipality without a key file cannot review in the portal (the form says so).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use insyn_ledger::id::MunicipalityCode;
use insyn_ledger::keys::SigningKey;
use insyn_store::{AdmissionPolicy, Candidate, Sequencer, SubmitError};

/// The municipality keys the portal signs reviews with.
#[derive(Clone, Default)]
pub struct PortalKeys {
    keys: BTreeMap<MunicipalityCode, SigningKey>,
}

impl std::fmt::Debug for PortalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalKeys")
            .field(
                "municipalities",
                &self.keys.keys().map(|m| m.code()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Why the key directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PortalKeysError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file is named `<code>.key` with an unknown municipality code, or does not hold a key.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl PortalKeys {
    /// No keys (the portal then cannot submit reviews).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key of municipality `m`.
    pub fn insert(&mut self, m: MunicipalityCode, key: SigningKey) {
        self.keys.insert(m, key);
    }

    /// The key of municipality `m`.
    #[must_use]
    pub fn get(&self, m: MunicipalityCode) -> Option<&SigningKey> {
        self.keys.get(&m)
    }

    /// The municipalities with a key.
    #[must_use]
    pub fn municipalities(&self) -> Vec<MunicipalityCode> {
        self.keys.keys().copied().collect()
    }

    /// Reads every `<code>.key` file of `dir` (a missing directory is no keys).
    ///
    /// # Errors
    /// [`PortalKeysError`] for an unreadable directory or file, or a file that is not a key of
    /// a known municipality.
    pub fn load_dir(dir: &Path) -> Result<Self, PortalKeysError> {
        let mut keys = Self::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
            Err(source) => {
                return Err(PortalKeysError::Io {
                    path: dir.display().to_string(),
                    source,
                });
            }
        };
        for entry in entries {
            let path = entry
                .map_err(|source| PortalKeysError::Io {
                    path: dir.display().to_string(),
                    source,
                })?
                .path();
            let Some(code) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
            else {
                continue;
            };
            let invalid = |reason: String| PortalKeysError::Invalid {
                path: path.display().to_string(),
                reason,
            };
            let m: MunicipalityCode = code
                .parse()
                .map_err(|e| invalid(format!("not a municipality code: {e}")))?;
            let text = std::fs::read_to_string(&path).map_err(|source| PortalKeysError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let key = SigningKey::from_text(text.trim())
                .map_err(|e| invalid(format!("not an Insyn secret key: {e}")))?;
            keys.insert(m, key);
        }
        Ok(keys)
    }
}

/// The future a submission returns: the new entry's leaf index, or why it was not integrated.
type Submitted = Pin<Box<dyn Future<Output = Result<u64, SubmitFailure>> + Send>>;

/// Why a review was not integrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubmitFailure {
    /// The ledger's rules refused it (e.g. the key is not valid for the municipality).
    Refused(String),
    /// The log is unavailable or stopped.
    Unavailable(String),
}

/// Where reviews go: the municipality keys and a type-erased handle to the sequencer.
#[derive(Clone)]
pub(crate) struct ReviewSigner {
    pub(crate) keys: PortalKeys,
    submit: Arc<dyn Fn(Candidate) -> Submitted + Send + Sync>,
}

impl std::fmt::Debug for ReviewSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewSigner")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl ReviewSigner {
    pub(crate) fn new<P: AdmissionPolicy>(sequencer: Arc<Sequencer<P>>, keys: PortalKeys) -> Self {
        let submit = move |candidate: Candidate| -> Submitted {
            let sequencer = Arc::clone(&sequencer);
            Box::pin(async move {
                match sequencer.submit(candidate).await {
                    Ok(accepted) => Ok(accepted.receipt.index),
                    Err(SubmitError::Rejected(problems)) => {
                        Err(SubmitFailure::Refused(format!("{problems:?}")))
                    }
                    Err(e) => Err(SubmitFailure::Unavailable(e.to_string())),
                }
            })
        };
        ReviewSigner {
            keys,
            submit: Arc::new(submit),
        }
    }

    /// Submits a candidate and waits for its leaf index.
    pub(crate) async fn submit(&self, candidate: Candidate) -> Result<u64, SubmitFailure> {
        (self.submit)(candidate).await
    }
}
