//! Runs each test on SQLite (a temp dir) and, when `INSYN_TEST_DATABASE_URL` is set, on
//! PostgreSQL in a fresh database of its own that is dropped afterwards.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use insyn_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, Statement};

/// A database a test may use: its URL, and what to clean up afterwards.
pub(crate) struct TestDb {
    /// The URL to pass to `Store::connect`.
    pub(crate) url: String,
    /// Which database this is, for assertion messages.
    pub(crate) label: &'static str,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs `test` on SQLite, then on PostgreSQL if configured. Without `INSYN_TEST_DATABASE_URL`
/// the PostgreSQL run is skipped loudly, or fails under `CI=true`.
pub(crate) async fn on_each_db<F, Fut>(name: &str, test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("insyn.sqlite");
    test(TestDb {
        url: format!("sqlite://{}?mode=rwc", path.display()),
        label: "sqlite",
    })
    .await;

    match std::env::var("INSYN_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let db_name = format!(
                "insyn_t_{}_{}_{}",
                name.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(30)
                    .collect::<String>(),
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            )
            .to_ascii_lowercase();
            let admin_conn = Database::connect(admin.as_str())
                .await
                .expect("connect to PostgreSQL");
            admin_conn
                .execute_unprepared(&format!("CREATE DATABASE {db_name}"))
                .await
                .expect("create test database");
            let url = with_database(&admin, &db_name);
            test(TestDb {
                url,
                label: "postgres",
            })
            .await;
            admin_conn
                .execute_unprepared(&format!("DROP DATABASE {db_name} WITH (FORCE)"))
                .await
                .expect("drop test database");
            admin_conn.close().await.expect("close");
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PostgreSQL tests cannot be skipped under CI=true: set INSYN_TEST_DATABASE_URL"
                );
            }
            eprintln!(
                "!!!!!!!! PostgreSQL tests SKIPPED: set INSYN_TEST_DATABASE_URL ({name} ran on SQLite only) !!!!!!!!"
            );
        }
    }
}

/// Replaces the database name (the URL's path) in a PostgreSQL URL, keeping any query string.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Rolls back the migration `name` and every one after it: a test of one migration names it, so
/// that adding a migration never moves the test to another one.
pub(crate) async fn down_through(db: &sea_orm::DatabaseConnection, name: &str) {
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let at = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no migration {name} in {names:?}"));
    let steps = u32::try_from(names.len() - at).expect("a few migrations");
    Migrator::down(db, Some(steps)).await.expect("down");
}

/// The column `column` of each row `explain` (an `EXPLAIN …` prefix) returns for `statement`.
async fn explained(
    db: &impl ConnectionTrait,
    explain: &str,
    column: &str,
    statement: Statement,
) -> Vec<String> {
    let explain = Statement::from_sql_and_values(
        db.get_database_backend(),
        format!("{explain} {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    db.query_all_raw(explain)
        .await
        .expect("explain")
        .iter()
        .map(|r| r.try_get::<String>("", column).expect("plan line"))
        .collect()
}

/// The detail lines of SQLite's `EXPLAIN QUERY PLAN` for `statement`.
pub(crate) async fn sqlite_plan(db: &impl ConnectionTrait, statement: Statement) -> Vec<String> {
    explained(db, "EXPLAIN QUERY PLAN", "detail", statement).await
}

/// PostgreSQL's plan for `statement` as text, one line per node (`EXPLAIN` with `options`, such
/// as `ANALYZE, COSTS OFF`, or none).
pub(crate) async fn pg_plan(
    db: &impl ConnectionTrait,
    options: &str,
    statement: Statement,
) -> String {
    let explain = if options.is_empty() {
        "EXPLAIN".to_owned()
    } else {
        format!("EXPLAIN ({options})")
    };
    explained(db, &explain, "QUERY PLAN", statement)
        .await
        .join("\n")
}

/// How many rows of `table` match `condition` (raw SQL, so a test does not trust the store).
pub(crate) async fn count(db: &impl ConnectionTrait, table: &str, condition: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"),
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get("", "n").expect("n")
}
