//! The inspectors' full verification of the ledger, started from the ledger page: the same
//! engine as `insyn verify` (`insyn_inspect::verify`), reading the server's own store through
//! `insyn_inspect::StoreSource`, in a background task.
//!
//! One verification runs at a time per portal process: pressing the button while one runs shows
//! the running one. The latest run (who started it, when, its progress and its result) is kept
//! in memory and written to the log; a restart forgets it, which loses nothing of the ledger.
//!
//! Progress is counted from the entry bundles the engine asks the source for. The engine fetches
//! [`PREFETCH`] bundles ahead of the one it checks, so "checked" is a lower bound within
//! `PREFETCH × 256` entries; the final result carries the engine's exact count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use insyn_inspect::{LogSource, SourceError, StoreSource, VerifyOptions};
use insyn_ledger::hash::to_hex;
use insyn_ledger::note::LogVerifier;
use insyn_ledger::tile::{TILE_WIDTH, Tile, TileKind};
use insyn_store::Store;

/// Entry bundles fetched ahead of the one being checked (a store is close, so few are enough).
pub(crate) const PREFETCH: usize = 4;

/// Findings shown on the page; the CSV has every one the engine kept (up to
/// `insyn_inspect::verify::MAX_FINDINGS`), and the count of all is kept too.
pub(crate) const FINDINGS_SHOWN: usize = 20;

/// How far a run has come, updated by the source as the engine reads.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The checkpoint's size once read (`u64::MAX` before).
    total: AtomicU64,
    /// One past the last entry of the entry bundles asked for so far.
    requested_end: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        Progress {
            total: AtomicU64::new(u64::MAX),
            requested_end: AtomicU64::new(0),
        }
    }

    /// The checkpoint's size, once read.
    pub(crate) fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|t| *t != u64::MAX)
    }

    /// Entries certainly checked (a lower bound, see the module documentation).
    pub(crate) fn checked(&self) -> u64 {
        let ahead = u64::try_from(PREFETCH).unwrap_or(0) * u64::from(TILE_WIDTH);
        let end = self.requested_end.load(Ordering::Relaxed);
        end.saturating_sub(ahead).min(self.total().unwrap_or(0))
    }
}

/// A source that records how far the engine has read.
struct Tracked<S> {
    inner: S,
    progress: Arc<Progress>,
}

impl<S: LogSource> LogSource for Tracked<S> {
    async fn checkpoint(&self) -> Result<Vec<u8>, SourceError> {
        let note = self.inner.checkpoint().await?;
        // The size is the note's second line; only for showing progress (the engine checks the
        // signature before it trusts anything in it).
        if let Some(size) = std::str::from_utf8(&note)
            .ok()
            .and_then(|t| t.lines().nth(1))
            .and_then(|l| l.parse::<u64>().ok())
        {
            self.progress.total.store(size, Ordering::Relaxed);
        }
        Ok(note)
    }

    async fn tile(&self, tile: Tile) -> Result<Vec<u8>, SourceError> {
        if tile.kind() == TileKind::Entries {
            self.progress
                .requested_end
                .fetch_max(tile.positions().end, Ordering::Relaxed);
        }
        self.inner.tile(tile).await
    }
}

/// What kind of problem a finding is, for a plain-language explanation (message key suffix).
pub(crate) fn finding_kind(message: &str) -> &'static str {
    if message.contains("breaks the ledger's rules") {
        "rules"
    } else if message.contains("does not decode") {
        "decode"
    } else if message.contains("history rewritten") || message.contains("rolled back") {
        "rewritten"
    } else if message.contains("leaf hash") {
        "leaf_hash"
    } else if message.contains("does not serve entry") || message.contains("cannot read") {
        "missing"
    } else if message.contains("hash tile") {
        "hash_tile"
    } else if message.contains("root") {
        "root"
    } else {
        "other"
    }
}

