//! The log's side of C2SP tlog-witness: the server sends each new checkpoint to the witnesses it
//! is configured with (`POST <url>/add-checkpoint` with the witness's last size, a consistency
//! proof from it, and the signed checkpoint), checks the cosignature each returns with that
//! witness's key, and stores it as a posted one is stored ([`super::accept_cosignature`]), so that
//! `GET /api/v1/checkpoints/latest/cosigned` publishes it.
//!
//! One background task per witness, so a slow or absent witness delays no other and never a
//! submission. Each task looks at the latest published checkpoint about once a second (the
//! database is the source, so checkpoints made by another server process on the same database are
//! pushed too) and sends only the latest one: checkpoints made in between are skipped, since a
//! cosignature of the latest covers its history. A failure is logged and retried with exponential
//! backoff. A 409 answer carries the size the witness has; the task then retries from that size at
//! once. After a restart a task learns the witness's size from that 409.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use insyn_ledger::note::{CosignerVerifier, LogVerifier};
use insyn_store::{CheckpointRecord, Store, StoreError};
use tokio::task::JoinHandle;

use crate::ApiError;

/// A witness the server pushes its checkpoints to, written `URL VKEY`: the witness's base URL
/// (requests go to `<URL>/add-checkpoint`) and its cosigner verifier key (`name+keyhash+base64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessTarget {
    /// The base URL, `http://…` or `https://…`, without a trailing slash.
    pub url: String,
    /// The key the witness cosigns with.
    pub verifier: CosignerVerifier,
}

impl FromStr for WitnessTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split_whitespace();
        let (Some(url), Some(vkey), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "a witness is `URL VKEY` (its base URL and cosigner verifier key), not {s:?}"
            ));
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "the witness URL must be http:// or https://, not {url:?}"
            ));
        }
        let verifier = CosignerVerifier::from_verifier_key(vkey)
            .map_err(|e| format!("the witness key {vkey:?} is not a cosigner verifier key: {e}"))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            verifier,
        })
    }
}

impl fmt::Display for WitnessTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.url, self.verifier.verifier_key())
    }
}

/// How often and how patiently the server pushes to witnesses.
#[derive(Debug, Clone)]
pub struct WitnessPushConfig {
    /// How often each task looks for a new checkpoint.
    pub poll: Duration,
    /// The first wait after a failure; it doubles with each further failure.
    pub retry_min: Duration,
    /// The longest wait after failures.
    pub retry_max: Duration,
    /// How long one request to a witness may take.
    pub timeout: Duration,
}

impl Default for WitnessPushConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a checkpoint could not be cosigned this time (logged, then retried).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The log's checkpoint or proof could not be read.
    #[error("reading the log: {0}")]
    Store(#[from] StoreError),
    /// The witness could not be reached.
    #[error("{0}")]
    Http(String),
    /// The witness refused the checkpoint.
    #[error("the witness answered HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The witness has cosigned a larger tree than this log has.
    #[error(
        "the witness has cosigned a tree of {witness} entries, but this log has {log}: it was shown another view of the log, or the log was rolled back"
    )]
    Ahead {
        /// The witness's size.
        witness: u64,
        /// The log's size.
        log: u64,
    },
    /// The witness kept answering 409 with another size.
    #[error("the witness's size kept changing (409 three times)")]
    Conflicts,
    /// The witness's answer has no cosignature line of the configured witness.
    #[error("the answer has no cosignature line of {0}")]
    NoCosignature(String),
    /// The cosignature does not verify, or the store refused it.
    #[error("the cosignature is not accepted: {0}")]
    NotAccepted(#[from] ApiError),
}

/// Starts one background task per witness that pushes the latest checkpoint of the log in `store`
/// (signed by `log`) to it and stores the cosignature. The tasks run until aborted.
///
/// # Errors
/// [`PushError::Client`] when the HTTP client cannot be built.
pub fn spawn_witness_pushers(
    store: &Store,
    log: &Arc<LogVerifier>,
    targets: &[WitnessTarget],
    config: &WitnessPushConfig,
) -> Result<Vec<JoinHandle<()>>, PushError> {
    let http = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .map_err(|e| PushError::Client(e.to_string()))?;
    Ok(targets
        .iter()
        .map(|t| {
            let pusher = Pusher {
                store: store.clone(),
                log: log.clone(),
                target: t.clone(),
                http: http.clone(),
                config: config.clone(),
                witness_size: None,
            };
            tokio::spawn(pusher.run())
        })
        .collect())
}

