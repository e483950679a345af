//! `insyn-loadgen`: a load benchmark for `insyn serve`.
//!
//! It starts the real server (SQLite in a data directory, or a PostgreSQL URL), registers a
//! municipality (`insyn admin`), a provider, its key and enough contracts through the API,
//! pre-signs N report submissions (so its own signing is not measured), then drives the server
//! with C concurrent keep-alive HTTP/1.1 connections and reports sustained submissions per
//! second, latency to receipt, errors by status and the server's RSS over the run. It verifies
//! a sample of receipts against the log's verifier key, checks that the log holds exactly what
//! was acknowledged, kills the server with SIGKILL, restarts it and checks again.

mod drive;
mod server;
mod world;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use insyn_ledger::note::LogVerifier;

use crate::server::{ServerSpec, cpu_seconds, loadavg, rss_kib};
use crate::world::World;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "insyn-loadgen", about = "Load benchmark for insyn serve")]
struct Args {
    /// The `insyn` binary to start (a release build).
    #[arg(long, default_value = "target/release/insyn")]
    insyn: PathBuf,
    /// A fresh data directory for the server (log key, and the SQLite database).
    #[arg(long)]
    data_dir: PathBuf,
    /// A PostgreSQL URL (an empty database); SQLite in the data directory when absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Report submissions to pre-sign and send.
    #[arg(long, short = 'n', default_value_t = 20_000)]
    entries: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Stop sending after this many seconds even if submissions are left.
    #[arg(long)]
    max_secs: Option<u64>,
    /// Seconds at the start excluded from the sustained rate and the latency figures.
    #[arg(long, default_value_t = 3.0)]
    warmup_secs: f64,
    /// Verify every k-th acknowledged receipt (and the first) against the verifier key.
    #[arg(long, default_value_t = 1000)]
    verify_every: usize,
    /// Seconds between progress lines (rate, errors, latency percentiles, RSS, load average).
    #[arg(long, default_value_t = 5)]
    sample_secs: u64,
    /// Pace the load at this many submissions per second in all (open loop), as a soak test
    /// does; without it every connection sends as fast as it gets answers.
    #[arg(long)]
    rate: Option<f64>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<()> {
    if !server::exists(&args.insyn) {
        bail!(
            "{} does not exist: build it with cargo build --release -p insyn",
            args.insyn.display()
        );
    }
    let spec = ServerSpec {
        insyn: args.insyn.clone(),
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
    };
    let db = if args.database_url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    println!(
        "# insyn-loadgen: {db}, {} submissions, {} connections, load average {} at start",
        args.entries,
        args.concurrency,
        loadavg()
    );

    let mut server = spec.start()?;
    let log = LogVerifier::from_verifier_key(&server.verifier_key).context("verifier key")?;
    let contracts = World::contracts_for(args.entries)?;
    let t = Instant::now();
    let world = World::register(&spec, &server, contracts, args.concurrency).await?;
    println!(
        "setup: {contracts} contracts registered through the API in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let bodies = world.presign(args.entries)?;
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "pre-signed {} submissions ({:.0} bytes each on average) in {:.1} s",
        bodies.len(),
        bytes as f64 / bodies.len().max(1) as f64,
        t.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    let size_before = drive::log_size(&http, &server).await?;
    let pid = server.pid();
    let rss_start = rss_kib(pid).unwrap_or(0);
    let cpu_server0 = cpu_seconds(Some(pid));
    let cpu_self0 = cpu_seconds(None);
    let load_start = loadavg();
    let result = drive::drive(
        &server,
        &log,
        bodies,
        drive::Plan {
            concurrency: args.concurrency,
            max_time: args.max_secs.map(Duration::from_secs),
            verify_every: args.verify_every.max(1),
            sample: Duration::from_secs(args.sample_secs.max(1)),
            rate: args.rate,
        },
    )
    .await?;
    let cpu_server = cpu_seconds(Some(pid)).zip(cpu_server0).map(|(a, b)| a - b);
    if let Some(line) = soak_summary(&result.intervals, args.warmup_secs) {
        println!("{line}");
    }
    let cpu_self = cpu_seconds(None).zip(cpu_self0).map(|(a, b)| a - b);
    let load_end = loadavg();
    let summary = result.summary(args.warmup_secs);
    println!();
    println!(
        "## result ({db}, c={}, n={})",
        args.concurrency, args.entries
    );
    println!("{summary}");
    println!(
        "server RSS: {} MiB before the load, max {} MiB, {} MiB at the end (sampled every {} s)",
        rss_start / 1024,
        result.rss_max_kib / 1024,
        rss_kib(pid).unwrap_or(0) / 1024,
        args.sample_secs
    );
    let secs = result.elapsed.as_secs_f64();
    println!(
        "CPU during the load ({secs:.1} s wall): server {}, load generator {} (of 2 cores); load average {load_start} at start, {load_end} at end",
        cpu_server.map_or("?".to_owned(), |c| format!(
            "{c:.1} s = {:.2} cores",
            c / secs
        )),
        cpu_self.map_or("?".to_owned(), |c| format!(
            "{c:.1} s = {:.2} cores",
            c / secs
        )),
    );

    // Durability: the log holds exactly what was acknowledged, also after a crash and restart.
    let size_after = drive::log_size(&http, &server).await?;
    let expected = size_before + result.created;
    let mut ok = result.receipts_bad == 0;
    println!(
        "log size: {size_before} before, {size_after} after; {} acknowledged (201) -> expected {expected}: {}",
        result.created,
        verdict(size_after == expected)
    );
    ok &= size_after == expected;
    ok &= drive::check_checkpoint(&http, &server, &log, expected).await?;
    server.kill();
    let restarted = spec.start()?;
    let size_restart = drive::log_size(&http, &restarted).await?;
    println!(
        "after SIGKILL and restart ({:.1} s to listen): log size {size_restart}: {}",
        restarted.start_time.as_secs_f64(),
        verdict(size_restart == expected)
    );
    ok &= size_restart == expected;
    ok &= drive::check_checkpoint(&http, &restarted, &log, expected).await?;
    drop(restarted);
    if !ok {
        bail!("a check failed (see above)");
    }
    println!("all checks passed");
    Ok(())
}

/// Whether latency and memory stayed flat: the first and the last third of the intervals after
/// the warm-up, compared by their median p99 and their median RSS.
fn soak_summary(intervals: &[drive::Interval], warmup: f64) -> Option<String> {
    let steady: Vec<&drive::Interval> = intervals.iter().filter(|i| i.at > warmup).collect();
    if steady.len() < 6 {
        return None;
    }
    let third = steady.len() / 3;
    let median = |xs: &mut Vec<f64>| -> f64 {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    let first = &steady[..third];
    let last = &steady[steady.len() - third..];
    let p99 = |part: &[&drive::Interval]| median(&mut part.iter().map(|i| i.p99_ms).collect());
    let rss = |part: &[&drive::Interval]| {
        median(&mut part.iter().map(|i| i.rss_kib as f64 / 1024.0).collect())
    };
    let rate = |part: &[&drive::Interval]| median(&mut part.iter().map(|i| i.rate).collect());
    let errors: u64 = intervals.iter().map(|i| i.errors).sum();
    Some(format!(
        "soak ({} intervals after warm-up; first third vs last third, medians): rate {:.0} -> {:.0}/s, \
         p99 {:.1} -> {:.1} ms, server RSS {:.0} -> {:.0} MiB; errors in all intervals: {errors}",
        steady.len(),
        rate(first),
        rate(last),
        p99(first),
        p99(last),
        rss(first),
        rss(last),
    ))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "OK" } else { "MISMATCH" }
}
