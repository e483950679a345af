//! The `insyn serve` process under test: start, restart, kill, and what `/proc` says about it.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How to start the server: binary, data directory, optional PostgreSQL URL.
#[derive(Debug, Clone)]
pub(crate) struct ServerSpec {
    pub(crate) insyn: PathBuf,
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: Option<String>,
}

/// A running server, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The log's note verifier key, as the server printed it.
    pub(crate) verifier_key: String,
    /// How long from spawn to "listening on" (includes catching up with the log).
    pub(crate) start_time: Duration,
}

impl ServerSpec {
    /// Starts `insyn serve` on a free port; its stderr goes to `server.log` beside the data dir.
    pub(crate) fn start(&self) -> Result<Server> {
        let log_path = self.data_dir.with_extension("server.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut cmd = Command::new(&self.insyn);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            // The load comes from one address in one provider's name, far beyond what the rate
            // limits allow a real client; the benchmark measures the server, not the limiter.
            .arg("--rate-limit-off");
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let t0 = Instant::now();
        let mut child = cmd
            .env_remove("INSYN_DATABASE_URL")
            // The server's log filter: LOADGEN_SERVER_LOG (e.g. `warn,insyn_store=debug` for the
            // sequencer's per-batch timings), `warn` by default.
            .env(
                "RUST_LOG",
                std::env::var("LOADGEN_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot run {}", self.insyn.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout for the server's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut verifier_key = None;
        let url = loop {
            let line = match rx.recv_timeout(Duration::from_secs(1800)) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "insyn serve did not say it was listening; see {}",
                        log_path.display()
                    );
                }
            };
            if let Some(k) = line.strip_prefix("log verifier key: ") {
                verifier_key = Some(k.trim().to_owned());
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        let verifier_key = verifier_key.context("the server printed no verifier key")?;
        Ok(Server {
            child,
            url,
            verifier_key,
            start_time: t0.elapsed(),
        })
    }

    /// `insyn admin ... add-municipality CODE --public-key HEX` against this server's store.
    pub(crate) fn add_municipality(&self, code: &str, public_key_hex: &str) -> Result<()> {
        let mut cmd = Command::new(&self.insyn);
        cmd.arg("admin").arg("--data-dir").arg(&self.data_dir);
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd
            .args(["add-municipality", code, "--public-key", public_key_hex])
            .env_remove("INSYN_DATABASE_URL")
            .output()
            .context("cannot run insyn admin")?;
        if !out.status.success() {
            bail!(
                "insyn admin add-municipality failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL, as a crash would: no chance to flush anything.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A URL on this server.
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `127.0.0.1:PORT`, for a raw connection.
    pub(crate) fn addr(&self) -> anyhow::Result<String> {
        self.url
            .strip_prefix("http://")
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("the server's URL {} is not http://", self.url))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Resident set size of process `pid` in KiB (`VmRSS` in `/proc/<pid>/status`).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process in seconds (`/proc/<pid>/stat`, fields 14 and 15), or of
/// this process with `None`.
pub(crate) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; fields after the closing parenthesis are plain.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so fields 14 and 15 are at positions 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // The kernel reports clock ticks; USER_HZ is 100 on every Linux configuration we run on.
    Some((utime + stime) / 100.0)
}

/// The 1-minute load average (`/proc/loadavg`), as text.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Whether `path` exists (for friendlier errors about the binary).
pub(crate) fn exists(path: &Path) -> bool {
    path.exists()
}
