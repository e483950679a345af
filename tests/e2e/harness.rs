//! Starts the real `insyn` binary for end-to-end tests and talks to it over 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The databases an end-to-end test runs on.
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded default: SQLite inside the data directory.
    Sqlite,
    /// A fresh database in the PostgreSQL server named by `INSYN_TEST_DATABASE_URL`.
    Postgres(String),
}

/// Every database this run can test: SQLite always, PostgreSQL when `INSYN_TEST_DATABASE_URL` is set.
///
/// Without it the PostgreSQL half is skipped loudly, and under `CI=true` that is a failure.
pub fn databases(test: &str) -> Vec<Db> {
    let mut dbs = vec![Db::Sqlite];
    match std::env::var("INSYN_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => dbs.push(Db::Postgres(fresh_pg_database(&url, test))),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but INSYN_TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI"
            );
            eprintln!(
                "!!! PostgreSQL tests SKIPPED for {test}: set INSYN_TEST_DATABASE_URL (scripts/test does)"
            );
        }
    }
    dbs
}

/// Creates an empty database named after the test in the server at `admin_url`, and returns its URL.
fn fresh_pg_database(admin_url: &str, test: &str) -> String {
    let name = format!(
        "e2e_{}_{}_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("database URL ends in /DBNAME");
    let status = Command::new("psql")
        .args([admin_url, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "could not create database {name}");
    format!("{base}/{name}")
}

/// A running `insyn serve` process, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory (the log key lives here, and the SQLite database when used).
    pub data_dir: PathBuf,
    /// Every line the server printed on stdout up to "listening".
    pub banner: Vec<String>,
    db_url: Option<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `insyn serve` on a free port with a fresh data directory on `db`.
    pub fn start(db: &Db, extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut s = Self::start_in(&data_dir, db, extra);
        s._tmp = Some(tmp);
        s
    }

    /// Starts `insyn serve` on a free port with the given data directory (kept by the caller).
    pub fn start_in(data_dir: &Path, db: &Db, extra: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_insyn"));
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir);
        if let Db::Postgres(url) = db {
            cmd.arg("--database-url").arg(url);
        }
        cmd.args(extra)
            .env_remove("INSYN_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("insyn starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| {
                    panic!("insyn serve did not say it was listening; it said: {banner:#?}")
                });
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
            banner.push(line);
        };
        let db_url = match db {
            Db::Postgres(u) => Some(u.clone()),
            Db::Sqlite => None,
        };
        Self {
            child,
            url,
            data_dir: data_dir.to_owned(),
            banner,
            db_url,
            _tmp: None,
        }
    }

    /// The PostgreSQL URL the server uses, if not SQLite.
    pub fn database_url(&self) -> Option<String> {
        self.db_url.clone()
    }

    /// Stops the server with SIGKILL (no chance to clean up), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the server to exit by itself; its exit status, or `None` if it
    /// is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A URL on this server.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the `insyn` binary to completion with `args`, returning (success, stdout, stderr).
pub fn insyn(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_insyn"))
        .args(args)
        .env_remove("INSYN_DATABASE_URL")
        .output()
        .expect("insyn runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
