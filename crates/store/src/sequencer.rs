//! The sequencer: the only writer of the log. It batches submissions, verifies their signatures
//! off the async runtime, and integrates each batch in ONE database transaction under the log's
//! write lock; only after the commit does any submitter get an answer.
//!
//! Architecture invariants:
//! - Indices are assigned only while holding the log's write lock (PostgreSQL:
//!   `pg_advisory_xact_lock`; SQLite: the single writer of `BEGIN IMMEDIATE`), from the size read
//!   under that lock, so two processes on one database never assign the same index nor leave a gap.
//! - A receipt is sent only after the transaction holding its entry, hashes and checkpoint has
//!   committed (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`): nothing
//!   acknowledged can be lost.
//! - After a failed transaction the in-memory state (policy, cached tree edge) is thrown away
//!   and rebuilt from the database, so no half state survives.
//! - The store decides nothing about admission: an [`AdmissionPolicy`] does.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, Entry, Kind, SignedStatement, Statement};
use insyn_ledger::hash::{Hash, leaf_hash, sha256};
use insyn_ledger::keys::{PublicKey, SignatureError, SignedMessage, verify_many};
use insyn_ledger::merkle::{self, stored_hash_index};
use insyn_ledger::note::LogSigner;
use insyn_ledger::receipt::Receipt;
use insyn_ledger::tile::{TILE_WIDTH, Tile, TileKind, encode_bundle};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::entity::{
    checkpoints, entries, full_tiles, log_meta, payload_carriers, payloads, report_figures,
    report_index, stored_hashes,
};
use crate::error::to_db;
use crate::hashes::HashCache;
use crate::held::{AppendTxn, HeldSqlite};
use crate::known_reports::KnownReports;
use crate::reads::{committed_size, entries_in, stored_entry};
use crate::runs::{LEAF, PAYLOAD, RunShape, Runs};
use crate::wal::WalCheckpointer;
use crate::{Store, StoreError};

/// Advisory lock key (PostgreSQL) that serialises appends across processes ("insyn_lg").
const LOG_LOCK_KEY: i64 = 0x696e_7379_6e5f_6c67;

/// Most rows per multi-row INSERT (a power of two): keeps every statement well under both
/// databases' parameter limits.
pub(crate) const INSERT_CHUNK: usize = 256;

/// Entries read per query while catching up.
const CATCH_UP_CHUNK: u64 = 2000;

/// The outcome of the signature check the sequencer does before admission, off the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// `verify_strict` accepted the signature with this key, the one the statement's key ID
    /// names. Whether the key was valid for the actor at this point is still the policy's call.
    Verified(PublicKey),
    /// The signature does not verify with the key the statement names.
    Invalid(SignatureError),
    /// The key was not known when the batch was verified (it may have been added by an entry
    /// integrated since, even in the same batch): the policy must verify the signature itself.
    Unchecked,
}

/// One candidate as the policy sees it at admission time.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The leaf index it would get.
    pub index: u64,
    /// The entry it would become (with its integration time).
    pub entry: &'a Entry,
    /// Its payload, if one was submitted (its hash already matches the statement's).
    pub payload: Option<&'a [u8]>,
    /// What the sequencer found about its signature.
    pub signature: &'a SignatureCheck,
    /// The reports in the log (and earlier in this batch) that the candidate's statement names:
    /// the original and latest version of the report for its contract and period, and the
    /// report a correction or review points at. Read from the database under the log's write
    /// lock, so a policy need keep nothing per report in memory.
    pub reports: &'a KnownReports,
}

/// The admission policy: the in-memory state of the log that decides what may be appended next.
/// The domain crate implements it; the store only calls it.
///
/// The sequencer calls [`AdmissionPolicy::apply`] for every entry of the log, in order, exactly
/// once per policy value: entries another process appended (catch-up) and entries this sequencer
/// admits. A policy value is thrown away after a failed transaction and a fresh one rebuilt from
/// the log, so `apply` may assume the entry really is the next one.
///
/// Keep the work in `check` small and stateful: it runs inside the append transaction, under the
/// log's write lock. Stateless validation (report JSON against its schema, say) belongs before
/// [`Sequencer::submit`].
pub trait AdmissionPolicy: Send + 'static {
    /// One reason to refuse a candidate.
    type Problem: Send + Sync + fmt::Debug + 'static;

    /// The public key with the statement's key ID (the log key for the operator), if this state
    /// knows it, revoked or not. Used only to verify signatures in bulk before admission.
    fn public_key(&self, statement: &Statement) -> Option<PublicKey>;

    /// Every problem that keeps `candidate` out of the log at `candidate.index`; empty to admit.
    fn check(&self, candidate: &Admission<'_>) -> Vec<Self::Problem>;

    /// Folds an entry of the log (at `index`) into the state.
    fn apply(&mut self, index: u64, entry: &Entry);
}

/// Why a submission was not integrated.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError<P: fmt::Debug> {
    /// The policy refused it; every problem is listed. Nothing was stored.
    #[error("refused: {0:?}")]
    Rejected(Vec<P>),
    /// The database failed while integrating its batch (unreachable, disk full, …). Nothing of
    /// the batch was stored; the sequencer recovers by itself, so retrying later may succeed.
    #[error("the log is unavailable: {0}")]
    Unavailable(String),
    /// The sequencer's queue is full ([`Sequencer::try_submit`] only); retry later.
    #[error("the log is overloaded; retry later")]
    Overloaded,
    /// The sequencer has stopped.
    #[error("the sequencer has stopped")]
    Closed,
}

/// Why a submission could not even become a candidate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateError {
    /// The payload's SHA-256 is not the one the statement signs.
    #[error("the payload's SHA-256 is {actual}, the statement names {named}")]
    PayloadMismatch {
        /// Hex of the hash the statement names.
        named: String,
        /// Hex of the payload's hash.
        actual: String,
    },
    /// A payload was sent with a statement that names none.
    #[error("a payload was sent but the statement names no payload hash")]
    UnexpectedPayload,
}

/// A decoded submission waiting to be sequenced: signed statement and optional payload, whose
/// hash is checked to match the statement when the candidate is made.
#[derive(Debug, Clone)]
pub struct Candidate {
    signed: SignedStatement,
    payload: Option<Vec<u8>>,
    dedupe: [u8; 32],
    figures: Option<ReportFigures>,
}

