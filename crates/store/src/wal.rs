//! Checkpointing SQLite's write-ahead log beside the append path instead of inside it.
//!
//! With SQLite's automatic checkpoints, the commit that takes the WAL past 1,000 pages also
//! copies every page of the WAL into the database file and syncs it before it returns: the
//! sequencer (and every submitter of the batch) waited for that copy, a few megabytes of writes
//! scattered over the file, once every few batches. Here the pool's connections have automatic
//! checkpoints off (`wal_autocheckpoint=0`, see `connect.rs`) and the sequencer starts a
//! `PASSIVE` checkpoint on another connection after each commit, while it goes on with the next
//! batch; a passive checkpoint never blocks the writer and never loses a committed frame.
//!
//! A WAL only starts again from its beginning when a write transaction begins after a checkpoint
//! has copied all of it. Under steady load the next batch always begins while a checkpoint is
//! still running, so once the WAL holds more than a limit ([`WAL_LIMIT_PAGES`] by default) the
//! sequencer waits for the running checkpoint and runs one more before it begins the next
//! transaction: the WAL stays bounded (disk use flat) at the price of one wait each time the WAL
//! reaches the limit.
//!
//! Durability is unchanged: a commit is durable when its frames are synced to the WAL
//! (`synchronous=FULL`); checkpoints only move committed pages into the database file.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::task::JoinHandle;

use crate::{Backend, Store, StoreError};

/// The default WAL size, in frames (pages), past which the sequencer waits for a complete
/// checkpoint before its next transaction: 16,384 frames of 4 KiB, 64 MiB.
pub(crate) const WAL_LIMIT_PAGES: u32 = 16_384;

/// What one `PRAGMA wal_checkpoint` reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WalState {
    /// Frames in the WAL.
    pub log: i64,
    /// Frames of it already copied into the database file.
    pub checkpointed: i64,
}

/// Runs the checkpoints of one SQLite database; does nothing on PostgreSQL.
#[derive(Debug)]
pub(crate) struct WalCheckpointer {
    db: Option<DatabaseConnection>,
    /// Frames the WAL may hold before a complete checkpoint is waited for.
    limit: i64,
    running: Option<JoinHandle<Result<WalState, StoreError>>>,
    /// The WAL as the last finished checkpoint found it.
    last: WalState,
}

impl WalCheckpointer {
    pub(crate) fn new(store: &Store, limit_pages: u32) -> Self {
        Self {
            db: (store.backend() == Backend::Sqlite).then(|| store.db.clone()),
            limit: i64::from(limit_pages),
            running: None,
            last: WalState::default(),
        }
    }

    /// After a commit: starts a passive checkpoint unless one is still running.
    pub(crate) async fn after_commit(&mut self) {
        let Some(db) = self.db.clone() else { return };
        match &self.running {
            Some(task) if !task.is_finished() => return,
            Some(_) => self.collect().await,
            None => {}
        }
        self.running = Some(tokio::spawn(async move { checkpoint(&db).await }));
    }

    /// Before a write transaction: collects a finished checkpoint's report and, when the WAL has
    /// outgrown its limit, waits until all of it is in the database file, so that the
    /// transaction about to begin starts the WAL again from its beginning.
    pub(crate) async fn before_write(&mut self) {
        let Some(db) = self.db.clone() else { return };
        if self.running.as_ref().is_some_and(JoinHandle::is_finished) {
            self.collect().await;
        }
        if self.last.log <= self.limit {
            return;
        }
        let waiting = std::time::Instant::now();
        self.collect().await;
        match checkpoint(&db).await {
            Ok(state) => {
                // The sequencer stood still meanwhile (`scripts/sequencer-waits.py`).
                tracing::debug!(
                    frames = state.log,
                    copied = state.checkpointed,
                    waited = ?waiting.elapsed(),
                    "checkpointed the whole WAL"
                );
                // Copied completely: the next write transaction starts the WAL again.
                self.last = if state.log == state.checkpointed {
                    WalState::default()
                } else {
                    state
                };
            }
            Err(e) => tracing::warn!(error = %e, "checkpointing the WAL failed"),
        }
    }

    /// Waits for a running checkpoint (when the sequencer stops).
    pub(crate) async fn finish(&mut self) {
        self.collect().await;
    }

    async fn collect(&mut self) {
        let Some(task) = self.running.take() else {
            return;
        };
        match task.await {
            Ok(Ok(state)) => self.last = state,
            Ok(Err(e)) => tracing::warn!(error = %e, "checkpointing the WAL failed"),
            Err(e) => tracing::warn!(error = %e, "the WAL checkpoint task failed"),
        }
    }
}

/// One passive checkpoint: copies what it can of the WAL into the database file without
/// waiting for (or blocking) any reader or writer.
async fn checkpoint(db: &DatabaseConnection) -> Result<WalState, StoreError> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?
        .ok_or_else(|| StoreError::Corrupt("wal_checkpoint returned no row".to_owned()))?;
    Ok(WalState {
        log: row.try_get_by_index(1)?,
        checkpointed: row.try_get_by_index(2)?,
    })
}
