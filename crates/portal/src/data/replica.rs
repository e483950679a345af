//! One shared, in-memory replica of the registered world for the data pages: the key history and
//! the registry of municipalities, providers and contracts (`insyn_domain::rules::LedgerState`
//! without reports), plus the reviews per report and the keys per actor.
//!
//! Reports and corrections, nearly the whole log, are not in it: the pages read them from the
//! store's report index. The replica reads only the other entries, through the index on kind, so
//! its memory and its build time grow with the registered world and the reviews, not with the
//! log. It is built once and then catches up on demand: a page asks for the log's size (one
//! query), and only entries the replica has not seen are read, in chunks, and applied off the
//! async runtime (signature checks are CPU work).

use std::collections::HashMap;

use insyn_domain::rules::LedgerState;
use insyn_ledger::entry::{Actor, Body, Decision, Kind};
use insyn_ledger::id::MunicipalityCode;
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
    /// The reviewing municipality (the review's signer).
    pub(crate) reviewer: Option<MunicipalityCode>,
    /// When the log integrated it (Unix ms).
    pub(crate) integrated_at_ms: u64,
    /// The comment payload's SHA-256.
    pub(crate) comment: Option<[u8; 32]>,
}

/// The replica's contents after a prefix of the log.
pub(crate) struct Snapshot {
    /// The log's verifier (origin and key), from the log's recorded identity.
    pub(crate) verifier: LogVerifier,
    /// Keys and registry (no reports).
    pub(crate) ledger: LedgerState,
    /// Reviews per reviewed report leaf, in log order.
    reviews: HashMap<u64, Vec<ReviewRecord>>,
    /// The keys ever added for each actor, in log order.
    keys_of: HashMap<Actor, Vec<KeyId>>,
}

impl Snapshot {
    fn new(verifier: LogVerifier) -> Self {
        let ledger = LedgerState::without_reports(*verifier.public_key());
        Snapshot {
            verifier,
            ledger,
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
        // Keys and registrations are checked as they are applied (a few per provider); reviews
        // only move the index on (the sequencer checked them, and the ledger page's full
        // verification checks every signature).
        if self.ledger.apply(entry).is_err() {
            // An entry the rules refuse changes nothing (the sequencer never admits one; a
            // verifier would report it).
            tracing::warn!(
                index = stored.index,
                "the portal's replica refused a ledger entry"
            );
            return;
        }
        let index = stored.index;
        let at = entry.integrated_at_ms();
        match entry.statement().body() {
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
                    reviewer: match entry.statement().actor() {
                        Actor::Municipality(m) => Some(*m),
                        _ => None,
                    },
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

    /// The reviews of one report version, in log order.
    pub(crate) fn reviews_of(&self, report: u64) -> &[ReviewRecord] {
        self.reviews.get(&report).map_or(&[], Vec::as_slice)
    }

    /// The report versions whose latest review, by one of `reviewers`, asks the provider a
    /// question, with that review, by report.
    pub(crate) fn questions_by(&self, reviewers: &[MunicipalityCode]) -> Vec<ReviewRecord> {
        let mut out: Vec<ReviewRecord> = self
            .reviews
            .values()
            .filter_map(|list| list.last())
            .filter(|r| {
                r.decision == Decision::Question
                    && r.reviewer.is_some_and(|m| reviewers.contains(&m))
            })
            .cloned()
            .collect();
        out.sort_by_key(|r| r.report);
        out
    }

    /// The keys ever added for `actor`, in log order.
    pub(crate) fn keys_of(&self, actor: &Actor) -> &[KeyId] {
        self.keys_of.get(actor).map_or(&[], Vec::as_slice)
    }
}

/// Entries read per catch-up step.
const CHUNK: u64 = 1000;

/// The kinds the replica reads: all but reports and corrections, which the pages read from the
/// store's report index.
const READ_KINDS: [Kind; 7] = [
    Kind::MunicipalityRegistered,
    Kind::ProviderRegistered,
    Kind::ContractRegistered,
    Kind::KeyAdded,
    Kind::KeyRevoked,
    Kind::ReportReviewed,
    Kind::InspectorRegistered,
];

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
                .entries_of_kinds(&READ_KINDS, from..size, CHUNK)
                .await
                .map_err(store_error)?;
            // Fewer than a chunk: nothing but reports and corrections follow up to `size`.
            let to = if entries.len() < usize::try_from(CHUNK).unwrap_or(usize::MAX) {
                size
            } else {
                entries.last().map_or(size, |e| e.index + 1)
            };
            let Some(mut snapshot) = guard.take() else {
                return Ok(());
            };
            // Signature checks are CPU work: off the runtime. Should the task fail, the
            // replica starts again from the beginning on the next request.
            let snapshot = tokio::task::spawn_blocking(move || {
                for e in &entries {
                    // The entries skipped since the last one read are reports and corrections.
                    snapshot.ledger.pass_over_reports_to(e.index);
                    if e.index == snapshot.len() {
                        snapshot.apply(e);
                    }
                }
                snapshot.ledger.pass_over_reports_to(to);
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