/// The figures of a report that the portal's charts sum, taken from its validated payload by
/// whoever makes the candidate (the store does not parse reports). Stored in `report_figures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFigures {
    /// Costs invoiced for the month, SEK.
    pub invoiced_sek: u64,
    /// Active participants at the month's end.
    pub active: u32,
}

impl Candidate {
    /// Makes a candidate.
    ///
    /// # Errors
    /// [`CandidateError`] when the payload does not match the statement's payload hash.
    pub fn new(signed: SignedStatement, payload: Option<Vec<u8>>) -> Result<Self, CandidateError> {
        match (signed.statement().payload_sha256(), &payload) {
            (Some(named), Some(bytes)) => {
                let actual = sha256(bytes);
                if actual != named {
                    return Err(CandidateError::PayloadMismatch {
                        named: hex32(&named),
                        actual: hex32(&actual),
                    });
                }
            }
            (None, Some(_)) => return Err(CandidateError::UnexpectedPayload),
            _ => {}
        }
        let dedupe = signed.dedupe_hash();
        Ok(Self {
            signed,
            payload,
            dedupe,
            figures: None,
        })
    }

    /// The same candidate carrying its report's figures (for report and correction statements;
    /// ignored for any other kind).
    #[must_use]
    pub fn with_figures(mut self, figures: ReportFigures) -> Self {
        self.figures = Some(figures);
        self
    }

    /// The signed statement.
    #[must_use]
    pub fn signed(&self) -> &SignedStatement {
        &self.signed
    }

    /// The deduplication hash, SHA-256(statement || signature).
    #[must_use]
    pub fn dedupe_hash(&self) -> [u8; 32] {
        self.dedupe
    }
}

fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A submission the log holds: its receipt, and whether it was already there (a resubmission).
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Entry, index, signed checkpoint and inclusion proof, verifiable offline.
    pub receipt: Receipt,
    /// True when the same statement and signature were integrated earlier; the receipt is for
    /// that entry.
    pub duplicate: bool,
}

/// Batching settings.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// The most candidates integrated in one transaction.
    pub max_batch: usize,
    /// How long to wait for more candidates once the first one of a batch arrived.
    pub max_wait: Duration,
    /// How many candidates may wait in the queue (back-pressure beyond that).
    pub queue: usize,
    /// SQLite: the WAL size, in pages, past which the sequencer waits for the WAL to be
    /// checkpointed completely before its next transaction (see `wal.rs`).
    pub wal_limit_pages: u32,
    /// How the runs of the lookups by leaf hash and by payload hash are merged (see `runs.rs`).
    pub runs: RunShape,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        Self {
            max_batch: 2048,
            max_wait: Duration::from_millis(2),
            queue: 16_384,
            wal_limit_pages: crate::wal::WAL_LIMIT_PAGES,
            runs: RunShape::default(),
        }
    }
}

type Reply<P> = oneshot::Sender<Result<Accepted, SubmitError<P>>>;

struct Request<P: fmt::Debug> {
    candidate: Candidate,
    reply: Reply<P>,
}

/// A handle for submitting to the sequencer; cheap to clone. The sequencer task stops when every
/// handle is dropped, after integrating what is already queued.
pub struct Sequencer<P: AdmissionPolicy> {
    tx: mpsc::Sender<Request<P::Problem>>,
}

impl<P: AdmissionPolicy> Clone for Sequencer<P> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<P: AdmissionPolicy> fmt::Debug for Sequencer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sequencer")
            .field("queued", &(self.tx.max_capacity() - self.tx.capacity()))
            .finish()
    }
}

impl<P: AdmissionPolicy> Sequencer<P> {
    /// Starts the sequencer over `store`, signing checkpoints with `signer`. `fresh_policy`
    /// makes the policy for an empty log; the sequencer catches it up with the whole log before
    /// returning (and again, from scratch, after a failed transaction).
    ///
    /// On first start it records the log's identity (origin, verifier key) and publishes the
    /// checkpoint of the empty tree; later starts refuse a signer with another identity.
    ///
    /// Returns the handle and the sequencer task (which ends once every handle is dropped).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the database belongs to a log with another key or
    /// origin; database errors while catching up.
    pub async fn start(
        store: Store,
        signer: LogSigner,
        fresh_policy: impl Fn() -> P + Send + Sync + 'static,
        config: SequencerConfig,
    ) -> Result<(Self, JoinHandle<()>), StoreError> {
        init_log(&store, &signer).await?;
        let policy = fresh_policy();
        let wal = WalCheckpointer::new(&store, config.wal_limit_pages);
        let held = match &store.sqlite_url {
            Some(url) => Some(HeldSqlite::open(url).await?),
            None => None,
        };
        let mut worker = Worker {
            held,
            store,
            signer,
            fresh: Box::new(fresh_policy),
            policy,
            known: 0,
            last_time: 0,
            cache: HashCache::default(),
            tail: TileTail::default(),
            healthy: true,
            config,
            wal,
            runs: None,
        };
        worker.catch_up_outside().await?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = run_on_own_thread(worker, rx)?;
        Ok((Self { tx }, task))
    }

    /// Submits a candidate and waits for its receipt (or refusal). Waits for queue space when the
    /// queue is full.
    ///
    /// # Errors
    /// [`SubmitError::Rejected`] with every problem, [`SubmitError::Unavailable`] when the batch
    /// could not be stored, [`SubmitError::Closed`] when the sequencer has stopped.
    pub async fn submit(&self, candidate: Candidate) -> Result<Accepted, SubmitError<P::Problem>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { candidate, reply })
            .await
            .map_err(|_| SubmitError::Closed)?;
        rx.await.map_err(|_| SubmitError::Closed)?
    }

    /// Like [`Sequencer::submit`], but fails at once with [`SubmitError::Overloaded`] when the
    /// queue is full (for an HTTP 503 with `Retry-After`).
    ///
    /// # Errors
    /// As [`Sequencer::submit`], plus [`SubmitError::Overloaded`].
    pub async fn try_submit(
        &self,
        candidate: Candidate,
    ) -> Result<Accepted, SubmitError<P::Problem>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Request { candidate, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SubmitError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => SubmitError::Closed,
            })?;
        rx.await.map_err(|_| SubmitError::Closed)?
    }
}

