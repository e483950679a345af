//! Insyn's storage: sea-orm entities and queries and the sequencer's append transaction.
//!
//! Code map:
//! - [`Store`] (this file and `reads.rs`): opening the database and every read the API and the
//!   portal need, each a method, so a handler never builds a query.
//! - `connect.rs`: pool and durability settings (SQLite WAL + `synchronous=FULL`),
//!   migrations; `held.rs`: the sequencer's own SQLite connection, held across batches.
//! - `sequencer.rs`: the append path, on a thread of its own; `wal.rs`: SQLite's WAL
//!   checkpoints, run by the sequencer beside the append path; `runs.rs`: the log-structured
//!   lookups by leaf hash and by payload hash, which the append path extends.
//! - [`entity`]: sea-orm entities for the tables `insyn-migrations` creates.
//!
//! Architecture invariants:
//! - Ledger rows are only ever inserted. The database enforces it with triggers (see
//!   `insyn-migrations`); this crate has no code path that updates or deletes them.
//! - The store makes no policy decisions: what may enter the log is decided by an
//!   admission policy passed in from outside.

pub mod accounts;
mod clock;
mod connect;
pub mod credentials;
pub mod entity;
mod error;
mod hashes;
mod held;
mod known_reports;
mod overview;
mod reads;
mod runs;
mod sequencer;
mod wal;

use std::fmt;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use clock::{Clock, ManualClock, SystemClock};
pub use connect::Backend;
pub use error::{StoreError, is_append_only_refusal};
pub use known_reports::KnownReports;
pub use overview::{MAX_CONTRACTS, MonthFigures, ReportVersion};
pub use reads::{
    CheckpointRecord, CosignatureRecord, LogIdentity, MAX_PAGE, Page, PayloadContent,
    PayloadReadRecord, PayloadReader, ReadLogQuery, ReadLogRecord, ReportQuery, ReportRecord,
    StoredEntry,
};
pub use runs::{
    LEAF as LEAF_LOOKUP, PAYLOAD as PAYLOAD_LOOKUP, RunIndex, RunShape,
    lookup_statement as run_lookup_statement,
};
pub use sequencer::{
    Accepted, Admission, AdmissionPolicy, Candidate, CandidateError, ReportFigures, Sequencer,
    SequencerConfig, SignatureCheck, SubmitError, actor_key, erased_payloads_statement,
};

/// A handle on Insyn's database: cheap to clone (it is a connection pool and a clock).
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite: the database's URL, from which the sequencer opens a connection of its own
    /// (`held.rs`), so that its page cache survives from batch to batch. On PostgreSQL the
    /// sequencer appends through the shared pool.
    sqlite_url: Option<Arc<str>>,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://path?mode=rwc` or `postgres://…`) and runs the
    /// migrations.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an unsupported URL, [`StoreError::Database`] when the
    /// database cannot be reached or migrated.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (db, backend) = connect::connect_and_migrate(url).await?;
        let sqlite_url = (backend == Backend::Sqlite).then(|| Arc::from(url));
        Ok(Self {
            db,
            sqlite_url,
            backend,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same store with another clock (the demo's simulated time, tests' manual time). The
    /// clock stamps entries' integration time, checkpoints, payload reads and erasures.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store's clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Which database this store talks to.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying connection pool, for sibling modules of this crate's callers that keep
    /// their own tables (accounts). Ledger tables must be read through the methods of [`Store`].
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool, waiting for connections to be returned.
    ///
    /// # Errors
    /// The database's error when closing fails.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }
}