/// One finding as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FindingView {
    /// The first entry it concerns.
    pub(crate) index: Option<u64>,
    /// [`finding_kind`] of the message.
    pub(crate) kind: &'static str,
    /// The engine's own words (English).
    pub(crate) detail: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything verifies.
    Verified {
        /// The checkpoint's size.
        size: u64,
        /// The checkpoint's root, hex.
        root: String,
        /// Wall time in milliseconds.
        elapsed_ms: u64,
    },
    /// Something is wrong.
    Problems {
        /// The checkpoint's size.
        size: u64,
        /// The checkpoint's root, hex.
        root: String,
        /// How many findings in all.
        count: u64,
        /// The first bad entry, if a finding names one.
        first_bad: Option<u64>,
        /// The findings the engine kept, by entry.
        findings: Vec<FindingView>,
    },
    /// The verification could not run (message key suffix: `checkpoint`, `no_log`, `internal`).
    NotRun {
        /// Why, as a message key suffix.
        reason: &'static str,
    },
}

/// One verification run.
#[derive(Debug)]
pub(crate) struct Run {
    /// Increasing per process.
    pub(crate) id: u64,
    /// The account that started it (`account:N`).
    pub(crate) started_by: String,
    /// That account's display name and username, as shown on the page.
    pub(crate) started_by_name: String,
    /// When, Unix milliseconds.
    pub(crate) started_at_ms: i64,
    progress: Arc<Progress>,
    finished: Mutex<Option<(i64, Outcome)>>,
}