/// Runs the worker on a thread of its own, with a single-threaded runtime of its own.
///
/// On the server's runtime the worker waited behind the HTTP tasks after every database
/// statement: a batch's commit wakes every submitter of the batch, and the worker's next wake-up
/// (the answer to its `BEGIN`) was queued after them all, several milliseconds per batch while
/// the one writer of the log stood still. Its own thread wakes as soon as the database answers.
/// The signature checks still run on a blocking pool (this runtime's threads, `insyn-verify`),
/// beside the worker.
///
/// The returned task ends when the worker does.
fn run_on_own_thread<P: AdmissionPolicy>(
    worker: Worker<P>,
    rx: mpsc::Receiver<Request<P::Problem>>,
) -> Result<JoinHandle<()>, StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("insyn-verify")
        .build()
        .map_err(|e| {
            StoreError::Unavailable(format!("cannot start the sequencer's runtime: {e}"))
        })?;
    let (done, finished) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("insyn-sequencer".to_owned())
        .spawn(move || {
            runtime.block_on(worker.run(rx));
            let _ = done.send(());
        })
        .map_err(|e| {
            StoreError::Unavailable(format!("cannot start the sequencer's thread: {e}"))
        })?;
    Ok(tokio::spawn(async move {
        if finished.await.is_err() {
            tracing::error!("the sequencer's thread ended without finishing (it panicked)");
        }
    }))
}

/// The machine form of an actor, as stored in `entries.actor`: `operator`,
/// `municipality:0180`, `provider:5560360793` or `inspector:<name>`.
#[must_use]
pub fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::Operator => "operator".to_owned(),
        Actor::Municipality(m) => format!("municipality:{}", m.code()),
        Actor::Provider(p) => format!("provider:{}", p.digits()),
        Actor::Inspector(i) => format!("inspector:{}", i.as_str()),
    }
}

