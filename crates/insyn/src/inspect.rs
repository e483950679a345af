//! `insyn verify`, `insyn export` and `insyn witness`: command-line glue over the `insyn_inspect`
//! library, which holds the verification engine, the export format and the witness.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use insyn_inspect::state::StateDir;
use insyn_inspect::witness::Witness;
use insyn_inspect::{BundleSource, HttpSource, Report, VerifyOptions};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::{Cosigner, LogVerifier};
use insyn_store::{PayloadReader, Store};

use crate::config::DataArgs;

/// `insyn verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The log server to verify, e.g. `http://127.0.0.1:8080`.
    #[arg(long, env = "INSYN_SERVER", conflicts_with = "bundle", required_unless_present_any = ["bundle", "payloads"])]
    server: Option<String>,
    /// An export bundle to verify offline instead of a server.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The log's note verifier key (`name+keyhash+base64`), obtained out of band.
    #[arg(long, env = "INSYN_LOG_KEY")]
    log_key: String,
    /// The inspector's state directory (last verified checkpoint and entry cache).
    #[arg(long, env = "INSYN_INSPECTOR_STATE", default_value = "insyn-inspector")]
    state: PathBuf,
    /// Keep no state: verify from scratch and remember nothing.
    #[arg(long)]
    no_state: bool,
    /// Re-verify every entry even if the state would allow resuming.
    #[arg(long)]
    full: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// Also check every stored payload against the hash its entry signs, reading the server's
    /// database directly (`--data-dir` / `--database-url`); each read is recorded.
    #[arg(long)]
    payloads: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    data: DataArgs,
}

/// `insyn export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The bundle file to write (must not exist).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    data: DataArgs,
}

/// `insyn witness …`.
#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    #[command(subcommand)]
    command: WitnessCommand,
}

