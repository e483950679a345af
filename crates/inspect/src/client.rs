//! The client side of the log for providers and municipalities: signed files (made offline,
//! submitted later byte for byte), submissions, receipts kept on disk, and re-checking a receipt
//! against the log's latest checkpoint with a consistency proof.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_domain::report::{ReportErrors, validate_report, validate_report_for};
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, ContractRef, SignedStatement, Statement};
use insyn_ledger::hash::{Hash, from_base64, sha256};
use insyn_ledger::id::Period;
use insyn_ledger::keys::SigningKey;
use insyn_ledger::merkle::verify_consistency;
use insyn_ledger::note::LogVerifier;
use insyn_ledger::receipt::Receipt;
use serde::{Deserialize, Serialize};

/// The `format` field of a signed file.
pub const SIGNED_FORMAT: &str = "insyn-signed/v1";

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The report does not validate; every problem is listed.
    #[error("the report is not valid:\n{0}")]
    Report(ReportErrors),
    /// A value given is not usable.
    #[error("{0}")]
    Invalid(String),
    /// The server refused the submission (HTTP 4xx); its problem document, readable.
    #[error("the server refused it (HTTP {status}):\n{problem}")]
    Refused {
        /// The status code.
        status: u16,
        /// The problem details, one per line.
        problem: String,
    },
    /// The server could not be reached or answered unexpectedly.
    #[error("{0}")]
    Transport(String),
    /// The receipt, checkpoint or proof does not verify.
    #[error("verification failed: {0}")]
    Verification(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A signed statement and its payload, as written by `insyn provider sign` and sent unchanged by
/// `insyn provider submit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedFile {
    /// Always [`SIGNED_FORMAT`].
    pub format: String,
    /// The canonical statement bytes, base64.
    pub statement: String,
    /// The signature, base64.
    pub signature: String,
    /// The payload, base64, if the statement names one.
    pub payload: Option<String>,
}

#[derive(Serialize)]
struct Submission<'a> {
    statement: &'a str,
    signature: &'a str,
    payload: Option<&'a str>,
}

impl SignedFile {
    /// The file for a signed statement and its payload.
    #[must_use]
    pub fn new(signed: &SignedStatement, payload: Option<&[u8]>) -> Self {
        Self {
            format: SIGNED_FORMAT.to_owned(),
            statement: B64.encode(signed.statement().encode()),
            signature: B64.encode(signed.signature().to_bytes()),
            payload: payload.map(|p| B64.encode(p)),
        }
    }

    /// Parses and checks a signed file: it decodes strictly and the payload is the one signed.
    ///
    /// # Errors
    /// [`ClientError::Invalid`].
    pub fn from_json(text: &str) -> Result<Self, ClientError> {
        let f: Self = serde_json::from_str(text)
            .map_err(|e| ClientError::Invalid(format!("not a signed file: {e}")))?;
        if f.format != SIGNED_FORMAT {
            return Err(ClientError::Invalid(format!(
                "format {:?}, expected {SIGNED_FORMAT:?}",
                f.format
            )));
        }
        let signed = f.signed()?;
        let payload = f.payload_bytes()?;
        match (signed.statement().payload_sha256(), &payload) {
            (Some(named), Some(p)) if sha256(p) != named => Err(ClientError::Invalid(
                "the payload is not the one the statement signs".into(),
            )),
            (None, Some(_)) => Err(ClientError::Invalid(
                "a payload is attached but the statement names none".into(),
            )),
            _ => Ok(f),
        }
    }

    /// The JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The signed statement.
    ///
    /// # Errors
    /// [`ClientError::Invalid`] when it does not decode.
    pub fn signed(&self) -> Result<SignedStatement, ClientError> {
        let st = B64
            .decode(&self.statement)
            .map_err(|_| ClientError::Invalid("statement is not base64".into()))?;
        let sig = B64
            .decode(&self.signature)
            .map_err(|_| ClientError::Invalid("signature is not base64".into()))?;
        SignedStatement::from_parts(&st, &sig)
            .map_err(|e| ClientError::Invalid(format!("the statement does not decode: {e}")))
    }

    /// The payload bytes.
    ///
    /// # Errors
    /// [`ClientError::Invalid`] when it is not base64.
    pub fn payload_bytes(&self) -> Result<Option<Vec<u8>>, ClientError> {
        self.payload
            .as_deref()
            .map(|p| {
                B64.decode(p)
                    .map_err(|_| ClientError::Invalid("payload is not base64".into()))
            })
            .transpose()
    }
}

/// Signs any statement body for `actor` with `key`, offline.
///
/// # Errors
/// [`ClientError::Invalid`] when the statement cannot be built.
pub fn sign_statement(
    key: &SigningKey,
    actor: Actor,
    body: Body,
    payload: Option<&[u8]>,
) -> Result<SignedFile, ClientError> {
    let st = Statement::new(actor, key.key_id(), body, payload.map(sha256))
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    Ok(SignedFile::new(&st.sign(key), payload))
}