/// Records the log's identity on first start (or checks it), and publishes the empty tree's
/// checkpoint when the log has none.
async fn init_log(store: &Store, signer: &LogSigner) -> Result<(), StoreError> {
    let origin = signer.verifier().name().to_owned();
    let vkey = signer.verifier_key();
    let txn = begin_locked(store).await?;
    match log_meta::Entity::find_by_id(1).one(&txn).await? {
        Some(meta) if meta.origin == origin && meta.verifier_key == vkey => {}
        Some(meta) => {
            return Err(StoreError::InvalidInput(format!(
                "this database holds the log {} with key {}, not {origin} with key {vkey}",
                meta.origin, meta.verifier_key
            )));
        }
        None => {
            log_meta::Entity::insert(log_meta::ActiveModel {
                id: Set(1),
                origin: Set(origin.clone()),
                verifier_key: Set(vkey),
                created_at: Set(to_db(store.clock.now_ms())?),
            })
            .exec_without_returning(&txn)
            .await?;
        }
    }
    if committed_size(&txn).await? == 0
        && checkpoints::Entity::find_by_id(0)
            .one(&txn)
            .await?
            .is_none()
    {
        let note = sign(signer, &origin, 0, insyn_ledger::hash::EMPTY_ROOT)?;
        checkpoints::Entity::insert(checkpoints::ActiveModel {
            size: Set(0),
            note: Set(note),
            created_at: Set(to_db(store.clock.now_ms())?),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Begins a transaction holding the log's write lock.
pub(crate) async fn begin_locked(store: &Store) -> Result<DatabaseTransaction, StoreError> {
    let txn = store
        .db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOG_LOCK_KEY})"))
            .await?;
    }
    Ok(txn)
}

fn sign(signer: &LogSigner, origin: &str, size: u64, root: Hash) -> Result<String, StoreError> {
    let cp = Checkpoint::new(origin, size, root).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let note = signer
        .sign_checkpoint(&cp)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    String::from_utf8(note).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The stored hash indexes of the roots of the perfect subtrees that make up a tree of `size`
/// leaves, left to right (its right edge): all an append and a tree hash need.
fn right_edge(size: u64) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    let mut lo = 0u64;
    while lo < size {
        let level = 63 - (size - lo).leading_zeros();
        // `level` < 64, so it fits in a u8.
        let level8 = u8::try_from(level).unwrap_or(63);
        out.insert(stored_hash_index(level8, lo >> level));
        lo += 1u64 << level;
    }
    out
}

enum Outcome<P> {
    New(u64),
    Duplicate(u64),
    Rejected(Vec<P>),
}

/// The runs of both lookups the append path extends, read together.
#[derive(Debug)]
struct LookupRuns {
    leaf: Runs,
    payload: Runs,
}

impl LookupRuns {
    async fn load(db: &impl ConnectionTrait, shape: RunShape) -> Result<Self, StoreError> {
        Ok(Self {
            leaf: Runs::load(db, LEAF, shape).await?,
            payload: Runs::load(db, PAYLOAD, shape).await?,
        })
    }
}

struct Worker<P: AdmissionPolicy> {
    store: Store,
    /// SQLite: the connection every append transaction runs on, held across batches (`held.rs`);
    /// `None` on PostgreSQL, or after it could not be reopened (then reopened by `rebuild`).
    held: Option<HeldSqlite>,
    signer: LogSigner,
    fresh: Box<dyn Fn() -> P + Send + Sync>,
    policy: P,
    /// The policy has applied entries `[0, known)`, and `cache` holds the right edge of that tree.
    known: u64,
    /// Integration time of entry `known - 1` (entries' times never decrease).
    last_time: u64,
    cache: HashCache,
    /// The entries of the log's partial tile, so the append that completes it can store the full
    /// tile without reading them back.
    tail: TileTail,
    /// False after a failed transaction: the state must be rebuilt before the next batch.
    healthy: bool,
    config: SequencerConfig,
    /// SQLite: checkpoints the WAL between batches.
    wal: WalCheckpointer,
    /// The open runs of the lookups by leaf hash and by payload hash as of the last commit;
    /// `None` when they must be read again (at start, after another process appended, after a
    /// failed transaction).
    runs: Option<LookupRuns>,
}

impl<P: AdmissionPolicy> Worker<P> {
    async fn run(mut self, mut rx: mpsc::Receiver<Request<P::Problem>>) {
        let max = self.config.max_batch.max(1);
        // The next batch, whose signatures are checked while the current one is written.
        let mut ahead: Option<(Vec<Request<P::Problem>>, Verifying)> = None;
        loop {
            let idle = std::time::Instant::now();
            let ahead_ready = ahead.is_some();
            let (batch, verifying) = match ahead.take() {
                Some(next) => next,
                None => {
                    let mut batch = Vec::with_capacity(max);
                    if rx.recv_many(&mut batch, max).await == 0 {
                        break;
                    }
                    let deadline = tokio::time::Instant::now() + self.config.max_wait;
                    while batch.len() < max {
                        let room = max - batch.len();
                        match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room))
                            .await
                        {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    let work = self.verify_work(&batch);
                    (batch, tokio::spawn(verify_off_runtime(work)))
                }
            };
            let n = batch.len();
            // Should the verifier task fail, every signature is left to the policy's own check.
            let checks = verifying
                .await
                .unwrap_or_else(|_| vec![SignatureCheck::Unchecked; n]);
            // Where the sequencer stood still before this batch: gathering it (no batch was
            // waiting) or waiting for its signature checks (`scripts/sequencer-waits.py`).
            tracing::debug!(batch = n, ahead_ready, waited = ?idle.elapsed(), "batch taken");
            // Pipelining: whatever is queued already becomes the next batch, and its signatures
            // are verified (on the blocking pool) while this batch's transaction runs. Keys the
            // current state does not know yet are simply left Unchecked for later.
            let mut next = Vec::new();
            while next.len() < max {
                match rx.try_recv() {
                    Ok(req) => next.push(req),
                    Err(_) => break,
                }
            }
            if !next.is_empty() {
                let work = self.verify_work(&next);
                ahead = Some((next, tokio::spawn(verify_off_runtime(work))));
            }
            self.process(batch, checks).await;
        }
        self.wal.finish().await;
        if let Some(held) = self.held.take() {
            held.close().await;
        }
        tracing::info!("sequencer stopped: every handle was dropped");
    }

    async fn process(&mut self, batch: Vec<Request<P::Problem>>, checks: Vec<SignatureCheck>) {
        if !self.healthy
            && let Err(e) = self.rebuild().await
        {
            tracing::warn!(error = %e, "the sequencer cannot rebuild its state; failing the batch");
            fail_all(batch, &e);
            return;
        }
        match self.append(&batch, checks).await {
            Ok((outcomes, receipts)) => {
                for ((req, outcome), receipt) in batch.into_iter().zip(outcomes).zip(receipts) {
                    let answer = match (outcome, receipt) {
                        (Outcome::Rejected(problems), _) => Err(SubmitError::Rejected(problems)),
                        (Outcome::New(_), Some(receipt)) => Ok(Accepted {
                            receipt,
                            duplicate: false,
                        }),
                        (Outcome::Duplicate(_), Some(receipt)) => Ok(Accepted {
                            receipt,
                            duplicate: true,
                        }),
                        (_, None) => {
                            Err(SubmitError::Unavailable("no receipt was made".to_owned()))
                        }
                    };
                    // The submitter may have gone away; its entry is in the log all the same.
                    let _ = req.reply.send(answer);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "append transaction failed; the batch is refused and state will be rebuilt");
                self.healthy = false;
                fail_all(batch, &e);
            }
        }
    }

    /// Throws the in-memory state away and rebuilds it from the committed log.
    async fn rebuild(&mut self) -> Result<(), StoreError> {
        if self.held.is_none()
            && let Some(url) = &self.store.sqlite_url
        {
            self.held = Some(HeldSqlite::open(url).await?);
        }
        self.policy = (self.fresh)();
        self.runs = None;
        self.known = 0;
        self.last_time = 0;
        self.cache.clear();
        self.catch_up_outside().await?;
        self.healthy = true;
        Ok(())
    }

    /// Catches up with the committed log without taking the write lock (the bulk of a restart's
    /// work), so other writers are not held up; the transaction then catches up the remainder.
    async fn catch_up_outside(&mut self) -> Result<(), StoreError> {
        let db = self.store.db.clone();
        let size = committed_size(&db).await?;
        self.catch_up(&db, size).await
    }

    async fn catch_up<C: ConnectionTrait>(&mut self, db: &C, size: u64) -> Result<(), StoreError> {
        if size < self.known {
            return Err(StoreError::Corrupt(format!(
                "the log shrank: {} entries were seen, the database has {size}",
                self.known
            )));
        }
        if size == self.known {
            return Ok(());
        }
        // Entries appended by another process: its merges changed the runs.
        self.runs = None;
        while self.known < size {
            let end = size.min(self.known + CATCH_UP_CHUNK);
            let chunk = entries_in(db, self.known..end).await?;
            if chunk.len() as u64 != end - self.known {
                return Err(StoreError::Corrupt(format!(
                    "entries {}..{end} are incomplete",
                    self.known
                )));
            }
            for e in chunk {
                self.policy.apply(e.index, &e.entry);
                self.last_time = e.entry.integrated_at_ms();
            }
            self.known = end;
        }
        // Entries appended by another process are not in the tail; the next full tile is built
        // from the database instead.
        self.tail = TileTail::default();
        // Reload the right edge of the tree as it now stands.
        self.cache.clear();
        let known = self.known;
        self.cache
            .compute(db, |r| merkle::tree_hash(known, r))
            .await?;
        tracing::debug!(size, "caught up with the log");
        Ok(())
    }

    /// What to verify in bulk: for each candidate, the key the current state knows for it.
    fn verify_work(&self, batch: &[Request<P::Problem>]) -> Vec<Option<VerifyItem>> {
        batch
            .iter()
            .map(|r| {
                let st = r.candidate.signed.statement();
                self.policy
                    .public_key(st)
                    .map(|k| (k, st.signing_message(), *r.candidate.signed.signature()))
            })
            .collect()
    }

    /// The append transaction, on the held SQLite connection or a pooled PostgreSQL one.
    /// Returns each candidate's outcome and receipt.
    async fn append(
        &mut self,
        batch: &[Request<P::Problem>],
        checks: Vec<SignatureCheck>,
    ) -> Result<(Vec<Outcome<P::Problem>>, Vec<Option<Receipt>>), StoreError> {
        self.wal.before_write().await;
        let started = std::time::Instant::now();
        let mut held = self.held.take();
        let result = match held.as_mut() {
            Some(conn) => match conn.begin_immediate().await {
                Ok((txn, size)) => {
                    self.append_in(AppendTxn::Held(txn), Some(size), batch, checks, started)
                        .await
                }
                Err(e) => Err(e),
            },
            None if self.store.sqlite_url.is_some() => Err(StoreError::Unavailable(
                "the sequencer's database connection is closed".to_owned(),
            )),
            None => match begin_locked(&self.store).await {
                Ok(txn) => {
                    self.append_in(AppendTxn::Pool(txn), None, batch, checks, started)
                        .await
                }
                Err(e) => Err(e),
            },
        };
        if result.is_err()
            && let Some(conn) = held.as_mut()
            && let Err(e) = conn.recover().await
        {
            tracing::warn!(error = %e, "the sequencer's connection cannot be reopened yet");
            held = None;
        }
        self.held = held;
        result
    }

    /// `size` is the committed size when the transaction's begin already read it.
    async fn append_in(
        &mut self,
        txn: AppendTxn<'_>,
        size: Option<u64>,
        batch: &[Request<P::Problem>],
        checks: Vec<SignatureCheck>,
        started: std::time::Instant,
    ) -> Result<(Vec<Outcome<P::Problem>>, Vec<Option<Receipt>>), StoreError> {
        let began = started.elapsed();
        let size = match size {
            Some(size) => size,
            None => committed_size(&txn).await?,
        };
        self.catch_up(&txn, size).await?;
        let locked = started.elapsed();
        // Put back only after the commit: a failed transaction leaves them to be read again.
        let mut runs = self.runs.take();

        // The reports the candidates name, as the log holds them now.
        let mut known = KnownReports::load(
            &txn,
            batch.iter().map(|r| r.candidate.signed.statement().body()),
        )
        .await?;
        // Resubmissions of entries already in the log.
        let existing = resubmissions(&txn, batch, &known).await?;

        let origin = self.signer.verifier().name().to_owned();
        let mut next = size;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut new_entries: Vec<(u64, Entry, Vec<u8>, Hash)> = Vec::new();
        let mut batch_dedupe: HashMap<[u8; 32], usize> = HashMap::new();
        let mut hash_rows: Vec<(u64, Hash)> = Vec::new();
        for (req, check) in batch.iter().zip(checks) {
            let c = &req.candidate;
            if let Some((index, _)) = existing.get(&c.dedupe) {
                outcomes.push(Outcome::Duplicate(*index));
                continue;
            }
            if let Some(&pos) = batch_dedupe.get(&c.dedupe) {
                outcomes.push(Outcome::Duplicate(new_entries[pos].0));
                continue;
            }
            let now = self.store.clock.now_ms().max(self.last_time);
            let entry = c.signed.clone().into_entry(now);
            let check = match check {
                // A key added since the bulk check (by catch-up or earlier in this batch).
                SignatureCheck::Unchecked => match self.policy.public_key(c.signed.statement()) {
                    Some(k) => match c.signed.verify_signature(&k) {
                        Ok(()) => SignatureCheck::Verified(k),
                        Err(e) => SignatureCheck::Invalid(e),
                    },
                    None => SignatureCheck::Unchecked,
                },
                other => other,
            };
            let admission = Admission {
                index: next,
                entry: &entry,
                payload: c.payload.as_deref(),
                signature: &check,
                reports: &known,
            };
            let problems = self.policy.check(&admission);
            if !problems.is_empty() {
                outcomes.push(Outcome::Rejected(problems));
                continue;
            }
            self.policy.apply(next, &entry);
            known.admitted(next, &entry);
            self.known = next + 1;
            self.last_time = now;
            let bytes = entry.encode();
            let leaf = leaf_hash(&bytes);
            let n = next;
            let hashes = self
                .cache
                .compute(&txn, |r| merkle::stored_hashes_for_leaf(n, leaf, r))
                .await?;
            let first = stored_hash_index(0, n);
            for (k, h) in (first..).zip(hashes) {
                self.cache.insert(k, h);
                hash_rows.push((k, h));
            }
            batch_dedupe.insert(c.dedupe, new_entries.len());
            new_entries.push((n, entry, bytes, leaf));
            outcomes.push(Outcome::New(n));
            next += 1;
        }

        let admitted = started.elapsed();
        // The checkpoint every receipt of this batch is made against.
        let note = if new_entries.is_empty() {
            match checkpoints::Entity::find_by_id(to_db(size)?)
                .one(&txn)
                .await?
            {
                Some(cp) => cp.note,
                None => sign(
                    &self.signer,
                    &origin,
                    size,
                    self.cache
                        .compute(&txn, |r| merkle::tree_hash(size, r))
                        .await?,
                )?,
            }
        } else {
            let root = self
                .cache
                .compute(&txn, |r| merkle::tree_hash(next, r))
                .await?;
            sign(&self.signer, &origin, next, root)?
        };

        if !new_entries.is_empty() {
            let now = to_db(self.store.clock.now_ms())?;
            let copies =
                write_batch(&txn, batch, &new_entries, &hash_rows, next, &note, now).await?;
            write_full_tiles(&txn, size, next, &self.tail, &new_entries).await?;
            let runs = match runs.as_mut() {
                Some(runs) => runs,
                None => runs.insert(LookupRuns::load(&txn, self.config.runs).await?),
            };
            runs.leaf
                .append(&txn, new_entries.iter().map(|(i, _, _, leaf)| (*i, leaf.0)))
                .await?;
            runs.payload.append(&txn, copies.into_iter()).await?;
        }
        let written = started.elapsed();

        // Receipts (proofs from the cached edge and this batch's hashes; older ones are fetched).
        let mut receipts = Vec::with_capacity(batch.len());
        for (req, outcome) in batch.iter().zip(&outcomes) {
            let (index, entry) = match outcome {
                Outcome::Rejected(_) => {
                    receipts.push(None);
                    continue;
                }
                Outcome::New(i) => (*i, new_entries[(*i - size) as usize].1.clone()),
                Outcome::Duplicate(i) if *i >= size => {
                    (*i, new_entries[(*i - size) as usize].1.clone())
                }
                Outcome::Duplicate(i) => match existing.get(&req.candidate.dedupe) {
                    Some((_, e)) => (*i, e.clone()),
                    None => {
                        return Err(StoreError::Corrupt("a duplicate lost its entry".to_owned()));
                    }
                },
            };
            let proof = self
                .cache
                .compute(&txn, |r| merkle::prove_inclusion(next, index, r))
                .await?;
            receipts.push(Some(Receipt {
                entry,
                index,
                checkpoint: note.clone().into_bytes(),
                proof,
            }));
        }

        let proved = started.elapsed();
        txn.commit().await?;
        let committed = started.elapsed();
        self.runs = runs;
        self.wal.after_commit().await;
        tracing::debug!(
            batch = batch.len(),
            appended = new_entries.len(),
            size = next,
            ?began,
            ?locked,
            ?admitted,
            ?written,
            ?proved,
            ?committed,
            "batch integrated"
        );
        // Keep only the new right edge in memory: flat memory however long the log grows.
        self.cache.retain(&right_edge(next));
        self.tail.advance(size, &new_entries);
        refresh_statistics(&self.store, size, next);
        Ok((outcomes, receipts))
    }
}

/// The SQL condition of the partial index `entries_dedupe_hash`: every kind but reports and
/// corrections (`ReportSubmitted` = 6, `ReportCorrected` = 7), written out as in the index so that
/// both databases use it.
const DEDUPE_INDEXED: &str = "kind NOT IN (6, 7)";

/// The entries already in the log that candidates of `batch` resubmit, by dedupe hash
/// (SHA-256 of statement and signature).
///
/// A report or correction can only resubmit the version that holds its place (the original of its
/// contract and period, or the correction of the leaf it supersedes), which `known` already found
/// through `report_index_version`: those few entries are read by index and compared. Other kinds
/// are looked up by dedupe hash, through the partial index that leaves reports out. So an
/// appended report costs no write to an index keyed by a random hash for its dedupe hash.
async fn resubmissions<Pr: fmt::Debug>(
    txn: &impl ConnectionTrait,
    batch: &[Request<Pr>],
    known: &KnownReports,
) -> Result<HashMap<[u8; 32], (u64, Entry)>, StoreError> {
    let mut by_place: BTreeSet<i64> = BTreeSet::new();
    let mut by_hash: Vec<Vec<u8>> = Vec::new();
    for r in batch {
        let st = r.candidate.signed.statement();
        if matches!(st.kind(), Kind::ReportSubmitted | Kind::ReportCorrected) {
            if let Some(index) = known.same_place(st.body()) {
                by_place.insert(to_db(index)?);
            }
        } else {
            by_hash.push(r.candidate.dedupe.to_vec());
        }
    }
    let mut rows = Vec::new();
    let by_place: Vec<i64> = by_place.into_iter().collect();
    for chunk in by_place.chunks(1024) {
        rows.extend(
            entries::Entity::find()
                .filter(entries::Column::Idx.is_in(chunk.iter().copied()))
                .all(txn)
                .await?,
        );
    }
    for chunk in by_hash.chunks(1024) {
        rows.extend(
            entries::Entity::find()
                .filter(entries::Column::DedupeHash.is_in(chunk.to_vec()))
                .filter(Expr::cust(DEDUPE_INDEXED))
                .all(txn)
                .await?,
        );
    }
    let mut existing = HashMap::with_capacity(rows.len());
    for row in rows {
        let key = crate::error::hash32(&row.dedupe_hash)?;
        let e = stored_entry(row)?;
        existing.insert(key, (e.index, e.entry));
    }
    Ok(existing)
}

/// The smallest log size at which PostgreSQL's statistics are refreshed by the sequencer; then
/// at every doubling.
const ANALYZE_FROM: u64 = 1024;

/// On PostgreSQL, refreshes the planner's statistics of the tables the append path queries each
/// time the log has doubled in size (from [`ANALYZE_FROM`] entries on), in the background.
///
/// A log grows far faster than autovacuum's one-minute rounds at first, and without statistics
/// PostgreSQL estimates every lookup at a row or less and may take an index that matches only
/// part of the key (the report index by municipality and period, then filtering by contract):
/// under load the first minute of a fresh log ran at a third of the rate. At most one refresh
/// per doubling, about 20 over a million entries, each outside the append transaction.
fn refresh_statistics(store: &Store, before: u64, after: u64) {
    if store.backend() != crate::Backend::Postgres || after < ANALYZE_FROM {
        return;
    }
    let crossed = before < ANALYZE_FROM || before.ilog2() != after.ilog2();
    if !crossed {
        return;
    }
    let db = store.db.clone();
    tokio::spawn(async move {
        match db
            .execute_unprepared("ANALYZE report_index, entries, payloads, leaf_runs, leaf_lookup, payload_runs, payload_lookup")
            .await
        {
            Ok(_) => tracing::debug!(size = after, "refreshed the planner's statistics"),
            Err(e) => tracing::warn!(error = %e, "refreshing the planner's statistics failed"),
        }
    });
}

/// The entries (bytes and leaf hashes) from `start`, a multiple of the tile width, to the end of
/// the log: the log's partial tile. Empty and unknown (`start` = `u64::MAX`) after a restart or a
/// catch-up; it is known again from the next tile boundary an append crosses.
struct TileTail {
    start: u64,
    items: Vec<(Vec<u8>, Hash)>,
}

impl Default for TileTail {
    fn default() -> Self {
        Self {
            start: u64::MAX,
            items: Vec::new(),
        }
    }
}

impl TileTail {
    /// Entry `index`'s bytes and leaf hash, from the tail (entries before `size`) or the batch
    /// being appended (entries from `size` on).
    fn get<'a>(
        &'a self,
        size: u64,
        batch: &'a [(u64, Entry, Vec<u8>, Hash)],
        index: u64,
    ) -> Option<(&'a [u8], Hash)> {
        if index >= size {
            let (_, _, bytes, leaf) = batch.get(usize::try_from(index - size).ok()?)?;
            return Some((bytes, *leaf));
        }
        if self.start.checked_add(self.items.len() as u64) != Some(size) || index < self.start {
            return None;
        }
        let (bytes, leaf) = self.items.get(usize::try_from(index - self.start).ok()?)?;
        Some((bytes, *leaf))
    }

    /// After a batch of entries `size..` was committed: keep the entries of the new partial tile.
    fn advance(&mut self, size: u64, batch: &[(u64, Entry, Vec<u8>, Hash)]) {
        let width = u64::from(TILE_WIDTH);
        let next = size + batch.len() as u64;
        let boundary = next / width * width;
        if self.start.checked_add(self.items.len() as u64) != Some(size) {
            // Unknown so far: known from the last boundary this batch crossed, if it crossed one.
            if boundary < size {
                return;
            }
            self.start = boundary;
            self.items.clear();
        }
        self.items.extend(
            batch
                .iter()
                .filter(|(i, ..)| *i >= self.start)
                .map(|(_, _, bytes, leaf)| (bytes.clone(), *leaf)),
        );
        let full = usize::try_from(boundary.saturating_sub(self.start)).unwrap_or(usize::MAX);
        if full > 0 {
            self.items.drain(..full.min(self.items.len()));
            self.start = boundary;
        }
    }
}