#[derive(Debug, clap::Args)]
struct WitnessIdentity {
    /// The witness's secret key file (`insyn witness keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The witness's name (its note key name), e.g. `inspector.example/witness`.
    #[arg(long)]
    name: String,
    /// The log's note verifier key.
    #[arg(long, env = "INSYN_LOG_KEY")]
    log_key: String,
    /// Where the witness remembers the last checkpoint it cosigned.
    #[arg(long, default_value = "insyn-witness.json")]
    state: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum WitnessCommand {
    /// Create the witness's key file and print its cosigner verifier key.
    Keygen {
        /// The secret key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// The witness's name (its note key name).
        #[arg(long)]
        name: String,
    },
    /// Serve C2SP tlog-witness `POST /add-checkpoint`.
    Serve {
        #[command(flatten)]
        id: WitnessIdentity,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
    /// Pull the server's latest checkpoint, check consistency, cosign, and post the cosignature.
    Cosign {
        #[command(flatten)]
        id: WitnessIdentity,
        /// The log server.
        #[arg(long, env = "INSYN_SERVER")]
        server: String,
    },
}

fn print_report(r: &Report, what: &str) {
    println!("log: {what}");
    println!("checkpoint: size {} root {}", r.size, r.root);
    if let Some(p) = r.previous_size {
        println!("previously verified by this inspector: {p} entries");
    }
    println!(
        "entries verified from the log: {} (from index {}); replayed from the local cache: {}",
        r.entries_verified, r.verified_from, r.entries_replayed
    );
    println!(
        "signatures and rules checked: {}; tiles fetched: {}; time: {:.2}s",
        r.signatures_checked,
        r.tiles_fetched,
        r.elapsed.as_secs_f64()
    );
    if r.is_ok() {
        println!(
            "OK: the log verifies{}",
            if r.state_saved { "; state saved" } else { "" }
        );
    } else {
        println!("FAILED: {} problem(s)", r.finding_count);
        if let Some(i) = r.first_bad_index() {
            println!("first bad entry: {i}");
        }
        for f in &r.findings {
            println!("  {f}");
        }
    }
}

/// Runs `insyn verify`.
///
/// # Errors
/// When verification cannot run or finds any problem.
pub async fn verify(args: VerifyArgs) -> Result<()> {
    let log = LogVerifier::from_verifier_key(&args.log_key)
        .context("--log-key is not a note verifier key")?;
    let mut opts = VerifyOptions::new(log);
    opts.full = args.full;
    opts.progress = !args.quiet;
    if !args.no_state {
        opts.state = Some(StateDir::new(&args.state));
    }
    let mut failed = false;
    let report = if let Some(path) = &args.bundle {
        let source = BundleSource::open(path)
            .with_context(|| format!("cannot open the bundle {}", path.display()))?;
        let r = insyn_inspect::verify(Arc::new(source), &opts).await?;
        print_report(&r, &path.display().to_string());
        Some(r)
    } else if let Some(server) = &args.server {
        let source = HttpSource::new(server)?;
        let r = insyn_inspect::verify(Arc::new(source), &opts).await?;
        print_report(&r, server);
        Some(r)
    } else {
        None
    };
    if let Some(r) = &report {
        failed |= !r.is_ok();
    }
    if args.payloads {
        failed |= !check_payloads(&args.data, report.as_ref().map(|r| r.size)).await?;
    }
    if failed {
        bail!("verification failed");
    }
    Ok(())
}

async fn check_payloads(data: &DataArgs, size: Option<u64>) -> Result<bool> {
    let store = Store::connect(data.database_url().expose())
        .await
        .context("cannot open the database")?;
    let size = match size {
        Some(s) => s,
        None => store.latest_checkpoint().await?.map_or(0, |c| c.size),
    };
    let reader = PayloadReader {
        who: "inspector:insyn-verify".into(),
        role: "inspector".into(),
    };
    let r = insyn_inspect::payloads::check_payloads(&store, size, &reader).await?;
    println!(
        "payloads: {} entries read, {} payloads checked, {} erased, {} not stored",
        r.entries, r.checked, r.erased, r.missing
    );
    if let Some(first) = r.findings.first() {
        println!("FAILED: {} payload(s) changed", r.findings.len());
        if let Some(i) = first.index {
            println!("first bad entry: {i}");
        }
        for f in &r.findings {
            println!("  {f}");
        }
    }
    store.close().await.ok();
    Ok(r.findings.is_empty())
}

/// Runs `insyn export`.
///
/// # Errors
/// When the database cannot be read or the file written.
pub async fn export(args: ExportArgs) -> Result<()> {
    let store = Store::connect(args.data.database_url().expose())
        .await
        .context("cannot open the database")?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .with_context(|| {
            format!(
                "cannot create {} (it must not exist yet)",
                args.out.display()
            )
        })?;
    let (file, summary) = insyn_inspect::export::export(&store, file).await?;
    file.sync_all()?;
    store.close().await.ok();
    println!(
        "exported checkpoint size {} ({} tiles, {} cosignatures) to {}",
        summary.size,
        summary.tiles,
        summary.cosignatures,
        args.out.display()
    );
    Ok(())
}

fn witness(id: &WitnessIdentity) -> Result<Witness> {
    let text = std::fs::read_to_string(&id.key)
        .with_context(|| format!("cannot read the key file {}", id.key.display()))?;
    let key = SigningKey::from_text(text.trim())
        .with_context(|| format!("{} is not an Insyn secret key", id.key.display()))?;
    let cosigner = Cosigner::new(&id.name, key).map_err(|e| anyhow!("--name: {e}"))?;
    let log = LogVerifier::from_verifier_key(&id.log_key)
        .context("--log-key is not a note verifier key")?;
    Ok(Witness::new(cosigner, log, Some(&id.state))?)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs `insyn witness …`.
///
/// # Errors
/// Whatever made the command fail; a refused checkpoint (inconsistent, badly signed) too.
pub async fn run_witness(args: WitnessArgs) -> Result<()> {
    match args.command {
        WitnessCommand::Keygen { out, name } => {
            let key = crate::provider::keygen(&out)?;
            let c = Cosigner::new(&name, key).map_err(|e| anyhow!("--name: {e}"))?;
            println!("witness verifier key: {}", c.verifier().verifier_key());
            Ok(())
        }
        WitnessCommand::Serve { id, listen } => {
            let w = Arc::new(witness(&id)?);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            println!("witness verifier key: {}", w.verifier_key());
            println!("witness for {} at size {}", id.log_key, w.latest_size());
            println!("listening on http://{}", listener.local_addr()?);
            axum::serve(listener, insyn_inspect::witness::router(w))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .context("the witness server failed")
        }
        WitnessCommand::Cosign { id, server } => {
            let w = witness(&id)?;
            let before = w.latest_size();
            let cp = w
                .cosign_from(&server, now_secs())
                .await
                .map_err(|e| anyhow!("the witness refuses to cosign: {e}"))?;
            println!(
                "cosigned checkpoint size {} (consistent with size {before} cosigned before) and posted it to {server}",
                cp.size()
            );
            Ok(())
        }
    }
}
