//! The load itself: C workers, each with its own keep-alive connection, taking the next
//! pre-signed submission until none is left; a sampler for progress and the server's RSS.
//!
//! The workers speak HTTP/1.1 through hyper's connection API directly, one connection each, and
//! send each body as a shared `Bytes`: the generator runs on the server's two cores, and every
//! microsecond it spends per request is one the server does not get (reqwest's pool, URL parsing
//! and header maps cost about a third of the generator's CPU).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use insyn_ledger::note::LogVerifier;
use insyn_ledger::receipt::Receipt;
use tokio::net::TcpStream;

use crate::server::{Server, loadavg, rss_kib};

/// How to drive the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) concurrency: usize,
    pub(crate) max_time: Option<Duration>,
    pub(crate) verify_every: usize,
    pub(crate) sample: Duration,
    /// Paced load: at most this many submissions a second in all (open loop); `None` sends as
    /// fast as the connections allow (closed loop).
    pub(crate) rate: Option<f64>,
}

/// One request: when it finished (µs since the load began), how long it took, its status
/// (0: the connection failed).
#[derive(Debug, Clone, Copy)]
struct Rec {
    done_us: u64,
    latency_us: u64,
    status: u16,
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    records: Vec<Rec>,
    /// Wall time from the first request to the last answer.
    pub(crate) elapsed: Duration,
    /// Submissions answered 201 (new entries).
    pub(crate) created: u64,
    /// Sampled receipts that verified, and that did not.
    receipts_ok: u64,
    pub(crate) receipts_bad: u64,
    /// One example body per non-201 status.
    examples: BTreeMap<u16, String>,
    /// The largest RSS sampled.
    pub(crate) rss_max_kib: u64,
    /// One line per sampling interval.
    pub(crate) intervals: Vec<Interval>,
}

/// What one sampling interval saw.
#[derive(Debug, Clone)]
pub(crate) struct Interval {
    /// Seconds since the load began, at the end of the interval.
    pub(crate) at: f64,
    /// 201s per second in the interval.
    pub(crate) rate: f64,
    /// Answers other than 201 (and failed connections) in the interval.
    pub(crate) errors: u64,
    /// Latency percentiles of the requests that finished in the interval, ms.
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// The server's RSS at the end of the interval, KiB.
    pub(crate) rss_kib: u64,
}

struct Shared {
    bodies: Vec<Bytes>,
    next: AtomicUsize,
    created: AtomicU64,
    start: Instant,
    deadline: Option<Instant>,
    /// The server's address (`127.0.0.1:PORT`), also sent as `Host`.
    addr: String,
    log: LogVerifier,
    verify_every: u64,
    /// Latencies (µs) of the requests finished in the current sampling interval.
    interval_latency: std::sync::Mutex<Vec<u64>>,
    /// Non-201 answers so far.
    errors: AtomicU64,
    /// Paced load: the time between two sends, in all.
    pace: Option<Duration>,
}

#[derive(Default)]
struct WorkerOut {
    records: Vec<Rec>,
    receipts_ok: u64,
    receipts_bad: u64,
    examples: BTreeMap<u16, String>,
}

