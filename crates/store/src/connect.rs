//! Opening the database: pool settings, durability settings and migrations.

use std::time::Duration;

use insyn_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::StoreError;

/// How long a SQLite connection waits for another writer before giving up with "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Advisory lock key (PostgreSQL) held while migrating, so that two processes starting at once
/// on one database run the migrations one after the other.
pub(crate) const MIGRATION_LOCK_KEY: i64 = 0x696e_7379_6e5f_6d67; // "insyn_mg"

/// Which database a [`crate::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (one file, WAL mode, full sync).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

pub(crate) fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::InvalidInput(
            "the database URL must start with sqlite: or postgres://".to_owned(),
        ))
    }
}

/// Pool and durability options for `url`.
///
/// SQLite: WAL journal with `synchronous=FULL`, so every committed transaction (every acknowledged
/// append) is on disk before the commit returns; foreign keys on; a busy timeout so a second
/// process waits for the writer instead of failing; no automatic checkpoints (the sequencer runs
/// them, see `wal.rs`). Up to 8 connections for readers and the few writes outside the log
/// (accounts, sessions, payload reads), in parallel with the sequencer's own connection
/// (`held.rs`): WAL lets readers proceed during a write.
///
/// PostgreSQL: the server's defaults (`fsync=on`, `synchronous_commit=on`) are what durability
/// needs and are left alone. Up to 10 connections, enough for a 2-core machine.
pub(crate) fn options(url: &str, backend: Backend) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    match backend {
        Backend::Sqlite => {
            opts.max_connections(8)
                .min_connections(1)
                .map_sqlx_sqlite_opts(tune_sqlite)
                .map_sqlx_sqlite_pool_opts(|o| o.after_release(|conn, _| Box::pin(released(conn))));
        }
        Backend::Postgres => {
            opts.max_connections(10)
                .min_connections(1)
                .map_sqlx_postgres_opts(|o| {
                    o.statement_cache_capacity(256).application_name("insyn")
                });
        }
    }
    opts
}

/// The settings of every SQLite connection, pooled or held (`held.rs`).
pub(crate) fn tune_sqlite(o: SqliteConnectOptions) -> SqliteConnectOptions {
    o.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        .statement_cache_capacity(256)
        // Statement journals (multi-row inserts inside a transaction) and temporary B-trees stay
        // in memory instead of temporary files: they never need to survive a crash; the WAL is
        // what makes a commit durable.
        .pragma("temp_store", "memory")
        // 16 MiB of page cache per connection (the default is 2 MiB), so the append path finds
        // the indices' hot pages in memory.
        .pragma("cache_size", "-16384")
        // The sequencer checkpoints the WAL beside the append path (`wal.rs`), not the commit
        // that happens to fill it.
        .pragma("wal_autocheckpoint", "0")
}

/// Whether a SQLite connection that was just given back may serve again: only if it is outside
/// any transaction.
///
/// A transaction that fails on SQLite's "database or disk is full" (or an I/O error) may have been
/// rolled back by SQLite itself; the rollback queued when the failed transaction is dropped then
/// fails in turn ("no transaction is active") and sqlx still counts the connection as inside a
/// transaction. Its next `BEGIN` became a `SAVEPOINT` inside a transaction that nobody ever
/// commits, so later appends on it looked committed on that connection only and were lost on
/// restart. Such a connection is closed instead; the pool opens a fresh one. The ping first lets
/// the connection's worker finish the queued rollback, so a cleanly rolled back connection stays.
async fn released(conn: &mut SqliteConnection) -> Result<bool, sea_orm::sqlx::Error> {
    conn.ping().await?;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("a database connection left inside a failed transaction is closed");
    }
    Ok(clean)
}

/// Connects and brings the schema up to date, serialised against other processes.
pub(crate) async fn connect_and_migrate(
    url: &str,
) -> Result<(DatabaseConnection, Backend), StoreError> {
    let backend = backend_of(url)?;
    let db = Database::connect(options(url, backend)).await?;
    migrate(&db).await?;
    Ok((db, backend))
}

/// Runs the migrations inside one transaction that first takes the migration lock: PostgreSQL's
/// transactional DDL and SQLite's `BEGIN IMMEDIATE` make the whole upgrade all-or-nothing, and a
/// second process starting at the same moment waits and then finds nothing left to do.
pub(crate) async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(())
}