struct Pusher {
    store: Store,
    log: Arc<LogVerifier>,
    target: WitnessTarget,
    http: reqwest::Client,
    config: WitnessPushConfig,
    /// The size the witness last said it has, once known.
    witness_size: Option<u64>,
}

impl Pusher {
    async fn run(mut self) {
        let mut done: Option<u64> = None;
        let mut delay = self.config.retry_min;
        loop {
            let wait = match self.step(&mut done).await {
                Ok(()) => {
                    delay = self.config.retry_min;
                    self.config.poll
                }
                Err(e) => {
                    tracing::warn!(
                        witness = %self.target.url,
                        "cannot get the latest checkpoint cosigned: {e}; retrying in {delay:?}"
                    );
                    let wait = delay;
                    delay = (delay * 2).min(self.config.retry_max);
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Gets the latest checkpoint cosigned, unless it already is; `done` is the largest size
    /// known to be cosigned by this witness.
    async fn step(&mut self, done: &mut Option<u64>) -> Result<(), PushError> {
        let Some(cp) = self.store.latest_checkpoint().await? else {
            return Ok(());
        };
        if done.is_some_and(|d| d >= cp.size) {
            return Ok(());
        }
        let name = self.target.verifier.name().to_owned();
        // Stored already: by this task before a restart, another server process, or the witness
        // posting it itself.
        if self
            .store
            .cosignatures(cp.size)
            .await?
            .iter()
            .any(|c| c.witness == name)
        {
            *done = Some(cp.size);
            return Ok(());
        }
        let line = self.add_checkpoint(&cp).await?;
        super::accept_cosignature(
            &self.store,
            &self.log,
            &self.target.verifier,
            cp.size,
            &line,
        )
        .await?;
        tracing::info!(witness = %self.target.url, size = cp.size, "checkpoint cosigned");
        *done = Some(cp.size);
        Ok(())
    }

    /// Sends the checkpoint to the witness; returns the witness's cosignature line.
    async fn add_checkpoint(&mut self, cp: &CheckpointRecord) -> Result<String, PushError> {
        let url = format!("{}/add-checkpoint", self.target.url);
        for _ in 0..3 {
            let old = self.witness_size.unwrap_or(0);
            if old > cp.size {
                return Err(PushError::Ahead {
                    witness: old,
                    log: cp.size,
                });
            }
            let proof = if old == 0 {
                Vec::new()
            } else {
                self.store.consistency_proof(old, cp.size).await?
            };
            let mut body = format!("old {old}\n");
            for h in &proof {
                body.push_str(&h.to_string());
                body.push('\n');
            }
            body.push('\n');
            body.push_str(&cp.note);
            let resp = self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(body)
                .send()
                .await
                .map_err(|e| PushError::Http(format!("POST {url}: {}", causes(&e))))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .map_err(|e| PushError::Http(format!("POST {url}: {}", causes(&e))))?;
            match status.as_u16() {
                200 => {
                    self.witness_size = Some(cp.size);
                    let prefix = format!("\u{2014} {} ", self.target.verifier.name());
                    return text
                        .lines()
                        .find(|l| l.starts_with(&prefix))
                        .map(|l| format!("{l}\n"))
                        .ok_or_else(|| {
                            PushError::NoCosignature(self.target.verifier.name().to_owned())
                        });
                }
                409 => {
                    let size: u64 = text.trim().parse().map_err(|_| PushError::Refused {
                        status: 409,
                        body: excerpt(&text),
                    })?;
                    self.witness_size = Some(size);
                }
                other => {
                    return Err(PushError::Refused {
                        status: other,
                        body: excerpt(&text),
                    });
                }
            }
        }
        Err(PushError::Conflicts)
    }
}

/// An error with its causes (reqwest's own message omits them: "connection refused" is in one).
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The start of a witness's answer, for a log line.
fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_url_and_key() {
        let key = insyn_ledger::keys::SigningKey::from_seed(&[5; 32]);
        let c = insyn_ledger::note::Cosigner::new("w.example/w", key).unwrap();
        let vkey = c.verifier().verifier_key();
        let t: WitnessTarget = format!("http://127.0.0.1:9/ {vkey}").parse().unwrap();
        assert_eq!(t.url, "http://127.0.0.1:9");
        assert_eq!(&t.verifier, c.verifier());
        assert_eq!(t.to_string().parse::<WitnessTarget>().unwrap(), t);
        for bad in [
            "http://127.0.0.1:9".to_owned(),
            format!("ftp://x {vkey}"),
            "http://x notakey".to_owned(),
            format!("http://x {vkey} extra"),
        ] {
            assert!(bad.parse::<WitnessTarget>().is_err(), "{bad}");
        }
    }
}
