//! The verification engine: reads a whole log from a [`LogSource`] and checks everything an
//! inspector can check without trusting the server.
//!
//! For each entry, in order: the served entry bundle holds it; its leaf hash equals the served
//! level-0 hash tile; it decodes strictly; the domain's [`LedgerState`] accepts it at that point
//! (the signature under the one acceptance rule with a key valid for the actor then, and every
//! business rule). Every served hash tile of higher levels must equal the recomputation, and the
//! recomputed root must be the checkpoint's, whose signature is checked with the log's key first.
//!
//! Against the inspector's state directory (see [`crate::state`]): the log must not have shrunk,
//! and the new tree must extend the one verified before. A resumed run continues from the saved
//! right edge, so it fetches only new tiles; computing the new root from the old right edge is
//! itself the consistency check. The key history is rebuilt from the entry cache, since
//! [`LedgerState`] cannot be saved (which costs a signature check per cached entry, in parallel).
//!
//! Signatures are checked on every core: bundles are fetched ahead on the runtime, then decoded
//! and their signatures checked in parallel (`presign`, the ledger's strict
//! `verify_many`) a few bundles ahead of the one being replayed; the replay in log order hands each
//! accepted verdict to [`LedgerState::apply_verified`] and verifies anything else itself, so every
//! finding is the one the sequential replay gives. The same holds for the cache replay.
//!
//! Memory: the entries are streamed; what grows is the [`LedgerState`] (the domain keeps about
//! 80 bytes per report) and nothing else.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use insyn_domain::rules::LedgerState;
use insyn_ledger::entry::{Entry, EntryError};
use insyn_ledger::hash::{Hash, leaf_hash};
use insyn_ledger::note::{LogVerifier, NoteError};
use insyn_ledger::tile::{TILE_HEIGHT, TILE_WIDTH, Tile, decode_bundle};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::presign::{KeyDirectory, Verdicts};
use crate::source::{LogSource, SourceError};
use crate::state::{CacheReader, CacheWriter, StateDir, StateError, Verified};
use crate::tree::{ComputedTile, StreamingTree};

/// At most this many findings are kept (the count of all is kept too).
pub const MAX_FINDINGS: usize = 1000;

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The log's verifier (origin and key), given by the inspector, never taken from the server.
    pub log: LogVerifier,
    /// The state directory, if the inspector keeps one.
    pub state: Option<StateDir>,
    /// Re-verify every entry even when the state would allow resuming.
    pub full: bool,
    /// Print a progress line to stderr every few seconds.
    pub progress: bool,
    /// Entry bundles fetched ahead of the one being verified.
    pub prefetch: usize,
}

impl VerifyOptions {
    /// Options for the log `log`, without state, quiet.
    #[must_use]
    pub fn new(log: LogVerifier) -> Self {
        Self {
            log,
            state: None,
            full: false,
            progress: false,
            prefetch: 8,
        }
    }
}

/// One thing that is wrong, at an entry when it can be pinned to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The first entry (leaf index) it concerns.
    pub index: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "entry {i}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What a verification run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// The size this inspector had verified before, if it had.
    pub previous_size: Option<u64>,
    /// The first entry verified from the server in this run (0 unless resumed).
    pub verified_from: u64,
    /// Entries read and checked from the source in this run.
    pub entries_verified: u64,
    /// Entries replayed from the inspector's cache to rebuild the key history.
    pub entries_replayed: u64,
    /// Statements whose signature and rules were checked (this run's entries plus replayed ones).
    pub signatures_checked: u64,
    /// Tiles (bundles and hash tiles) fetched.
    pub tiles_fetched: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// What is wrong, by entry index (up to [`MAX_FINDINGS`]).
    pub findings: Vec<Finding>,
    /// How many findings there were in all.
    pub finding_count: u64,
    /// Whether the state directory now records this checkpoint.
    pub state_saved: bool,
}

impl Report {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.finding_count == 0
    }

    /// The first bad entry, if a finding names one.
    #[must_use]
    pub fn first_bad_index(&self) -> Option<u64> {
        self.findings.iter().filter_map(|f| f.index).min()
    }
}