/// Stores the bytes of every tile that became full when the tree grew from `old` to `new` leaves,
/// so that readers get a full tile with one row read. Entry bundles and level-0 hash tiles (whose
/// hashes are the leaf hashes) are assembled from the tail and the batch in memory when they are
/// there; any other tile is built from the rows this transaction sees, by the code that serves
/// tiles. Growth is decided under the log's write lock, so every full tile is written exactly once,
/// by whichever process completed it.
async fn write_full_tiles(
    txn: &impl ConnectionTrait,
    old: u64,
    new: u64,
    tail: &TileTail,
    batch: &[(u64, Entry, Vec<u8>, Hash)],
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for tile in Tile::for_growth(old, new).into_iter().filter(Tile::is_full) {
        let in_memory: Option<Vec<(&[u8], Hash)>> = match tile.kind() {
            TileKind::Entries | TileKind::Hashes { level: 0 } => {
                tile.positions().map(|i| tail.get(old, batch, i)).collect()
            }
            TileKind::Hashes { .. } => None,
        };
        let data = match (in_memory, tile.kind()) {
            (Some(items), TileKind::Entries) => {
                let bytes: Vec<&[u8]> = items.iter().map(|(b, _)| *b).collect();
                encode_bundle(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?
            }
            (Some(items), TileKind::Hashes { .. }) => {
                items.iter().flat_map(|(_, leaf)| leaf.0).collect()
            }
            (None, _) => crate::reads::build_tile(txn, &tile, new)
                .await?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("{tile} is full but cannot be built"))
                })?,
        };
        rows.push(full_tiles::ActiveModel {
            path: Set(tile.path()),
            data: Set(data),
        });
    }
    if !rows.is_empty() {
        full_tiles::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Writes a batch's rows with multi-row inserts: entries, stored hashes, payloads, report index
/// and the checkpoint. Returns the payload copies stored (entry index, hash), for the lookup.
async fn write_batch<Pr: fmt::Debug>(
    txn: &impl ConnectionTrait,
    batch: &[Request<Pr>],
    new_entries: &[(u64, Entry, Vec<u8>, Hash)],
    hash_rows: &[(u64, Hash)],
    size: u64,
    note: &str,
    now: i64,
) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
    let by_dedupe: HashMap<[u8; 32], &Candidate> = batch
        .iter()
        .map(|r| (r.candidate.dedupe, &r.candidate))
        .collect();

    // Every entry bringing bytes stores its copy, with no question to a random-keyed index,
    // except the bytes of an erased payload (asked of the erased rows only, under the log's write
    // lock, which erasures take too): an entry naming one of those is a carrier.
    let erased = erased_payloads(
        txn,
        new_entries
            .iter()
            .filter_map(|(_, e, _, _)| e.statement().payload_sha256()),
    )
    .await?;
    let mut copies = Vec::new();
    let mut entry_rows = Vec::with_capacity(new_entries.len());
    let mut payload_rows = Vec::new();
    let mut carrier_rows = Vec::new();
    let mut report_rows = Vec::new();
    let mut figure_rows = Vec::new();
    for (index, entry, bytes, leaf) in new_entries {
        let signed = entry.signed();
        let st = entry.statement();
        let dedupe = signed.dedupe_hash();
        entry_rows.push(entries::ActiveModel {
            idx: Set(to_db(*index)?),
            entry: Set(bytes.clone()),
            leaf_hash: Set(leaf.0.to_vec()),
            dedupe_hash: Set(dedupe.to_vec()),
            kind: Set(i16::from(st.kind().code())),
            actor: Set(actor_key(st.actor())),
            key_id: Set(st.key_id().as_bytes().to_vec()),
            payload_hash: Set(st.payload_sha256().map(|h| h.to_vec())),
            integrated_at: Set(to_db(entry.integrated_at_ms())?),
        });
        if let Some(hash) = st.payload_sha256() {
            let bytes = by_dedupe.get(&dedupe).and_then(|c| c.payload.as_ref());
            match bytes {
                Some(payload) if !erased.contains(&hash) => {
                    copies.push((*index, hash));
                    payload_rows.push(payloads::ActiveModel {
                        idx: Set(to_db(*index)?),
                        sha256: Set(hash.to_vec()),
                        bytes: Set(Some(payload.clone())),
                        size: Set(i64::try_from(payload.len()).unwrap_or(i64::MAX)),
                        stored_at: Set(now),
                        erased_at: Set(None),
                        erased_by: Set(None),
                        erasure_reason: Set(None),
                    });
                }
                _ => carrier_rows.push(payload_carriers::ActiveModel {
                    idx: Set(to_db(*index)?),
                    payload_hash: Set(hash.to_vec()),
                }),
            }
        }
        let report = match st.body() {
            Body::ReportSubmitted { contract, period } => Some((contract, period, None)),
            Body::ReportCorrected {
                contract,
                period,
                supersedes,
            } => Some((contract, period, Some(*supersedes))),
            _ => None,
        };
        if let Some((contract, period, supersedes)) = report {
            let provider = match st.actor() {
                Actor::Provider(p) => p.digits().to_owned(),
                other => actor_key(other),
            };
            report_rows.push(report_index::ActiveModel {
                idx: Set(to_db(*index)?),
                municipality: Set(contract.municipality.code().to_owned()),
                contract_ref: Set(contract.reference.as_str().to_owned()),
                period: Set(period.to_string()),
                provider: Set(provider),
                kind: Set(i16::from(st.kind().code())),
                supersedes: Set(supersedes.map(to_db).transpose()?),
            });
            let figures = by_dedupe.get(&dedupe).and_then(|c| c.figures);
            if let Some(f) = figures {
                figure_rows.push(report_figures::ActiveModel {
                    idx: Set(to_db(*index)?),
                    invoiced_sek: Set(i64::try_from(f.invoiced_sek).unwrap_or(i64::MAX)),
                    active: Set(i64::from(f.active)),
                });
            }
        }
    }
    insert_rows(txn, entry_rows, INSERT_CHUNK).await?;
    let hash_models = hash_rows
        .iter()
        .map(|(i, h)| {
            Ok(stored_hashes::ActiveModel {
                idx: Set(to_db(*i)?),
                hash: Set(h.0.to_vec()),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    insert_rows(txn, hash_models, INSERT_CHUNK * 2).await?;
    insert_rows(txn, payload_rows, INSERT_CHUNK).await?;
    insert_rows(txn, carrier_rows, INSERT_CHUNK).await?;
    insert_rows(txn, report_rows, INSERT_CHUNK).await?;
    insert_rows(txn, figure_rows, INSERT_CHUNK).await?;
    checkpoints::Entity::insert(checkpoints::ActiveModel {
        size: Set(to_db(size)?),
        note: Set(note.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(copies)
}

/// Which of `hashes` name an erased payload (one query per 500 hashes, through the partial
/// index `payloads_erased`, which holds erased rows only).
async fn erased_payloads(
    txn: &impl ConnectionTrait,
    hashes: impl Iterator<Item = [u8; 32]>,
) -> Result<HashSet<[u8; 32]>, StoreError> {
    let mut wanted: Vec<[u8; 32]> = hashes.collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found = HashSet::new();
    for chunk in wanted.chunks(500) {
        let rows: Vec<Vec<u8>> = erased_payloads_query(chunk).into_tuple().all(txn).await?;
        for row in rows {
            found.insert(crate::error::hash32(&row)?);
        }
    }
    Ok(found)
}

/// The erased payloads among `hashes` (their hashes), from the partial index `payloads_erased`.
fn erased_payloads_query(hashes: &[[u8; 32]]) -> sea_orm::Select<payloads::Entity> {
    payloads::Entity::find()
        .select_only()
        .column(payloads::Column::Sha256)
        .filter(payloads::Column::ErasedAt.is_not_null())
        .filter(payloads::Column::Sha256.is_in(hashes.iter().map(|h| h.to_vec())))
}

/// The statement the append path runs to find erased payloads among a batch's, for tests that
/// inspect its plan.
#[doc(hidden)]
#[must_use]
pub fn erased_payloads_statement(backend: DbBackend, hashes: &[[u8; 32]]) -> sea_orm::Statement {
    use sea_orm::QueryTrait;
    erased_payloads_query(hashes).build(backend)
}

/// The sizes of the multi-row INSERTs that write `n` rows: powers of two, at most `max` (a power
/// of two), largest first, so that only a handful of distinct statements exist and the
/// prepared-statement cache always hits.
pub(crate) fn insert_chunks(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let mut left = n;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let take = if left >= max {
            max
        } else {
            1 << (usize::BITS - 1 - left.leading_zeros())
        };
        left -= take;
        Some(take)
    })
}

/// Inserts rows with multi-row INSERTs of the sizes [`insert_chunks`] gives.
pub(crate) async fn insert_rows<A>(
    txn: &impl ConnectionTrait,
    rows: Vec<A>,
    max: usize,
) -> Result<(), StoreError>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let sizes: Vec<usize> = insert_chunks(rows.len(), max).collect();
    let mut rows = rows.into_iter();
    for take in sizes {
        let chunk: Vec<A> = rows.by_ref().take(take).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

type VerifyItem = (PublicKey, Vec<u8>, insyn_ledger::keys::Signature);

type Verifying = JoinHandle<Vec<SignatureCheck>>;

/// Checks signatures in bulk on the blocking pool (the ledger's `verify_many`, the one acceptance
/// rule). A candidate without a known key is left to the policy ([`SignatureCheck::Unchecked`]).
async fn verify_off_runtime(work: Vec<Option<VerifyItem>>) -> Vec<SignatureCheck> {
    let n = work.len();
    if work.iter().all(Option::is_none) {
        return vec![SignatureCheck::Unchecked; n];
    }
    let result = tokio::task::spawn_blocking(move || {
        let items: Vec<SignedMessage<'_>> = work
            .iter()
            .flatten()
            .map(|(k, m, s)| SignedMessage {
                public_key: k,
                message: m,
                signature: s,
            })
            .collect();
        let mut verdicts = verify_many(&items).into_iter();
        work.iter()
            .map(|w| match w {
                None => SignatureCheck::Unchecked,
                Some((k, _, _)) => match verdicts.next() {
                    Some(Ok(())) => SignatureCheck::Verified(*k),
                    Some(Err(e)) => SignatureCheck::Invalid(e),
                    None => SignatureCheck::Unchecked,
                },
            })
            .collect::<Vec<_>>()
    })
    .await;
    // Should the verifier panic, every signature is left to the policy's own check.
    result.unwrap_or_else(|_| vec![SignatureCheck::Unchecked; n])
}

fn fail_all<P: fmt::Debug>(batch: Vec<Request<P>>, e: &StoreError) {
    let msg = e.to_string();
    for req in batch {
        let _ = req.reply.send(Err(SubmitError::Unavailable(msg.clone())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insyn_ledger::merkle::HashReader;

    #[test]
    fn inserts_come_in_powers_of_two_largest_first() {
        assert_eq!(insert_chunks(0, 256).count(), 0);
        assert_eq!(insert_chunks(1, 256).collect::<Vec<_>>(), [1]);
        assert_eq!(
            insert_chunks(600, 256).collect::<Vec<_>>(),
            [256, 256, 64, 16, 8]
        );
        assert_eq!(insert_chunks(7, 4).collect::<Vec<_>>(), [4, 2, 1]);
    }

    #[test]
    fn right_edge_matches_tree_hash_needs() {
        for size in 1..300u64 {
            let mem =
                merkle::MemoryHashes::from_leaves((0..size).map(|i| leaf_hash(&i.to_be_bytes())));
            let mut cache = HashCache::default();
            for i in right_edge(size) {
                let h = mem.read_hashes(&[i]).expect("stored");
                cache.insert(i, h[0]);
            }
            // The right edge alone gives the root and the next append's hashes.
            let root = merkle::tree_hash(size, &cache).expect("root");
            assert_eq!(root, mem.root(), "size {size}");
            let next = leaf_hash(b"next");
            let got = merkle::stored_hashes_for_leaf(size, next, &cache).expect("append");
            let mut grown = mem.clone();
            grown.push(next);
            let first = usize::try_from(stored_hash_index(0, size)).expect("small");
            assert_eq!(got, grown.stored()[first..], "size {size}");
        }
    }
}
