//! An inspector's witness (C2SP tlog-witness): it cosigns a log's checkpoint (C2SP
//! tlog-cosignature/v1) only after checking the log's signature and that the new tree is
//! consistent with the last one it cosigned, so two readers holding its cosignatures can never
//! have been shown different histories.
//!
//! HTTP: `POST /add-checkpoint` with the body `old <size>\n`, the consistency proof (one base64
//! hash per line), an empty line, then the signed checkpoint note. Answers: 200 with the
//! cosignature line; 409 (`text/x.tlog.size`) with the size it knows when `old` is not that size;
//! 403 for a note not signed by the log; 404 for an unknown log; 422 for a proof that does not
//! verify; 400 for a malformed body.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::hash::{EMPTY_ROOT, Hash, from_base64};
use insyn_ledger::merkle::verify_consistency;
use insyn_ledger::note::{Cosigner, LogVerifier};
use serde::{Deserialize, Serialize};

use crate::client::{ClientError, LogClient};

/// Why the witness will not cosign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The request is malformed.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The checkpoint is from a log this witness does not follow.
    #[error("unknown log {0}")]
    UnknownLog(String),
    /// The checkpoint is not signed by the log.
    #[error("the checkpoint is not signed by the log: {0}")]
    BadSignature(String),
    /// The caller's old size is not the witness's; here is the witness's.
    #[error("the witness's latest size for this log is {0}")]
    Conflict(u64),
    /// The new checkpoint is not consistent with the last one cosigned.
    #[error("not consistent with the checkpoint the witness cosigned before: {0}")]
    Inconsistent(String),
    /// The witness's state file could not be written.
    #[error("witness state: {0}")]
    State(String),
}