/// Validates a report exactly as the server does and signs it as its provider, offline. The
/// contract and period default to the report's own; when given they must agree with it.
/// `supersedes` makes it a correction of that entry.
///
/// # Errors
/// [`ClientError::Report`] with every problem.
pub fn sign_report(
    key: &SigningKey,
    report_json: &[u8],
    contract: Option<ContractRef>,
    period: Option<Period>,
    supersedes: Option<u64>,
) -> Result<SignedFile, ClientError> {
    let report = validate_report(report_json).map_err(ClientError::Report)?;
    let contract = contract.unwrap_or_else(|| report.contract.to_contract_ref());
    let period = period.unwrap_or(report.period);
    let body = match supersedes {
        None => Body::ReportSubmitted { contract, period },
        Some(supersedes) => Body::ReportCorrected {
            contract,
            period,
            supersedes,
        },
    };
    let st = Statement::new(
        Actor::Provider(report.provider),
        key.key_id(),
        body,
        Some(sha256(report_json)),
    )
    .map_err(|e| ClientError::Invalid(e.to_string()))?;
    validate_report_for(report_json, &st).map_err(ClientError::Report)?;
    Ok(SignedFile::new(&st.sign(key), Some(report_json)))
}

/// A submission's outcome.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The verified receipt.
    pub receipt: Receipt,
    /// The checkpoint it verified against.
    pub checkpoint: Checkpoint,
    /// Whether the log integrated it now (false: it was already in the log).
    pub new: bool,
}

/// An HTTP client of one log server.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    http: reqwest::Client,
}

impl LogClient {
    /// A client of the server at `base`.
    ///
    /// # Errors
    /// [`ClientError::Transport`].
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Submits a signed file (the same bytes that were signed) and checks the receipt: the
    /// checkpoint's signature with `log`, the inclusion proof, and that the entry is this
    /// statement.
    ///
    /// # Errors
    /// [`ClientError::Refused`] with the server's problems, [`ClientError::Verification`] for a
    /// receipt that does not verify, [`ClientError::Transport`].
    pub async fn submit(
        &self,
        file: &SignedFile,
        log: &LogVerifier,
    ) -> Result<Submitted, ClientError> {
        let signed = file.signed()?;
        let body = Submission {
            statement: &file.statement,
            signature: &file.signature,
            payload: file.payload.as_deref(),
        };
        let r = self
            .http
            .post(self.url("/api/v1/entries"))
            .json(&body)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = r.status().as_u16();
        let text = r
            .text()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if status != 200 && status != 201 {
            return Err(ClientError::Refused {
                status,
                problem: describe_problem(&text),
            });
        }
        let receipt = Receipt::from_json(&text)
            .map_err(|e| ClientError::Verification(format!("the answer is not a receipt: {e}")))?;
        let checkpoint = check_receipt(&receipt, log, Some(&signed))?;
        Ok(Submitted {
            receipt,
            checkpoint,
            new: status == 201,
        })
    }

    /// The latest checkpoint, verified with `log`.
    ///
    /// # Errors
    /// [`ClientError::Transport`] or [`ClientError::Verification`].
    pub async fn checkpoint(
        &self,
        log: &LogVerifier,
    ) -> Result<(Checkpoint, Vec<u8>), ClientError> {
        let note = self.get_bytes("/checkpoint").await?;
        let cp = log
            .verify_checkpoint(&note)
            .map_err(|e| ClientError::Verification(format!("the latest checkpoint: {e}")))?;
        Ok((cp, note))
    }