/// The log's size from `GET /api/v1/log`.
pub(crate) async fn log_size(http: &reqwest::Client, server: &Server) -> Result<u64> {
    let v: serde_json::Value = http
        .get(server.at("/api/v1/log"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["size"].as_u64().context("the log info has no size")
}

/// Verifies the published checkpoint with the verifier key and compares its size.
pub(crate) async fn check_checkpoint(
    http: &reqwest::Client,
    server: &Server,
    log: &LogVerifier,
    expected: u64,
) -> Result<bool> {
    let note = http
        .get(server.at("/checkpoint"))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    match log.verify_checkpoint(&note) {
        Ok(cp) if cp.size() == expected => {
            println!(
                "checkpoint verifies with the log's key, size {}: OK",
                cp.size()
            );
            Ok(true)
        }
        Ok(cp) => {
            println!(
                "checkpoint verifies but has size {}, expected {expected}: MISMATCH",
                cp.size()
            );
            Ok(false)
        }
        Err(e) => {
            println!("checkpoint does not verify: {e}");
            Ok(false)
        }
    }
}

/// Sends every body (or until the deadline) over `plan.concurrency` connections.
pub(crate) async fn drive(
    server: &Server,
    log: &LogVerifier,
    bodies: Vec<Vec<u8>>,
    plan: Plan,
) -> Result<Outcome> {
    let bodies: Vec<Bytes> = bodies.into_iter().map(Bytes::from).collect();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        bodies,
        next: AtomicUsize::new(0),
        created: AtomicU64::new(0),
        start,
        deadline: plan.max_time.map(|d| start + d),
        addr: server.addr()?,
        log: log.clone(),
        verify_every: plan.verify_every as u64,
        interval_latency: std::sync::Mutex::new(Vec::new()),
        errors: AtomicU64::new(0),
        pace: plan
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r)),
    });
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample(
        Arc::clone(&shared),
        Arc::clone(&done),
        server.pid(),
        plan.sample,
    ));
    let mut workers = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency.max(1) {
        // One connection per worker, never shared.
        workers.push(tokio::spawn(worker(Arc::clone(&shared))));
    }
    let mut out = WorkerOut::default();
    for w in workers {
        let w = w.await.context("a worker failed")?;
        out.records.extend(w.records);
        out.receipts_ok += w.receipts_ok;
        out.receipts_bad += w.receipts_bad;
        for (k, v) in w.examples {
            out.examples.entry(k).or_insert(v);
        }
    }
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let (rss_max_kib, intervals) = sampler.await.unwrap_or_default();
    out.records.sort_by_key(|r| r.done_us);
    Ok(Outcome {
        records: out.records,
        elapsed,
        created: shared.created.load(Ordering::Relaxed),
        receipts_ok: out.receipts_ok,
        receipts_bad: out.receipts_bad,
        examples: out.examples,
        rss_max_kib,
        intervals,
    })
}

/// A keep-alive HTTP/1.1 connection to the server.
async fn connect(addr: &str) -> Option<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

/// Sends one submission; the answer's status and body, or `None` when the connection failed.
async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    body: Bytes,
) -> Option<(u16, Bytes)> {
    sender.ready().await.ok()?;
    let request = Request::post("/api/v1/entries")
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    let text = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, text))
}

async fn worker(s: Arc<Shared>) -> WorkerOut {
    let mut out = WorkerOut::default();
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let i = s.next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = s.bodies.get(i) else { break };
        if let Some(pace) = s.pace {
            // Submission i is due at start + i × pace, whichever worker sends it.
            let due = s.start + pace.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
            tokio::time::sleep_until(due.into()).await;
        }
        if s.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let t0 = Instant::now();
        if conn.is_none() {
            conn = connect(&s.addr).await;
        }
        let answer = match conn.as_mut() {
            Some(sender) => post(sender, &s.addr, body.clone()).await,
            None => None,
        };
        let (status, text) = match answer {
            Some(answer) => answer,
            None => {
                // A failed connection counts as status 0; the next request connects again.
                conn = None;
                (0, Bytes::new())
            }
        };
        let t1 = Instant::now();
        let latency_us = micros(t1.duration_since(t0));
        out.records.push(Rec {
            done_us: micros(t1.duration_since(s.start)),
            latency_us,
            status,
        });
        if let Ok(mut l) = s.interval_latency.lock() {
            l.push(latency_us);
        }
        if status != 201 {
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
        if status == 201 {
            let k = s.created.fetch_add(1, Ordering::Relaxed);
            if k.is_multiple_of(s.verify_every) {
                let verified = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| Receipt::from_json(t).ok())
                    .is_some_and(|r| r.verify(&s.log).is_ok());
                if verified {
                    out.receipts_ok += 1;
                } else {
                    out.receipts_bad += 1;
                    eprintln!("receipt {k} does NOT verify against the log's key");
                }
            }
        } else {
            out.examples.entry(status).or_insert_with(|| {
                String::from_utf8_lossy(&text[..text.len().min(400)]).into_owned()
            });
        }
    }
    out
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Prints progress every `every` (rate, errors, latency of the interval, RSS) and returns the
/// largest RSS seen and every interval.
async fn sample(
    s: Arc<Shared>,
    done: Arc<AtomicBool>,
    pid: u32,
    every: Duration,
) -> (u64, Vec<Interval>) {
    let mut max = rss_kib(pid).unwrap_or(0);
    let mut last_count = 0u64;
    let mut last_errors = 0u64;
    let mut last_t = Instant::now();
    let mut intervals = Vec::new();
    println!(
        "  elapsed   acknowledged   rate/s (interval)   errors   p50 ms   p99 ms   max ms   server RSS   load avg"
    );
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if last_t.elapsed() < every && !done.load(Ordering::Relaxed) {
            continue;
        }
        let count = s.created.load(Ordering::Relaxed);
        let errors = s.errors.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = (count - last_count) as f64 / now.duration_since(last_t).as_secs_f64();
        let rss = rss_kib(pid).unwrap_or(0);
        max = max.max(rss);
        let mut lat = s
            .interval_latency
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        lat.sort_unstable();
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * (lat.len() - 1) as f64).round() as usize;
            lat[i.min(lat.len() - 1)] as f64 / 1000.0
        };
        let interval = Interval {
            at: now.duration_since(s.start).as_secs_f64(),
            rate,
            errors: errors - last_errors,
            p50_ms: pct(50.0),
            p99_ms: pct(99.0),
            max_ms: pct(100.0),
            rss_kib: rss,
        };
        println!(
            "  {:>6.1} s  {count:>12}  {rate:>18.0}  {:>7}  {:>7.1}  {:>7.1}  {:>7.1}  {:>8} MiB   {}",
            interval.at,
            interval.errors,
            interval.p50_ms,
            interval.p99_ms,
            interval.max_ms,
            rss / 1024,
            loadavg()
        );
        intervals.push(interval);
        last_count = count;
        last_errors = errors;
        last_t = now;
    }
    (max, intervals)
}