impl Run {
    /// The progress so far.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// When it finished and how, once it has.
    pub(crate) fn finished(&self) -> Option<(i64, Outcome)> {
        self.finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
impl Run {
    /// A run that has read its checkpoint of `total` entries and asked for entries up to
    /// `requested_end`, still running.
    pub(crate) fn running_for_test(total: u64, requested_end: u64) -> Self {
        let progress = Progress::new();
        progress.total.store(total, Ordering::Relaxed);
        progress
            .requested_end
            .store(requested_end, Ordering::Relaxed);
        Run {
            id: 7,
            started_by: "account:3".into(),
            started_by_name: "Ivar Inspektör (ivar)".into(),
            started_at_ms: 1_773_532_800_000,
            progress: Arc::new(progress),
            finished: Mutex::new(None),
        }
    }
}

/// The portal's verifications: at most one running, the latest kept.
#[derive(Debug, Default)]
pub(crate) struct Verifications {
    latest: Mutex<Option<Arc<Run>>>,
    next_id: AtomicU64,
}

/// Who starts a run.
pub(crate) struct Starter {
    pub(crate) reference: String,
    pub(crate) name: String,
    pub(crate) now_ms: i64,
}

impl Verifications {
    /// The latest run, running or finished.
    pub(crate) fn latest(&self) -> Option<Arc<Run>> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a verification of `store`'s log unless one is running. Returns the run that is
    /// now the latest, and whether this call started it. `clock` gives the finishing time.
    pub(crate) fn start(
        &self,
        store: &Store,
        starter: Starter,
        clock: impl Fn() -> i64 + Send + 'static,
    ) -> (Arc<Run>, bool) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(run) = latest.as_ref()
            && run.finished().is_none()
        {
            return (Arc::clone(run), false);
        }
        let run = Arc::new(Run {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            started_by: starter.reference,
            started_by_name: starter.name,
            started_at_ms: starter.now_ms,
            progress: Arc::new(Progress::new()),
            finished: Mutex::new(None),
        });
        *latest = Some(Arc::clone(&run));
        drop(latest);
        tracing::info!(
            run = run.id,
            started_by = run.started_by,
            "full verification of the ledger started from the portal"
        );
        let store = store.clone();
        let task_run = Arc::clone(&run);
        tokio::spawn(async move {
            let outcome = verify_store(store, Arc::clone(&task_run.progress)).await;
            match &outcome {
                Outcome::Verified { size, root, .. } => tracing::info!(
                    run = task_run.id,
                    size,
                    root,
                    "full verification: the ledger verifies"
                ),
                Outcome::Problems {
                    count, first_bad, ..
                } => tracing::warn!(
                    run = task_run.id,
                    count,
                    first_bad,
                    "full verification: the ledger does NOT verify"
                ),
                Outcome::NotRun { reason } => {
                    tracing::error!(run = task_run.id, reason, "full verification could not run");
                }
            }
            *task_run
                .finished
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((clock(), outcome));
        });
        (run, true)
    }
}

/// The first bad entry for people: a finding about an upper hash tile names the first entry of
/// its subtree (256 or more entries), so an entry-specific finding, when there is one, says
/// better which entry is wrong.
fn first_bad(report: &insyn_inspect::Report) -> Option<u64> {
    report
        .findings
        .iter()
        .filter(|f| finding_kind(&f.message) != "hash_tile")
        .filter_map(|f| f.index)
        .min()
        .or_else(|| report.first_bad_index())
}

/// Runs the engine over the store, against the log's recorded verifier key.
async fn verify_store(store: Store, progress: Arc<Progress>) -> Outcome {
    let identity = match store.log_identity().await {
        Ok(Some(i)) => i,
        Ok(None) => return Outcome::NotRun { reason: "no_log" },
        Err(e) => {
            tracing::error!(error = %e, "verification: cannot read the log's identity");
            return Outcome::NotRun { reason: "internal" };
        }
    };
    let log = match LogVerifier::from_verifier_key(&identity.verifier_key) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "verification: the recorded verifier key is unusable");
            return Outcome::NotRun { reason: "internal" };
        }
    };
    let mut opts = VerifyOptions::new(log);
    opts.prefetch = PREFETCH;
    let source = Tracked {
        inner: StoreSource::new(store),
        progress,
    };
    match insyn_inspect::verify(Arc::new(source), &opts).await {
        Ok(report) if report.is_ok() => Outcome::Verified {
            size: report.size,
            root: to_hex(&report.root),
            elapsed_ms: u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
        },
        Ok(report) => Outcome::Problems {
            size: report.size,
            root: to_hex(&report.root),
            count: report.finding_count,
            first_bad: first_bad(&report),
            findings: report
                .findings
                .iter()
                .map(|f| FindingView {
                    index: f.index,
                    kind: finding_kind(&f.message),
                    detail: f.message.clone(),
                })
                .collect(),
        },
        Err(insyn_inspect::verify::VerifyError::Checkpoint(e)) => {
            tracing::error!(error = %e, "verification: the checkpoint does not verify");
            Outcome::NotRun {
                reason: "checkpoint",
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "verification could not run");
            Outcome::NotRun { reason: "internal" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_a_lower_bound() {
        let p = Progress::new();
        assert_eq!(p.total(), None);
        assert_eq!(p.checked(), 0);
        p.total.store(5000, Ordering::Relaxed);
        p.requested_end.store(4 * 256, Ordering::Relaxed);
        assert_eq!(p.checked(), 0);
        p.requested_end.store(10 * 256, Ordering::Relaxed);
        assert_eq!(p.checked(), 6 * 256);
        p.requested_end.store(5000, Ordering::Relaxed);
        assert_eq!(p.checked(), 5000 - 4 * 256);
    }

    #[tokio::test]
    async fn a_second_start_shows_the_running_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("x.db").display()
        ))
        .await
        .expect("store");
        let v = Verifications::default();
        let running = Arc::new(Run::running_for_test(10, 0));
        *v.latest.lock().expect("lock") = Some(Arc::clone(&running));
        let starter = || Starter {
            reference: "account:9".into(),
            name: "Other".into(),
            now_ms: 0,
        };
        let (run, started) = v.start(&store, starter(), || 0);
        assert!(!started);
        assert!(Arc::ptr_eq(&run, &running));
        // Once it has finished, a new one starts (over an empty store it cannot run).
        *running.finished.lock().expect("lock") = Some((1, Outcome::NotRun { reason: "no_log" }));
        let (run, started) = v.start(&store, starter(), || 2);
        assert!(started);
        assert_eq!(run.started_by, "account:9");
        for _ in 0..200 {
            if run.finished().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            run.finished(),
            Some((2, Outcome::NotRun { reason: "no_log" }))
        );
    }

    #[test]
    fn findings_are_classified() {
        assert_eq!(
            finding_kind("breaks the ledger's rules: signature"),
            "rules"
        );
        assert_eq!(finding_kind("does not decode strictly: x"), "decode");
        assert_eq!(
            finding_kind("its leaf hash abc is not the one in the served hash tile"),
            "leaf_hash"
        );
        assert_eq!(
            finding_kind("the checkpoint's root a is not the root b of the entries served"),
            "root"
        );
        assert_eq!(finding_kind("something new"), "other");
    }
}
