//! One shared, in-memory replica of the ledger's state for the data pages: the key history and
//! registry (`insyn_domain::rules::LedgerState`), plus small indices the pages need (reports per
//! contract with their integration times, reviews per report, keys per actor).
//!
//! It is built by replaying the log once and then catches up with new entries on demand: a page
//! asks for the log's size (one query), and only entries the replica has not seen are read, in
//! chunks, and applied off the async runtime (signature checks are CPU work). No page ever reads
//! the whole log.

use std::collections::HashMap;

use insyn_domain::rules::LedgerState;
use insyn_domain::status::{ReportEvent, ReviewEvent};
use insyn_ledger::entry::{Actor, Body, ContractRef, Decision};
use insyn_ledger::keys::{KeyId, PublicKey};
use insyn_ledger::note::LogVerifier;
use insyn_store::{Store, StoredEntry};
use tokio::sync::RwLock;

use crate::error::Error;

/// A review as the replica keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReviewRecord {
    /// The review's own leaf index.
    pub(crate) index: u64,
    /// The reviewed report's leaf index.
    pub(crate) report: u64,
    /// The decision.
    pub(crate) decision: Decision,
    /// The auditor's account reference.
    pub(crate) auditor: String,
    /// When the log integrated it (Unix ms).
    pub(crate) integrated_at_ms: u64,
    /// The comment payload's SHA-256.
    pub(crate) comment: Option<[u8; 32]>,
}

/// The replica's contents after a prefix of the log.
pub(crate) struct Snapshot {
    /// The log's verifier (origin and key), from the log's recorded identity.
    pub(crate) verifier: LogVerifier,
    /// Keys and registry.
    pub(crate) ledger: LedgerState,
    /// Reports and corrections per contract, in log order (contents not filled in).
    reports: HashMap<ContractRef, Vec<ReportEvent>>,
    /// Reviews per reviewed report leaf, in log order.
    reviews: HashMap<u64, Vec<ReviewRecord>>,
    /// The keys ever added for each actor, in log order.
    keys_of: HashMap<Actor, Vec<KeyId>>,
}

impl Snapshot {
    fn new(verifier: LogVerifier) -> Self {
        let ledger = LedgerState::new(*verifier.public_key());
        Snapshot {
            verifier,
            ledger,
            reports: HashMap::new(),
            reviews: HashMap::new(),
            keys_of: HashMap::new(),
        }
    }

    /// The number of entries applied.
    pub(crate) fn len(&self) -> u64 {
        self.ledger.len()
    }

    fn apply(&mut self, stored: &StoredEntry) {
        let entry = &stored.entry;
        // Reports, corrections and reviews (nearly the whole log) are applied with the key their
        // signer's key history names, without checking the signature again: the sequencer
        // checked it before admitting the entry and does not check it again when it restarts
        // either, the report page checks it live, and the ledger page's full verification checks
        // every signature. Only the few entries that change keys and registrations are checked
        // here. Checking a million report signatures made the first data page after a restart
        // take 45 s.
        let statement = entry.statement();
        let key = insyn_domain::rules::is_about_reports(statement.body())
            .then(|| self.ledger.keys.signing_key(statement))
            .flatten();
        let applied = match key {
            Some(key) => self.ledger.apply_verified(entry, &key),
            None => self.ledger.apply(entry),
        };
        // An entry the rules refuse changes nothing (the sequencer never admits one; a verifier
        // would report it).
        if applied.is_err() {
            tracing::warn!(
                index = stored.index,
                "the portal's replica refused a ledger entry"
            );
            return;
        }
        let index = stored.index;
        let at = entry.integrated_at_ms();
        match entry.statement().body() {
            Body::ReportSubmitted { contract, period } => {
                self.reports
                    .entry(contract.clone())
                    .or_default()
                    .push(ReportEvent {
                        index,
                        period: *period,
                        integrated_at_ms: at,
                        supersedes: None,
                        report: None,
                    });
            }
            Body::ReportCorrected {
                contract,
                period,
                supersedes,
            } => {
                self.reports
                    .entry(contract.clone())
                    .or_default()
                    .push(ReportEvent {
                        index,
                        period: *period,
                        integrated_at_ms: at,
                        supersedes: Some(*supersedes),
                        report: None,
                    });
            }
            Body::ReportReviewed {
                report,
                decision,
                auditor,
            } => {
                self.reviews.entry(*report).or_default().push(ReviewRecord {
                    index,
                    report: *report,
                    decision: *decision,
                    auditor: auditor.as_str().to_owned(),
                    integrated_at_ms: at,
                    comment: entry.statement().payload_sha256(),
                });
            }
            Body::KeyAdded {
                subject,
                public_key,
            } => {
                if let Ok(key) = PublicKey::from_bytes(public_key) {
                    self.keys_of
                        .entry(subject.clone())
                        .or_default()
                        .push(key.key_id());
                }
            }
            _ => {}
        }
    }