impl WitnessError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::UnknownLog(_) => StatusCode::NOT_FOUND,
            Self::BadSignature(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::State(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WitnessError {
    fn into_response(self) -> Response {
        match self {
            Self::Conflict(size) => (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                format!("{size}\n"),
            )
                .into_response(),
            other => (other.status(), format!("{other}\n")).into_response(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Latest {
    size: u64,
    root: String,
    checkpoint: String,
}

/// A witness for one log.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    log: LogVerifier,
    latest: Mutex<Option<Latest>>,
    state_path: Option<PathBuf>,
}

/// An `add-checkpoint` request, parsed.
#[derive(Debug, Clone)]
pub struct AddCheckpoint {
    /// The size the caller believes the witness has.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses the C2SP tlog-witness body.
    ///
    /// # Errors
    /// [`WitnessError::Malformed`].
    pub fn parse(body: &[u8]) -> Result<Self, WitnessError> {
        let bad = |m: &str| WitnessError::Malformed(m.to_owned());
        let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        if old.len() > 1 && old.starts_with('0') {
            return Err(bad("the old size has leading zeros"));
        }
        let old_size: u64 = old.parse().map_err(|_| bad("bad old size"))?;
        let proof = lines
            .map(|l| from_base64(l).map_err(|_| bad("bad proof hash")))
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > 63 {
            return Err(bad("too many proof hashes"));
        }
        Ok(Self {
            old_size,
            proof,
            note: note.as_bytes().to_vec(),
        })
    }

    /// The body text.
    #[must_use]
    pub fn to_body(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&h.to_string());
            out.push('\n');
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.note);
        out
    }
}

impl Witness {
    /// A witness signing as `cosigner` for `log`, keeping its state in `state_path` (JSON) when
    /// given.
    ///
    /// # Errors
    /// [`WitnessError::State`] when the state file exists but cannot be read.
    pub fn new(
        cosigner: Cosigner,
        log: LogVerifier,
        state_path: Option<&Path>,
    ) -> Result<Self, WitnessError> {
        let latest = match state_path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(t) => Some(
                    serde_json::from_str::<Latest>(&t)
                        .map_err(|e| WitnessError::State(format!("{}: {e}", p.display())))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(WitnessError::State(format!("{}: {e}", p.display()))),
            },
            None => None,
        };
        Ok(Self {
            cosigner,
            log,
            latest: Mutex::new(latest),
            state_path: state_path.map(Path::to_owned),
        })
    }

    /// The witness's cosigner verifier key (what readers configure to trust it).
    #[must_use]
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier().verifier_key()
    }

    /// The size of the latest checkpoint cosigned (0 before the first).
    #[must_use]
    pub fn latest_size(&self) -> u64 {
        self.latest
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l.size))
            .unwrap_or(0)
    }

    /// Handles an add-checkpoint request: checks and, if all is well, cosigns and remembers the
    /// checkpoint. Returns the cosignature line.
    ///
    /// # Errors
    /// [`WitnessError`].
    pub fn add_checkpoint(
        &self,
        req: &AddCheckpoint,
        now_secs: u64,
    ) -> Result<String, WitnessError> {
        let text = std::str::from_utf8(&req.note)
            .map_err(|_| WitnessError::Malformed("the note is not UTF-8".into()))?;
        let origin = text.lines().next().unwrap_or_default();
        if origin != self.log.name() {
            return Err(WitnessError::UnknownLog(origin.to_owned()));
        }
        let cp = self
            .log
            .verify_checkpoint(&req.note)
            .map_err(|e| WitnessError::BadSignature(e.to_string()))?;
        let mut latest = self
            .latest
            .lock()
            .map_err(|_| WitnessError::State("lock poisoned".into()))?;
        let (old_size, old_root) = match latest.as_ref() {
            Some(l) => (
                l.size,
                from_base64(&l.root).map_err(|e| WitnessError::State(e.to_string()))?,
            ),
            None => (0, EMPTY_ROOT),
        };
        if req.old_size != old_size {
            return Err(WitnessError::Conflict(old_size));
        }
        if cp.size() < old_size {
            return Err(WitnessError::Inconsistent(format!(
                "the checkpoint has {} entries, fewer than the {old_size} cosigned before",
                cp.size()
            )));
        }
        if old_size > 0 {
            verify_consistency(&req.proof, old_size, old_root, cp.size(), cp.root())
                .map_err(|e| WitnessError::Inconsistent(format!("from size {old_size}: {e}")))?;
        }
        let line = self.cosigner.cosignature_line(&cp, now_secs);
        let new = Latest {
            size: cp.size(),
            root: cp.root().to_string(),
            checkpoint: text.to_owned(),
        };
        if let Some(p) = &self.state_path {
            let tmp = p.with_extension("tmp");
            let json = serde_json::to_string_pretty(&new)
                .map_err(|e| WitnessError::State(e.to_string()))?;
            std::fs::write(&tmp, json)
                .and_then(|()| std::fs::rename(&tmp, p))
                .map_err(|e| WitnessError::State(format!("{}: {e}", p.display())))?;
        }
        *latest = Some(new);
        Ok(line)
    }

    /// Pull mode: fetches the server's latest checkpoint and the consistency proof from the last
    /// size cosigned, cosigns, and posts the cosignature to the server
    /// (`POST /api/v1/cosignatures`), which verifies, stores and publishes it.
    ///
    /// # Errors
    /// [`WitnessError`] when the witness refuses, [`ClientError`]-based messages as
    /// [`WitnessError::Malformed`] when the server cannot be used.
    pub async fn cosign_from(
        &self,
        server: &str,
        now_secs: u64,
    ) -> Result<Checkpoint, WitnessError> {
        let client = LogClient::new(server).map_err(client_err)?;
        let (cp, note) = client.checkpoint(&self.log).await.map_err(client_err)?;
        let old = self.latest_size();
        let proof = if old > 0 && old <= cp.size() {
            client
                .consistency_proof(old, cp.size())
                .await
                .map_err(client_err)?
        } else {
            Vec::new()
        };
        let line = self.add_checkpoint(
            &AddCheckpoint {
                old_size: old,
                proof,
                note,
            },
            now_secs,
        )?;
        client
            .post_cosignature(&self.verifier_key(), cp.size(), &line)
            .await
            .map_err(client_err)?;
        Ok(cp)
    }
}