    /// A consistency proof between two tree sizes.
    ///
    /// # Errors
    /// [`ClientError::Transport`].
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ClientError> {
        #[derive(Deserialize)]
        struct Proof {
            proof: Vec<String>,
        }
        let bytes = self
            .get_bytes(&format!("/api/v1/proofs/consistency?from={from}&to={to}"))
            .await?;
        let p: Proof = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Transport(format!("consistency proof: {e}")))?;
        p.proof
            .iter()
            .map(|h| from_base64(h).map_err(|e| ClientError::Transport(e.to_string())))
            .collect()
    }

    /// Posts a witness's cosignature line of the checkpoint of `size` to the server, which
    /// verifies it with `witness_key` (a cosigner verifier key), stores and publishes it.
    ///
    /// # Errors
    /// [`ClientError::Refused`] or [`ClientError::Transport`].
    pub async fn post_cosignature(
        &self,
        witness_key: &str,
        size: u64,
        line: &str,
    ) -> Result<(), ClientError> {
        let body = serde_json::json!({
            "witness_key": witness_key,
            "checkpoint_size": size,
            "cosignature": line,
        });
        let r = self
            .http
            .post(self.url("/api/v1/cosignatures"))
            .json(&body)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = r.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = r.text().await.unwrap_or_default();
        Err(ClientError::Refused {
            status,
            problem: describe_problem(&text),
        })
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| ClientError::Transport(format!("GET {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(ClientError::Transport(format!(
                "GET {url}: HTTP {}",
                r.status()
            )));
        }
        Ok(r.bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_vec())
    }

    /// Re-checks a receipt against the log's latest checkpoint: the receipt verifies, and the
    /// latest tree is consistent with the receipt's (a consistency proof from the server).
    ///
    /// # Errors
    /// [`ClientError::Verification`] when anything does not verify.
    pub async fn prove(&self, receipt: &Receipt, log: &LogVerifier) -> Result<Proved, ClientError> {
        let old = check_receipt(receipt, log, None)?;
        let (latest, _) = self.checkpoint(log).await?;
        if latest.size() < old.size() {
            return Err(ClientError::Verification(format!(
                "the log's latest checkpoint has {} entries, fewer than the {} of the receipt's checkpoint: the log was rolled back",
                latest.size(),
                old.size()
            )));
        }
        let proof = self.consistency_proof(old.size(), latest.size()).await?;
        verify_consistency(&proof, old.size(), old.root(), latest.size(), latest.root()).map_err(
            |e| {
                ClientError::Verification(format!(
                    "the latest checkpoint (size {}) is not consistent with the receipt's (size {}): {e}",
                    latest.size(),
                    old.size()
                ))
            },
        )?;
        Ok(Proved {
            receipt_checkpoint: old,
            latest,
        })
    }
}

/// A receipt proven against the latest checkpoint.
#[derive(Debug, Clone)]
pub struct Proved {
    /// The receipt's checkpoint.
    pub receipt_checkpoint: Checkpoint,
    /// The latest checkpoint, consistent with it.
    pub latest: Checkpoint,
}

/// Verifies a receipt offline and, if given, that its entry is `expected`.
///
/// # Errors
/// [`ClientError::Verification`].
pub fn check_receipt(
    receipt: &Receipt,
    log: &LogVerifier,
    expected: Option<&SignedStatement>,
) -> Result<Checkpoint, ClientError> {
    let cp = receipt
        .verify(log)
        .map_err(|e| ClientError::Verification(format!("the receipt: {e}")))?;
    if let Some(s) = expected
        && receipt.entry.signed() != s
    {
        return Err(ClientError::Verification(
            "the receipt is for another statement than the one submitted".into(),
        ));
    }
    Ok(cp)
}

/// The problem document of a refusal, one problem per line.
fn describe_problem(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_owned();
    };
    let mut out = String::new();
    if let Some(t) = v
        .get("detail")
        .or_else(|| v.get("title"))
        .and_then(|t| t.as_str())
    {
        out.push_str(t);
    }
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        for e in errors {
            out.push_str("\n  - ");
            let pointer = e.get("pointer").and_then(|p| p.as_str()).unwrap_or("");
            let code = e.get("code").and_then(|p| p.as_str()).unwrap_or("");
            let detail = e.get("detail").and_then(|p| p.as_str()).unwrap_or("");
            if !pointer.is_empty() {
                out.push_str(pointer);
                out.push(' ');
            }
            if !code.is_empty() {
                out.push_str(&format!("[{code}] "));
            }
            out.push_str(detail);
        }
    }
    if out.is_empty() { text.to_owned() } else { out }
}

/// A directory of receipts, one JSON file per entry (`entry-<index>.json`).
#[derive(Debug, Clone)]
pub struct ReceiptStore {
    dir: PathBuf,
}

impl ReceiptStore {
    /// The receipts directory at `dir` (created when first written).
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, index: u64) -> PathBuf {
        self.dir.join(format!("entry-{index}.json"))
    }

    /// Stores a receipt (replacing a receipt for the same entry, which proves the same thing).
    ///
    /// # Errors
    /// [`ClientError::Io`].
    pub fn save(&self, receipt: &Receipt) -> Result<PathBuf, ClientError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let path = self.path(receipt.index);
        std::fs::write(&path, receipt.to_json()).map_err(io_err(&path))?;
        Ok(path)
    }

    /// The receipt for entry `index`.
    ///
    /// # Errors
    /// [`ClientError::Io`] or [`ClientError::Invalid`].
    pub fn load(&self, index: u64) -> Result<Receipt, ClientError> {
        let path = self.path(index);
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        Receipt::from_json(&text)
            .map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))
    }

    /// Every stored receipt, by entry index. Files that are not receipts are skipped.
    ///
    /// # Errors
    /// [`ClientError::Io`] when the directory cannot be read.
    pub fn list(&self) -> Result<Vec<Receipt>, ClientError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.map_err(io_err(&self.dir))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            if !(name.starts_with("entry-") && name.ends_with(".json")) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(ent.path())
                && let Ok(r) = Receipt::from_json(&text)
            {
                out.push(r);
            }
        }
        out.sort_by_key(|r| r.index);
        Ok(out)
    }
}