    /// The reports and corrections of a contract, in log order.
    pub(crate) fn reports_of(&self, contract: &ContractRef) -> &[ReportEvent] {
        self.reports.get(contract).map_or(&[], Vec::as_slice)
    }

    /// The reviews of one report version, in log order.
    pub(crate) fn reviews_of(&self, report: u64) -> &[ReviewRecord] {
        self.reviews.get(&report).map_or(&[], Vec::as_slice)
    }

    /// The reviews of every version of a contract's reports, as `contract_status` takes them.
    pub(crate) fn review_events_of(&self, contract: &ContractRef) -> Vec<ReviewEvent> {
        let mut out: Vec<ReviewEvent> = self
            .reports_of(contract)
            .iter()
            .flat_map(|r| self.reviews_of(r.index))
            .map(|r| ReviewEvent {
                index: r.index,
                report: r.report,
                decision: r.decision,
            })
            .collect();
        out.sort_by_key(|r| r.index);
        out
    }

    /// The keys ever added for `actor`, in log order.
    pub(crate) fn keys_of(&self, actor: &Actor) -> &[KeyId] {
        self.keys_of.get(actor).map_or(&[], Vec::as_slice)
    }
}

/// Entries read per catch-up step.
const CHUNK: u64 = 1000;

/// The shared replica: `None` until the log has an identity.
#[derive(Default)]
pub(crate) struct Replica {
    state: RwLock<Option<Snapshot>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").finish_non_exhaustive()
    }
}

fn store_error(e: insyn_store::StoreError) -> Error {
    Error::Internal(format!("store: {e}"))
}

impl Replica {
    /// Catches up with the log as it is now, then runs `f` on the snapshot (`None` when the log
    /// has not started). `f` runs under a read lock: it should copy what it needs and return.
    pub(crate) async fn read<R>(
        &self,
        store: &Store,
        f: impl FnOnce(&Snapshot) -> R,
    ) -> Result<Option<R>, Error> {
        self.catch_up(store).await?;
        let guard = self.state.read().await;
        Ok(guard.as_ref().map(f))
    }

    async fn catch_up(&self, store: &Store) -> Result<(), Error> {
        let size = store.size().await.map_err(store_error)?;
        {
            let guard = self.state.read().await;
            if guard.as_ref().is_some_and(|s| s.len() >= size) {
                return Ok(());
            }
        }
        let mut guard = self.state.write().await;
        if guard.is_none() {
            let Some(identity) = store.log_identity().await.map_err(store_error)? else {
                return Ok(());
            };
            let verifier = LogVerifier::from_verifier_key(&identity.verifier_key)
                .map_err(|e| Error::Internal(format!("the log's verifier key: {e}")))?;
            *guard = Some(Snapshot::new(verifier));
        }
        loop {
            let Some(from) = guard.as_ref().map(Snapshot::len) else {
                return Ok(());
            };
            if from >= size {
                return Ok(());
            }
            let entries = store
                .entries(from..size.min(from.saturating_add(CHUNK)))
                .await
                .map_err(store_error)?;
            if entries.is_empty() {
                return Ok(());
            }
            let Some(mut snapshot) = guard.take() else {
                return Ok(());
            };
            // Signature checks are CPU work: off the runtime. Should the task fail, the
            // replica starts again from the beginning on the next request.
            let snapshot = tokio::task::spawn_blocking(move || {
                for e in &entries {
                    if e.index == snapshot.len() {
                        snapshot.apply(e);
                    }
                }
                snapshot
            })
            .await
            .map_err(|e| Error::Internal(format!("replica catch-up: {e}")))?;
            let advanced = snapshot.len() > from;
            *guard = Some(snapshot);
            if !advanced {
                return Err(Error::Internal(format!(
                    "the log's entries do not continue at index {from}"
                )));
            }
        }
    }
}