/// Why verification could not even run (a problem with the log itself is a [`Finding`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The checkpoint could not be fetched.
    #[error("cannot read the checkpoint: {0}")]
    Source(#[from] SourceError),
    /// The checkpoint is not signed by the given log key (or is malformed).
    #[error("the checkpoint does not verify with the given log key: {0}")]
    Checkpoint(#[from] NoteError),
    /// The state directory cannot be used.
    #[error("inspector state: {0}")]
    State(#[from] StateError),
    /// The state directory belongs to another log.
    #[error("the state directory belongs to log {0}, not to the one given")]
    OtherLog(String),
    /// The verification task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Verifies the log `source` serves. Runs the CPU work on a blocking thread and fetches ahead on
/// the runtime.
///
/// # Errors
/// [`VerifyError`] when verification cannot run; problems with the log are in the report.
pub async fn verify<S: LogSource>(
    source: Arc<S>,
    opts: &VerifyOptions,
) -> Result<Report, VerifyError> {
    let opts = opts.clone();
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || Run::new(source, opts, handle).run())
        .await
        .map_err(|e| VerifyError::Internal(e.to_string()))?
}

struct Findings {
    list: Vec<Finding>,
    count: u64,
}

impl Findings {
    fn add(&mut self, index: Option<u64>, message: String) {
        self.count += 1;
        if self.list.len() < MAX_FINDINGS {
            self.list.push(Finding { index, message });
        }
    }
}

/// An entry bundle and its level-0 hash tile, each as the source gave it.
type Fetched = (Result<Vec<u8>, SourceError>, Result<Vec<u8>, SourceError>);

/// Chunks (entry bundles, or groups of cached entries) whose signatures are checked ahead of the
/// one being replayed.
const PIPELINE_DEPTH: usize = 4;

/// A fetched bundle whose entries are decoded and whose signatures are being checked.
struct Prepared {
    fetched: Fetched,
    /// Each entry's strict decoding by position in the bundle (`None` before the run's start).
    decoded: Vec<Option<Result<Entry, EntryError>>>,
    verdicts: Verdicts,
}

impl Prepared {
    /// Decodes the entries of bundle at `base` (as the replay will read them: up to `width`) and
    /// starts checking the signatures of those from `start` on, up to the first entry that does
    /// not decode (after which the replay checks no rule).
    fn new(
        fetched: Fetched,
        base: u64,
        width: u16,
        start: u64,
        keys: &mut KeyDirectory,
        broken: &mut bool,
    ) -> Self {
        let decoded: Vec<Option<Result<Entry, EntryError>>> = match &fetched.0 {
            Ok(bytes) => decode_bundle(bytes)
                .map(|entries| {
                    entries
                        .iter()
                        .take(usize::from(width))
                        .enumerate()
                        .map(|(j, e)| (base + j as u64 >= start).then(|| Entry::decode(e)))
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let verdicts = keys.verify(decoded.iter().map(|d| match d {
            Some(Ok(e)) if !*broken => Some(e),
            Some(Err(_)) => {
                *broken = true;
                None
            }
            _ => None,
        }));
        Self {
            fetched,
            decoded,
            verdicts,
        }
    }
}

struct Run<S> {
    source: Arc<S>,
    opts: VerifyOptions,
    rt: Handle,
    findings: Findings,
    tiles_fetched: u64,
    started: Instant,
}

impl<S: LogSource> Run<S> {
    fn new(source: Arc<S>, opts: VerifyOptions, rt: Handle) -> Self {
        Self {
            source,
            opts,
            rt,
            findings: Findings {
                list: Vec::new(),
                count: 0,
            },
            tiles_fetched: 0,
            started: Instant::now(),
        }
    }

    fn fetch(&mut self, tile: Tile) -> Result<Vec<u8>, SourceError> {
        self.tiles_fetched += 1;
        let s = self.source.clone();
        self.rt.block_on(async move { s.tile(tile).await })
    }

    fn prefetch(&self, b: u64, width: u16) -> JoinHandle<Fetched> {
        let s = self.source.clone();
        self.rt.spawn(async move {
            let bad = |e: insyn_ledger::tile::TileError| SourceError::Format(e.to_string());
            match (Tile::entries(b, width), Tile::hashes(0, b, width)) {
                (Ok(bundle), Ok(hashes)) => tokio::join!(s.tile(bundle), s.tile(hashes)),
                (Err(e), _) | (_, Err(e)) => (Err(bad(e.clone())), Err(bad(e))),
            }
        })
    }

    #[allow(clippy::too_many_lines)]
    fn run(mut self) -> Result<Report, VerifyError> {
        let s = self.source.clone();
        let note = self.rt.block_on(async move { s.checkpoint().await })?;
        let cp = self.opts.log.verify_checkpoint(&note)?;
        let n = cp.size();
        let vkey = self.opts.log.verifier_key();
        let state_dir = self.opts.state.clone();
        let prev = match &state_dir {
            Some(sd) => sd.load()?,
            None => None,
        };
        if let Some(p) = &prev
            && p.verifier_key != vkey
        {
            return Err(VerifyError::OtherLog(p.verifier_key.clone()));
        }
        let prev_size = prev.as_ref().map(|p| p.tree.size());
        let mut report = Report {
            size: n,
            root: cp.root(),
            previous_size: prev_size,
            verified_from: 0,
            entries_verified: 0,
            entries_replayed: 0,
            signatures_checked: 0,
            tiles_fetched: 0,
            elapsed: Duration::ZERO,
            findings: Vec::new(),
            finding_count: 0,
            state_saved: false,
        };

        // A log that shrank: nothing else matters until it is explained.
        if let (Some(p), Some(sd)) = (&prev, &state_dir)
            && p.tree.size() > n
        {
            let changed = self.first_difference(sd, p, n)?;
            if let Some(i) = changed {
                self.findings.add(
                    Some(i),
                    "differs from the entry this inspector verified before (history rewritten)"
                        .into(),
                );
            }
            self.findings.add(
                Some(n),
                format!(
                    "the log was rolled back: this inspector verified {} entries (root {}), the server's checkpoint now has {n}; entries {n}..{} are gone",
                    p.tree.size(),
                    p.tree.root(),
                    p.tree.size()
                ),
            );
            return Ok(self.finish(report));
        }

        let resume = prev.is_some() && !self.opts.full;
        let start = if resume { prev_size.unwrap_or(0) } else { 0 };
        report.verified_from = start;
        let mut tree = match (&prev, resume) {
            (Some(p), true) => p.tree.clone(),
            _ => StreamingTree::new(),
        };
        let mut ledger = LedgerState::new(*self.opts.log.public_key());

        // The cache: replayed (resume) or compared (full run with state), and extended.
        let mut old_cache: Option<CacheReader> = match (&prev, &state_dir) {
            (Some(p), Some(sd)) => Some(sd.cache_reader(p.cache_len)?),
            _ => None,
        };
        let mut writer: Option<CacheWriter> = match (&state_dir, &prev) {
            (Some(sd), Some(p)) if resume => Some(sd.cache_writer(p.cache_len)?),
            (Some(sd), _) => Some(sd.fresh_cache_writer()?),
            (None, _) => None,
        };
        let mut keys = KeyDirectory::new(*self.opts.log.public_key());
        if resume && let Some(cache) = old_cache.as_mut() {
            // Chunks of cached entries: the next ones' signatures are checked on every core while
            // the key history replays the earlier ones in order.
            let mut inflight: VecDeque<(Vec<Entry>, Verdicts)> = VecDeque::new();
            let mut read = 0u64;
            let mut i = 0u64;
            loop {
                while inflight.len() < PIPELINE_DEPTH && read < start {
                    let take = (start - read).min(u64::from(TILE_WIDTH) * 4);
                    let mut chunk = Vec::new();
                    for _ in 0..take {
                        let Some(bytes) = cache.next_entry()? else {
                            return Err(StateError::Invalid(format!(
                                "the entry cache ends at {read}, the state says {start}"
                            ))
                            .into());
                        };
                        let entry = Entry::decode(&bytes).map_err(|e| {
                            StateError::Invalid(format!("cached entry {read} does not decode: {e}"))
                        })?;
                        chunk.push(entry);
                        read += 1;
                    }
                    let verdicts = keys.verify(chunk.iter().map(Some));
                    inflight.push_back((chunk, verdicts));
                }
                let Some((chunk, verdicts)) = inflight.pop_front() else {
                    break;
                };
                for (entry, key) in chunk.iter().zip(verdicts.wait()) {
                    // Verified when it was cached; its verdict then is the one that counted.
                    let _ = match key {
                        Some(k) => ledger.apply_verified(entry, &k),
                        None => ledger.apply(entry),
                    };
                    report.entries_replayed += 1;
                    report.signatures_checked += 1;
                    if self.opts.progress && i % 65_536 == 65_535 {
                        eprintln!(
                            "rebuilt the key history from {} of {start} cached entries",
                            i + 1
                        );
                    }
                    i += 1;
                }
            }
            old_cache = None;
        }

        let width_of = |b: u64| -> u16 {
            let w = (n - b * u64::from(TILE_WIDTH)).min(u64::from(TILE_WIDTH));
            u16::try_from(w).unwrap_or(TILE_WIDTH)
        };
        let first_bundle = start / u64::from(TILE_WIDTH);
        let bundles = n.div_ceil(u64::from(TILE_WIDTH));
        let mut queue: VecDeque<(u64, JoinHandle<Fetched>)> = VecDeque::new();
        let mut next = first_bundle;
        let mut prepared: VecDeque<Prepared> = VecDeque::new();
        let mut next_prepared = first_bundle;
        let mut prepare_broken = false;
        let mut higher: Vec<ComputedTile> = Vec::new();
        let mut replay_broken = false;
        let mut last_progress = Instant::now();
        let prev_root_at = prev.as_ref().map(|p| (p.tree.size(), p.tree.root()));

        'bundles: for b in first_bundle..bundles {
            // Fetched ahead on the runtime, then decoded and signature-checked ahead (on every
            // core) of the bundle replayed now.
            while next_prepared < bundles && prepared.len() < PIPELINE_DEPTH {
                while next < bundles && queue.len() < self.opts.prefetch.max(1) {
                    queue.push_back((next, self.prefetch(next, width_of(next))));
                    next += 1;
                }
                let Some((qb, handle)) = queue.pop_front() else {
                    break;
                };
                debug_assert_eq!(qb, next_prepared);
                let fetched = self
                    .rt
                    .block_on(handle)
                    .map_err(|e| VerifyError::Internal(e.to_string()))?;
                prepared.push_back(Prepared::new(
                    fetched,
                    next_prepared * u64::from(TILE_WIDTH),
                    width_of(next_prepared),
                    start,
                    &mut keys,
                    &mut prepare_broken,
                ));
                next_prepared += 1;
            }
            let Some(Prepared {
                fetched,
                mut decoded,
                verdicts,
            }) = prepared.pop_front()
            else {
                break;
            };
            let verdicts = verdicts.wait();
            self.tiles_fetched += 2;
            let width = width_of(b);
            let base = b * u64::from(TILE_WIDTH);
            let (bundle, hashes) = fetched;
            let bundle = match bundle {
                Ok(x) => x,
                Err(e) => {
                    self.findings.add(
                        Some(base.max(start)),
                        format!("cannot read entry bundle {b}: {e}"),
                    );
                    break 'bundles;
                }
            };
            let entries = match decode_bundle(&bundle) {
                Ok(e) => e,
                Err(e) => {
                    self.findings
                        .add(Some(base), format!("entry bundle {b} does not decode: {e}"));
                    Vec::new()
                }
            };
            let hashes = match hashes {
                Ok(h) => h,
                Err(e) => {
                    // A server holding fewer entries than its checkpoint may still serve the
                    // narrower tile of what it holds: enough to pin down the first bad entry.
                    let narrower = u16::try_from(entries.len())
                        .ok()
                        .filter(|&k| k > 0 && k < width)
                        .and_then(|k| Tile::hashes(0, b, k).ok())
                        .and_then(|t| self.fetch(t).ok());
                    self.findings.add(
                        Some(base + entries.len() as u64),
                        format!("cannot read the hash tile of entry bundle {b}: {e}"),
                    );
                    narrower.unwrap_or_default()
                }
            };
            if !hashes.is_empty()
                && hashes.len() != usize::from(width) * 32
                && hashes.len() != entries.len() * 32
            {
                self.findings.add(
                    Some(base),
                    format!(
                        "hash tile {} has {} bytes, expected {}",
                        Tile::hashes(0, b, width)
                            .map(|t| t.path())
                            .unwrap_or_default(),
                        hashes.len(),
                        usize::from(width) * 32
                    ),
                );
            }
            for (j, bytes) in entries.iter().enumerate().take(usize::from(width)) {
                let i = base + j as u64;
                let lh = leaf_hash(bytes);
                if i < start {
                    // Already verified: it must be the entry this inspector saw.
                    if tree.pending_leaves().get(j) != Some(&lh) {
                        self.findings.add(
                            Some(i),
                            "differs from the entry this inspector verified before (history rewritten)".into(),
                        );
                    }
                    continue;
                }
                if let Some(served) = hashes.get(j * 32..j * 32 + 32)
                    && served != lh.0
                {
                    self.findings.add(
                        Some(i),
                        format!(
                            "its leaf hash {lh} is not the one in the served hash tile ({}), so the served entry is not the one the tree commits to",
                            Hash(served.try_into().unwrap_or([0; 32]))
                        ),
                    );
                }
                if let Some(cache) = old_cache.as_mut()
                    && prev_size.is_some_and(|s| i < s)
                {
                    match cache.next_entry()? {
                        Some(old) if old == *bytes => {}
                        _ => self.findings.add(
                            Some(i),
                            "differs from the entry this inspector verified before (history rewritten)".into(),
                        ),
                    }
                }
                tree.push(lh, |c| {
                    if c.tile.level() != Some(0) {
                        higher.push(c);
                    }
                });
                if let Some((size, root)) = prev_root_at
                    && tree.size() == size
                    && !resume
                    && tree.root() != root
                {
                    self.findings.add(
                        None,
                        format!("the tree of the first {size} entries is not the one this inspector verified before"),
                    );
                }
                let entry = decoded
                    .get_mut(j)
                    .and_then(Option::take)
                    .unwrap_or_else(|| Entry::decode(bytes));
                match entry {
                    Err(e) => {
                        self.findings
                            .add(Some(i), format!("does not decode strictly: {e}"));
                        if !replay_broken {
                            replay_broken = true;
                            self.findings.add(
                                Some(i),
                                "key history and rules are not checked after an entry that does not decode".into(),
                            );
                        }
                    }
                    Ok(entry) if !replay_broken => {
                        report.signatures_checked += 1;
                        let verdict = match verdicts.get(j).copied().flatten() {
                            Some(key) => ledger.apply_verified(&entry, &key),
                            None => ledger.apply(&entry),
                        };
                        if let Err(problems) = verdict {
                            let text: Vec<String> =
                                problems.iter().map(ToString::to_string).collect();
                            self.findings.add(
                                Some(i),
                                format!("breaks the ledger's rules: {}", text.join("; ")),
                            );
                        }
                    }
                    Ok(_) => {}
                }
                if let Some(w) = writer.as_mut() {
                    w.push(bytes)?;
                }
                report.entries_verified += 1;
            }
            if entries.len() < usize::from(width) {
                let missing = base + entries.len() as u64;
                self.findings.add(
                    Some(missing),
                    format!(
                        "the server does not serve entry {missing}: bundle {b} has {} of {width} entries",
                        entries.len()
                    ),
                );
                break 'bundles;
            }
            for c in std::mem::take(&mut higher) {
                self.compare_tile(&c);
            }
            if self.opts.progress && last_progress.elapsed() >= Duration::from_secs(5) {
                last_progress = Instant::now();
                let done = tree.size();
                let secs = self.started.elapsed().as_secs_f64();
                eprintln!(
                    "verified {done} of {n} entries ({:.0}%, {:.0} entries/s)",
                    100.0 * done as f64 / n.max(1) as f64,
                    report.entries_verified as f64 / secs.max(0.001)
                );
            }
        }
        for h in queue {
            h.1.abort();
        }
        drop(prepared);

        if tree.size() == n {
            for c in tree.partial_tiles() {
                if c.tile.level() != Some(0) {
                    self.compare_tile(&c);
                }
            }
            if tree.root() != cp.root() {
                let pinned = match (&prev, &state_dir) {
                    (Some(p), Some(sd)) if resume => self.first_difference(sd, p, p.tree.size())?,
                    _ => None,
                };
                if let Some(i) = pinned {
                    self.findings.add(
                        Some(i),
                        "differs from the entry this inspector verified before (history rewritten)"
                            .into(),
                    );
                }
                self.findings.add(
                    pinned.or((self.findings.count == 0).then_some(start)),
                    format!(
                        "the checkpoint's root {} is not the root {} of the entries served{}",
                        cp.root(),
                        tree.root(),
                        if resume {
                            format!(
                                " on top of the {start} entries this inspector verified before: the log is not consistent with its earlier checkpoint"
                            )
                        } else {
                            String::new()
                        }
                    ),
                );
            }
        }

        if self.findings.count == 0
            && let Some(sd) = &state_dir
        {
            let cache_len = match writer.take() {
                Some(w) => w.finish()?,
                None => 0,
            };
            if !resume {
                sd.replace_cache()?;
            }
            sd.save(&Verified {
                verifier_key: vkey,
                checkpoint: String::from_utf8_lossy(&note).into_owned(),
                tree,
                cache_len,
            })?;
            report.state_saved = true;
        }
        Ok(self.finish(report))
    }

    fn finish(self, mut report: Report) -> Report {
        let mut findings = self.findings.list;
        findings.sort_by_key(|f| f.index.unwrap_or(u64::MAX));
        report.findings = findings;
        report.finding_count = self.findings.count;
        report.tiles_fetched = self.tiles_fetched;
        report.elapsed = self.started.elapsed();
        report
    }

    /// Compares a recomputed hash tile of level 1 or more with the served one.
    fn compare_tile(&mut self, c: &ComputedTile) {
        let level = c.tile.level().unwrap_or(0);
        let first_leaf = |pos: u64| pos << (u32::from(TILE_HEIGHT) * u32::from(level));
        let base = c.tile.index() * u64::from(TILE_WIDTH);
        match self.fetch(c.tile) {
            Ok(served) => {
                let mine: Vec<u8> = c.hashes.iter().flat_map(|h| h.0).collect();
                if served != mine {
                    let j = served
                        .chunks(32)
                        .zip(mine.chunks(32))
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    self.findings.add(
                        Some(first_leaf(base + j as u64)),
                        format!(
                            "served hash tile {} differs from the recomputed one at hash {j} (the subtree starting at this entry)",
                            c.tile.path()
                        ),
                    );
                }
            }
            Err(e) => self.findings.add(
                Some(first_leaf(base)),
                format!("cannot read hash tile {}: {e}", c.tile.path()),
            ),
        }
    }

    /// The first of the first `upto` entries that the source now serves differently from the
    /// inspector's cache (or does not serve), if any.
    fn first_difference(
        &mut self,
        sd: &StateDir,
        prev: &Verified,
        upto: u64,
    ) -> Result<Option<u64>, VerifyError> {
        let mut cache = sd.cache_reader(prev.cache_len)?;
        let upto = upto.min(prev.tree.size());
        let bundles = upto.div_ceil(u64::from(TILE_WIDTH));
        for b in 0..bundles {
            let base = b * u64::from(TILE_WIDTH);
            let width = u16::try_from((upto - base).min(u64::from(TILE_WIDTH))).unwrap_or(0);
            let Ok(tile) = Tile::entries(b, width) else {
                return Ok(Some(base));
            };
            let bundle = match self.fetch(tile) {
                Ok(x) => x,
                Err(_) => return Ok(Some(base)),
            };
            let Ok(entries) = decode_bundle(&bundle) else {
                return Ok(Some(base));
            };
            for j in 0..usize::from(width) {
                let old = cache.next_entry()?;
                if entries.get(j).copied() != old.as_deref() {
                    return Ok(Some(base + j as u64));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