fn client_err(e: ClientError) -> WitnessError {
    WitnessError::Malformed(e.to_string())
}

/// The witness's HTTP routes (`POST /add-checkpoint`).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .with_state(witness)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let result = AddCheckpoint::parse(&body).and_then(|req| w.add_checkpoint(&req, now));
    match result {
        Ok(line) => (StatusCode::OK, line).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insyn_ledger::keys::SigningKey;
    use insyn_ledger::merkle::{MemoryHashes, prove_consistency};
    use insyn_ledger::note::{CosignerVerifier, LogSigner};

    #[test]
    fn cosigns_consistent_checkpoints_and_refuses_forks() {
        let signer = LogSigner::new("example.org/log", SigningKey::generate()).unwrap();
        let cosigner = Cosigner::new("example.org/witness", SigningKey::generate()).unwrap();
        let cv: CosignerVerifier = cosigner.verifier().clone();
        let w = Witness::new(cosigner, signer.verifier().clone(), None).unwrap();
        let leaves: Vec<Hash> = (0..20u8)
            .map(|i| insyn_ledger::hash::leaf_hash(&[i]))
            .collect();
        let mem = MemoryHashes::from_leaves(leaves.iter().copied());
        let note = |size: u64, root: Hash| {
            signer
                .sign_checkpoint(&Checkpoint::new("example.org/log", size, root).unwrap())
                .unwrap()
        };
        let cp10 = note(10, insyn_ledger::merkle::root_from_leaves(&leaves[..10]));
        let req = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            note: cp10.clone(),
        };
        let parsed = AddCheckpoint::parse(&req.to_body()).unwrap();
        let line = w.add_checkpoint(&parsed, 1_700_000_000).unwrap();
        let mut cosigned = cp10.clone();
        cosigned.extend_from_slice(line.as_bytes());
        let v = signer
            .verifier()
            .verify_cosigned_checkpoint(&cosigned, &[cv])
            .unwrap();
        assert_eq!(v.cosignatures.len(), 1);

        // Stale old size: 409 with the witness's size.
        let cp20 = note(20, mem.root());
        let stale = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            note: cp20.clone(),
        };
        assert!(matches!(
            w.add_checkpoint(&stale, 1),
            Err(WitnessError::Conflict(10))
        ));
        // A consistent extension is cosigned.
        let proof = prove_consistency(10, 20, &mem).unwrap();
        w.add_checkpoint(
            &AddCheckpoint {
                old_size: 10,
                proof,
                note: cp20,
            },
            2,
        )
        .unwrap();
        assert_eq!(w.latest_size(), 20);
        // A forked tree of size 25 (a different leaf 3) is refused.
        let mut forked = leaves.clone();
        forked[3] = insyn_ledger::hash::leaf_hash(b"rewritten");
        forked.extend((20..25u8).map(|i| insyn_ledger::hash::leaf_hash(&[i])));
        let fmem = MemoryHashes::from_leaves(forked.iter().copied());
        let proof = prove_consistency(20, 25, &fmem).unwrap();
        let fork = AddCheckpoint {
            old_size: 20,
            proof,
            note: note(25, fmem.root()),
        };
        assert!(matches!(
            w.add_checkpoint(&fork, 3),
            Err(WitnessError::Inconsistent(_))
        ));
        // A note signed by another key is refused.
        let other = LogSigner::new("example.org/log", SigningKey::generate()).unwrap();
        let bad = other
            .sign_checkpoint(&Checkpoint::new("example.org/log", 20, mem.root()).unwrap())
            .unwrap();
        let req = AddCheckpoint {
            old_size: 20,
            proof: vec![],
            note: bad,
        };
        assert!(matches!(
            w.add_checkpoint(&req, 4),
            Err(WitnessError::BadSignature(_))
        ));
    }
}
