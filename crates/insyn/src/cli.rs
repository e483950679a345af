//! The command-line grammar and what each command does.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::app::{Application, Ledger};
use crate::config::{DataArgs, ServeArgs};

/// Insyn: a tamper-evident ledger of what private providers of municipal exit programs report.
#[derive(Debug, Parser)]
#[command(name = "insyn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    #[allow(missing_docs)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the API, the C2SP tiles and the portal.
    Serve(ServeArgs),
    /// Providers' tools: key generation, signing reports offline, submitting, receipts, keys.
    Provider(crate::provider::ProviderArgs),
    /// Municipalities' signing tools: register providers and contracts, manage provider keys.
    Municipality(crate::provider::MunicipalityArgs),
    /// Verify a whole log as an inspector, from a server or an export bundle.
    Verify(crate::inspect::VerifyArgs),
    /// Write a single-file export bundle of the log from the server's database.
    Export(crate::inspect::ExportArgs),
    /// An inspector's witness: cosign checkpoints after checking consistency (C2SP tlog-witness).
    Witness(crate::inspect::WitnessArgs),
    /// Operator commands that act on the server's data directory and database.
    Admin {
        #[command(flatten)]
        #[allow(missing_docs)]
        data: DataArgs,
        #[command(subcommand)]
        #[allow(missing_docs)]
        command: AdminCommand,
    },
}

/// `insyn admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register a municipality in the ledger together with its first public key.
    AddMunicipality {
        /// SCB municipality code, e.g. 0180.
        code: String,
        /// The municipality's Ed25519 public key, 64 hex characters.
        #[arg(long)]
        public_key: String,
    },
    /// Create the key the portal signs a municipality's reviews with: writes
    /// `<data-dir>/portal-keys/<code>.key` (mode 0600, never overwritten) and registers its public
    /// key for the municipality in the ledger, signed by the operator (registering the
    /// municipality first if needed). Restart `insyn serve` to load it.
    AddPortalKey {
        /// SCB municipality code, e.g. 0180.
        #[arg(long)]
        municipality: String,
    },
    /// Print the log's origin and verifier key.
    Identity,
    /// Create an API credential for reading payloads; the token is printed once, only its hash is
    /// kept.
    AddCredential {
        /// `inspector`, `auditor:<municipality code>` or `provider:<organisation number>`.
        role: String,
        /// What it is for, e.g. "Stockholm's audit unit".
        #[arg(long)]
        label: String,
    },
    /// Revoke an API credential by its number.
    RevokeCredential {
        /// The credential's number, as `add-credential` printed it.
        id: i32,
    },
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever made the command fail, with a message for the person who ran it.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin { data, command } => admin(&data, command).await,
        Command::Provider(args) => crate::provider::run_provider(args).await,
        Command::Municipality(args) => crate::provider::run_municipality(args).await,
        Command::Verify(args) => crate::inspect::verify(args).await,
        Command::Export(args) => crate::inspect::export(args).await,
        Command::Witness(args) => crate::inspect::run_witness(args).await,
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let app = Application::build(&args).await?;
    let ledger = app.ledger();
    if ledger.new_key {
        println!(
            "created the log's key in {}",
            args.data.data_dir.join(crate::app::LOG_KEY_FILE).display()
        );
    }
    if let Some(demo) = app.demo() {
        if demo.written > 0 {
            println!(
                "demo: wrote {} synthetic entries through the sequencer",
                demo.written
            );
        }
        println!("demo accounts for the portal (synthetic data, demo passwords):");
        for a in &demo.accounts {
            println!(
                "  {:<20} password {:<28} {}",
                a.username, a.password, a.description
            );
        }
    }
    println!("log origin: {}", ledger.signer.verifier().name());
    println!("log verifier key: {}", ledger.signer.verifier_key());
    println!("listening on http://{}", app.local_addr()?);
    app.run_until_stopped().await
}

async fn admin(data: &DataArgs, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Identity => {
            let (key, _) = crate::app::load_or_create_log_key(&data.data_dir)?;
            let signer = insyn_ledger::note::LogSigner::new(&data.origin, key)?;
            println!("log origin: {}", signer.verifier().name());
            println!("log verifier key: {}", signer.verifier_key());
            Ok(())
        }
        AdminCommand::AddCredential { role, label } => {
            let (role, scope) = role.split_once(':').unwrap_or((role.as_str(), ""));
            if insyn_api::auth::role_of(role, scope).is_none() {
                anyhow::bail!(
                    "the role must be `inspector`, `auditor:<municipality code>` or `provider:<organisation number>`"
                );
            }
            let store = insyn_store::Store::connect(data.database_url().expose()).await?;
            let token = crate::keyfile::random_token();
            let id = store.add_credential(&token, role, scope, &label).await?;
            println!(
                "credential {id} ({role}{}{scope}): {token}",
                if scope.is_empty() { "" } else { ":" }
            );
            println!("send it as `Authorization: Bearer {token}`; it is not shown again");
            Ok(())
        }
        AdminCommand::RevokeCredential { id } => {
            let store = insyn_store::Store::connect(data.database_url().expose()).await?;
            if store.revoke_credential(id).await? {
                println!("credential {id} is revoked");
                Ok(())
            } else {
                anyhow::bail!("there is no unrevoked credential {id}")
            }
        }
        AdminCommand::AddPortalKey { municipality } => {
            let municipality: insyn_ledger::id::MunicipalityCode = municipality.parse()?;
            let path = crate::ops::portal_key_path(&data.data_dir, municipality);
            if path.exists() {
                anyhow::bail!(
                    "{} already exists; refusing to overwrite the portal's key",
                    path.display()
                );
            }
            let ledger = Ledger::open(data).await?;
            let added = crate::ops::add_portal_key(&ledger, &data.data_dir, municipality).await?;
            for r in &added.receipts {
                println!("entry {} integrated", r.index);
            }
            println!(
                "portal key for {} {}: {} (key {})",
                municipality.code(),
                municipality.name(),
                added.path.display(),
                added.key_id
            );
            println!("restart `insyn serve` so that the portal signs reviews with it");
            Ok(())
        }
        AdminCommand::AddMunicipality { code, public_key } => {
            let municipality: insyn_ledger::id::MunicipalityCode = code.parse()?;
            let key = parse_public_key(&public_key)?;
            let ledger = Ledger::open(data).await?;
            let receipts = crate::ops::register_municipality(&ledger, municipality, key).await?;
            for r in receipts {
                println!("entry {} integrated", r.index);
            }
            println!(
                "{} {} is registered with key {}",
                municipality.code(),
                municipality.name(),
                key.key_id()
            );
            Ok(())
        }
    }
}

fn parse_public_key(text: &str) -> Result<insyn_ledger::keys::PublicKey> {
    let bytes = hex::decode(text.trim()).context("the public key must be 64 hex characters")?;
    insyn_ledger::keys::PublicKey::from_slice(&bytes).context("not a usable Ed25519 public key")
}

/// A path argument, for commands that take files.
pub type FilePath = PathBuf;
