//! Insyn's storage: sea-orm entities and queries and the sequencer's append transaction.
//!
//! Code map:
//! - [`Store`] (this file and `reads.rs`): opening the database and every read the API and the
//!   portal need, each a method, so a handler never builds a query.
//! - `connect.rs`: pool and durability settings (SQLite WAL + `synchronous=FULL`), migrations.
//! - [`entity`]: sea-orm entities for the tables `insyn-migrations` creates.
//!
//! Architecture invariants:
//! - Ledger rows are only ever inserted. The database enforces it with triggers (see
//!   `insyn-migrations`); this crate has no code path that updates or deletes them.
//! - The store makes no policy decisions: what may enter the log is decided by an
//!   admission policy passed in from outside.

pub mod accounts;
mod connect;
pub mod entity;
mod error;

use sea_orm::DatabaseConnection;

pub use connect::Backend;
pub use error::{StoreError, is_append_only_refusal};

/// A handle on Insyn's database: cheap to clone (it is a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
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
        Ok(Self { db, backend })
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
