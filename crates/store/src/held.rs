//! The sequencer's own SQLite connection, held from one batch to the next instead of borrowed
//! from a pool for each transaction.
//!
//! A pooled connection goes back to its pool through a task that pings the connection's worker
//! thread twice before the connection is idle again. The connection here has one user, the
//! sequencer, so it is simply kept, and a batch's `BEGIN` follows the previous commit without
//! those pings.
//!
//! Every statement is a round trip between the sequencer's thread and the connection's worker
//! thread, and on a loaded two-core machine each one that finds the other thread asleep waits for
//! it to be scheduled, a large part of a batch's time (docs/PERFORMANCE.md, 2026-12-05, evening).
//! So the transaction's `BEGIN IMMEDIATE` and the read of the log's size go to SQLite together
//! ([`HeldSqlite::begin_immediate`]), and the transaction is controlled by those statements
//! (`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`) rather than by sqlx's transaction object, which
//! sends its `BEGIN` on its own.
//!
//! sea-orm builds its transactions only from a pool, so [`HeldTxn`] speaks sea-orm's
//! [`ConnectionTrait`] over the held connection: the append path's queries are the same sea-orm
//! entity queries on both databases.
//!
//! Architecture invariant: after a failed transaction the connection is rolled back and used
//! again only once a `BEGIN` on it succeeds (which it does only outside any transaction);
//! otherwise it is closed and a new one opened (the rule the pool's `after_release` hook applies
//! to pooled connections, see `connect.rs`).

use std::str::FromStr;
use std::sync::Arc;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _, Sqlite};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, Values,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use crate::StoreError;
use crate::error::from_db;

/// One SQLite connection with the pool's settings (`connect::tune_sqlite`), owned by its user.
pub(crate) struct HeldSqlite {
    conn: SqliteConnection,
    options: SqliteConnectOptions,
}

impl HeldSqlite {
    /// Opens a connection to the SQLite database at `url`.
    pub(crate) async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(to_store)?;
        let options = crate::connect::tune_sqlite(options).disable_statement_logging();
        let conn = options.connect().await.map_err(to_store)?;
        Ok(Self { conn, options })
    }

    /// Begins a transaction with `BEGIN IMMEDIATE`, which takes SQLite's write lock at once, and
    /// reads the log's committed size inside it, in one round trip (`raw_sql`: several
    /// statements without parameters). Returns the transaction and the size.
    ///
    /// A transaction that is dropped without [`HeldTxn::commit`], or whose commit fails, must be
    /// followed by [`HeldSqlite::recover`] before the connection is used again.
    pub(crate) async fn begin_immediate(&mut self) -> Result<(HeldTxn<'_>, u64), StoreError> {
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(
            "BEGIN IMMEDIATE; SELECT MAX(idx) FROM entries",
        ))
        .fetch_all(&mut self.conn)
        .await
        .map_err(to_store)?;
        let last: Option<i64> = match rows.into_iter().next() {
            Some(row) => QueryResult::from(row).try_get_by_index(0)?,
            None => None,
        };
        // As `reads::committed_size`: the last index plus one.
        let size = match last {
            None => 0,
            Some(i) => from_db(i)? + 1,
        };
        Ok((
            HeldTxn {
                conn: Mutex::new(&mut self.conn),
            },
            size,
        ))
    }

    /// After a transaction that failed, or was dropped: rolls it back and keeps the connection if
    /// it is then outside any transaction, else replaces it.
    ///
    /// A transaction that fails on SQLite's "database or disk is full" (or an I/O error) may have
    /// been rolled back by SQLite itself, and then `ROLLBACK` fails ("no transaction is active"),
    /// which is fine. Whether the connection is really outside any transaction is what a `BEGIN`
    /// proves: SQLite refuses one inside a transaction.
    pub(crate) async fn recover(&mut self) -> Result<(), StoreError> {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
        let clean = match sqlx::raw_sql("BEGIN").execute(&mut self.conn).await {
            Ok(_) => sqlx::raw_sql("ROLLBACK")
                .execute(&mut self.conn)
                .await
                .is_ok(),
            Err(_) => false,
        };
        if clean {
            return Ok(());
        }
        tracing::warn!(
            "the sequencer's connection was left inside a failed transaction; reopening it"
        );
        let fresh = self.options.connect().await.map_err(to_store)?;
        let old = std::mem::replace(&mut self.conn, fresh);
        // Closing may fail on a broken connection; it is gone either way.
        let _ = old.close_hard().await;
        Ok(())
    }

    /// Closes the connection.
    pub(crate) async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// A write transaction on a [`HeldSqlite`] connection, begun by [`HeldSqlite::begin_immediate`].
/// Dropped without [`HeldTxn::commit`], it stays open until [`HeldSqlite::recover`] rolls it
/// back.
pub(crate) struct HeldTxn<'c> {
    conn: Mutex<&'c mut SqliteConnection>,
}

impl HeldTxn<'_> {
    /// Commits; with `synchronous=FULL` the commit returns once the WAL is synced.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let conn = self.conn.into_inner();
        sqlx::raw_sql("COMMIT")
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(to_store)
    }
}

fn to_store(e: sqlx::Error) -> StoreError {
    StoreError::Database(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

/// sea-orm's statement as a sqlx query with its values bound, as sea-orm's own SQLite driver
/// builds it, but taking the values instead of copying them (a batch's payloads are among them).
fn sqlx_query(stmt: Statement) -> sqlx::query::Query<'static, Sqlite, SqlxValues> {
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql), SqlxValues(values))
}

#[async_trait::async_trait]
impl ConnectionTrait for HeldTxn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx_query(stmt)
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx_query(stmt)
            .fetch_optional(&mut **conn)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx_query(stmt)
            .fetch_all(&mut **conn)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}

/// The append transaction: on SQLite on the sequencer's held connection, on PostgreSQL on a
/// pooled one (after `pg_advisory_xact_lock`). Both hold the log's write lock.
pub(crate) enum AppendTxn<'c> {
    Pool(DatabaseTransaction),
    Held(HeldTxn<'c>),
}

impl AppendTxn<'_> {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Pool(txn) => Ok(txn.commit().await?),
            Self::Held(txn) => txn.commit().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for AppendTxn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pool(txn) => txn.get_database_backend(),
            Self::Held(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(txn) => txn.execute_raw(stmt).await,
            Self::Held(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(txn) => txn.execute_unprepared(sql).await,
            Self::Held(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pool(txn) => txn.query_one_raw(stmt).await,
            Self::Held(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pool(txn) => txn.query_all_raw(stmt).await,
            Self::Held(txn) => txn.query_all_raw(stmt).await,
        }
    }
}