impl Outcome {
    /// The figures, excluding the first `warmup` seconds from rate and latency.
    pub(crate) fn summary(&self, warmup: f64) -> String {
        let mut s = String::new();
        let warm_us = (warmup * 1e6) as u64;
        let end_us = self.records.last().map_or(0, |r| r.done_us);
        let steady: Vec<&Rec> = self
            .records
            .iter()
            .filter(|r| r.done_us.saturating_sub(r.latency_us) >= warm_us)
            .collect();
        let ok_in_window = self
            .records
            .iter()
            .filter(|r| r.status == 201 && r.done_us >= warm_us)
            .count();
        let window = end_us.saturating_sub(warm_us) as f64 / 1e6;
        let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
        for r in &self.records {
            *by_status.entry(r.status).or_default() += 1;
        }
        let total_rate = self.created as f64 / self.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            s,
            "requests: {} in {:.2} s; by status: {}",
            self.records.len(),
            self.elapsed.as_secs_f64(),
            by_status
                .iter()
                .map(|(k, v)| if *k == 0 {
                    format!("connection error {v}")
                } else {
                    format!("{k} {v}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        if window > 0.0 {
            let _ = writeln!(
                s,
                "sustained: {:.0} submissions/s acknowledged (201) after {warmup} s warm-up ({ok_in_window} in {window:.2} s); {total_rate:.0}/s over the whole run",
                ok_in_window as f64 / window
            );
        } else {
            let _ = writeln!(
                s,
                "the run was shorter than the warm-up; {total_rate:.0}/s over the whole run"
            );
        }
        let mut lat: Vec<u64> = steady.iter().map(|r| r.latency_us).collect();
        lat.sort_unstable();
        if lat.is_empty() {
            lat = self.records.iter().map(|r| r.latency_us).collect();
            lat.sort_unstable();
        }
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * (lat.len() - 1) as f64).round() as usize;
            lat[i.min(lat.len() - 1)] as f64 / 1000.0
        };
        let _ = writeln!(
            s,
            "latency to receipt (ms, {} requests after warm-up): p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
            lat.len(),
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(100.0)
        );
        let _ = write!(
            s,
            "receipts verified against the verifier key: {} ok, {} bad (every sampled one)",
            self.receipts_ok, self.receipts_bad
        );
        for (status, body) in &self.examples {
            let _ = write!(s, "\nexample answer with status {status}: {body}");
        }
        s
    }
}
