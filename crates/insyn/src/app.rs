//! The server: opens the data directory and database, starts the sequencer, and serves the API and
//! the portal on one listener until told to stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use insyn_api::policy::LedgerPolicy;
use insyn_api::{ApiSequencer, ApiState};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::LogSigner;
use insyn_store::{SequencerConfig, Store};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

use crate::config::{DataArgs, ServeArgs};

/// The log's private key file inside the data directory.
pub const LOG_KEY_FILE: &str = "log.key";

/// Reads the log's signing key from the data directory, creating it (mode 0600) on first start.
/// Returns the key and whether it was created now.
///
/// # Errors
/// When the directory or file cannot be created or read, or the file is not a key.
pub fn load_or_create_log_key(data_dir: &Path) -> Result<(SigningKey, bool)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join(LOG_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = SigningKey::from_text(text.trim())
                .with_context(|| format!("{} is not an Insyn secret key", path.display()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate();
            crate::keyfile::write_new_secret(&path, &key.to_text())?;
            Ok((key, true))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The opened ledger: database, the log's signer and a running sequencer.
pub struct Ledger {
    /// The database.
    pub store: Store,
    /// The log's signer (origin and key).
    pub signer: LogSigner,
    /// The submission queue.
    pub sequencer: Arc<ApiSequencer>,
    /// The sequencer task; it ends once every handle to the sequencer is dropped.
    pub sequencer_task: JoinHandle<()>,
    /// Whether the log's key was created by this start.
    pub new_key: bool,
}

impl Ledger {
    /// Opens the data directory and database, and starts the sequencer caught up with the log.
    ///
    /// # Errors
    /// Anything that keeps the ledger from starting, with a message that says what to do.
    pub async fn open(data: &DataArgs) -> Result<Self> {
        Self::open_with(data, None).await
    }

    /// Like [`Ledger::open`], with the store's clock replaced (the demo's simulated time).
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub async fn open_with(
        data: &DataArgs,
        clock: Option<Arc<dyn insyn_store::Clock>>,
    ) -> Result<Self> {
        let (key, new_key) = load_or_create_log_key(&data.data_dir)?;
        let signer = LogSigner::new(&data.origin, key)
            .with_context(|| format!("{:?} cannot be a log origin", data.origin))?;
        let url = data.database_url();
        let mut store = Store::connect(url.expose())
            .await
            .context("cannot open the database")?;
        if let Some(clock) = clock {
            store = store.with_clock(clock);
        }
        let log_key = signer.verifier().public_key().to_owned();
        let (sequencer, sequencer_task) = insyn_store::Sequencer::start(
            store.clone(),
            signer.clone(),
            move || LedgerPolicy::new(log_key),
            SequencerConfig::default(),
        )
        .await
        .context("cannot start the sequencer")?;
        Ok(Self {
            store,
            signer,
            sequencer: Arc::new(sequencer),
            sequencer_task,
            new_key,
        })
    }
}

/// The directory of the municipality keys the portal signs reviews with, inside the data
/// directory: one `<municipality code>.key` file each (Insyn secret-key text, mode 0600).
pub const PORTAL_KEYS_DIR: &str = "portal-keys";

/// The municipality keys the portal signs auditors' reviews with: with `--demo`, each demo
/// municipality's current demo key; otherwise the files in [`PORTAL_KEYS_DIR`] (none is fine:
/// the portal then says reviewing is not available).
///
/// # Errors
/// When a key file cannot be read or is not a key of a known municipality.
pub fn portal_keys(args: &ServeArgs) -> Result<insyn_portal::PortalKeys> {
    if args.demo {
        let dataset = insyn_domain::demo::generate(&insyn_domain::demo::DemoConfig {
            seed: crate::demo::DEMO_SEED,
            now: time::OffsetDateTime::now_utc(),
        });
        let mut keys = insyn_portal::PortalKeys::new();
        for m in &dataset.municipalities {
            if let Some(key) = crate::demo::portal_key(&dataset, *m) {
                keys.insert(*m, key);
            }
        }
        return Ok(keys);
    }
    let dir = args.data.data_dir.join(PORTAL_KEYS_DIR);
    insyn_portal::PortalKeys::load_dir(&dir).with_context(|| {
        format!(
            "cannot read the portal's municipality keys in {}",
            dir.display()
        )
    })
}

/// A built server, bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    ledger: Ledger,
    demo: Option<crate::demo::DemoSummary>,
    shutdown_grace: std::time::Duration,
    witness_pushers: Vec<JoinHandle<()>>,
}

impl Application {
    /// Opens everything `insyn serve` needs and binds the listener.
    ///
    /// # Errors
    /// Anything that keeps the server from starting.
    pub async fn build(args: &ServeArgs) -> Result<Self> {
        let (ledger, demo) = if args.demo {
            let (ledger, summary) = crate::demo::open(&args.data).await?;
            (ledger, Some(summary))
        } else {
            (Ledger::open(&args.data).await?, None)
        };
        let api = insyn_api::router_with_limits(
            ApiState {
                store: ledger.store.clone(),
                log: Arc::new(ledger.signer.verifier().clone()),
                sequencer: ledger.sequencer.clone(),
            },
            &args.rate_limits.config(),
        );
        let portal_config = insyn_portal::PortalConfig {
            public_url: args.public_url.clone(),
            ..insyn_portal::PortalConfig::default()
        };
        let portal = insyn_portal::router(
            insyn_portal::PortalState::new(ledger.store.clone(), portal_config)
                .context("cannot load the portal's templates")?
                .with_reviews(ledger.sequencer.clone(), portal_keys(args)?),
        );
        let router = api.merge(portal);
        let listener =
            listen(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
        // Background tasks that get each new checkpoint cosigned by the configured witnesses.
        let witness_pushers = insyn_api::spawn_witness_pushers(
            &ledger.store,
            &Arc::new(ledger.signer.verifier().clone()),
            &args.witness,
            &insyn_api::WitnessPushConfig::default(),
        )
        .context("cannot start pushing checkpoints to witnesses")?;
        Ok(Self {
            shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace_secs),
            listener,
            router,
            ledger,
            demo,
            witness_pushers,
        })
    }

    /// The address the server listens on (useful with port 0).
    ///
    /// # Errors
    /// When the socket has no local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The opened ledger.
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// What `--demo` did, when it was given.
    #[must_use]
    pub fn demo(&self) -> Option<&crate::demo::DemoSummary> {
        self.demo.as_ref()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting connections, lets requests in flight
    /// finish (for at most the shutdown grace period), and lets the sequencer integrate what it has
    /// already queued before returning.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until_stopped(self) -> Result<()> {
        let Self {
            shutdown_grace,
            listener,
            router,
            ledger,
            witness_pushers,
            ..
        } = self;
        // After the signal, requests in flight get `shutdown_grace` to finish; a client that
        // never completes its request cannot keep the server from stopping.
        let (signalled, signal) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = signalled.send(());
        });
        let deadline = async move {
            if signal.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(shutdown_grace).await;
        };
        tokio::select! {
            served = serve.into_future() => served.context("the server failed")?,
            () = deadline => tracing::warn!(
                ?shutdown_grace,
                "requests were still open after the shutdown grace period; closing them"
            ),
        }
        for task in witness_pushers {
            task.abort();
        }
        // Dropping our handle lets the sequencer finish its queue and stop.
        let Ledger {
            sequencer,
            sequencer_task,
            store,
            ..
        } = ledger;
        drop(sequencer);
        // Connections that outlived the grace period still hold handles; do not wait for them.
        match tokio::time::timeout(shutdown_grace, sequencer_task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("the sequencer stopped abnormally: {e}"),
            Err(_) => {
                tracing::warn!("stopping without the sequencer: connections still hold it");
                return Ok(());
            }
        }
        store.close().await.context("closing the database")?;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// How many connections may wait to be accepted. A burst of clients connecting at once (a load
/// balancer's reconnects after a restart, a thousand submitters) must not overflow the kernel's
/// accept queue: a dropped connection attempt is retried by the client only after a second. The
/// standard library's and tokio's default is 128; the kernel caps this at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR` on Unix, as tokio's
/// own `bind` sets it, so a restarted server can listen again at once).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: with the default backlog of 128, a burst of a thousand connections overflowed
    /// the accept queue and the first requests of a load run waited 1 to 2.4 s for the clients'
    /// retried connection attempts. Here nothing accepts: every connection must wait in the
    /// queue, none may be dropped.
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_accept_queue() {
        let listener = listen("127.0.0.1:0".parse().expect("address")).expect("listen");
        let addr = listener.local_addr().expect("address");
        let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(4096);
        let burst = 600.min(cap);
        let mut connects = tokio::task::JoinSet::new();
        for _ in 0..burst {
            connects.spawn(tokio::time::timeout(
                std::time::Duration::from_millis(700),
                tokio::net::TcpStream::connect(addr),
            ));
        }
        let mut open = Vec::new();
        while let Some(done) = connects.join_next().await {
            if let Ok(Ok(Ok(stream))) = done {
                open.push(stream);
            }
        }
        let connected = open.len();
        assert_eq!(
            connected, burst,
            "connections dropped from the accept queue"
        );
        drop(listener);
    }
}
