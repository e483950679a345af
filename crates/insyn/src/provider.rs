//! `insyn provider …` and `insyn municipality …`: command-line glue over `insyn_inspect::client`
//! (signed files, submissions, receipts). Keys stay in files on the signer's own machine.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use insyn_inspect::client::{LogClient, ReceiptStore, SignedFile, sign_report, sign_statement};
use insyn_ledger::entry::{Actor, Body, ContractRef};
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::{KeyId, PublicKey, SigningKey};
use insyn_ledger::note::LogVerifier;

/// Where the log is and how to recognise it.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The log server, e.g. `http://127.0.0.1:8080`.
    #[arg(long, env = "INSYN_SERVER")]
    pub server: String,
    /// The log's note verifier key (`name+keyhash+base64`), obtained out of band.
    #[arg(long, env = "INSYN_LOG_KEY")]
    pub log_key: String,
    /// Directory where receipts are stored.
    #[arg(long, env = "INSYN_RECEIPTS", default_value = "insyn-receipts")]
    pub receipts: PathBuf,
}

/// `insyn provider …`.
#[derive(Debug, clap::Args)]
pub struct ProviderArgs {
    #[command(subcommand)]
    command: ProviderCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProviderCommand {
    /// Create a new Ed25519 key pair in a file only its owner can read; print the public key.
    Keygen {
        /// The secret key file to create (never overwritten).
        #[arg(long, default_value = "insyn-provider.key")]
        out: PathBuf,
    },
    /// Validate a report locally (as the server does) and sign it, offline.
    Sign {
        /// The report JSON (schema v1).
        report: PathBuf,
        /// The provider's secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The contract, `MUNICIPALITY/REFERENCE` (default: the report's).
        #[arg(long)]
        contract: Option<String>,
        /// The period `YYYY-MM` (default: the report's).
        #[arg(long)]
        period: Option<String>,
        /// Sign a correction that supersedes this entry (leaf index).
        #[arg(long)]
        corrects: Option<u64>,
        /// The signed file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Send a signed file, check the receipt (checkpoint signature, inclusion proof) and store it.
    Submit {
        /// The signed file (`insyn provider sign`).
        signed: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the stored receipts.
    Receipts {
        /// Directory where receipts are stored.
        #[arg(long, env = "INSYN_RECEIPTS", default_value = "insyn-receipts")]
        receipts: PathBuf,
    },
    /// Check stored receipt N (the entry's index) against the log's latest checkpoint.
    Prove {
        /// The entry index of the receipt.
        index: u64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Add a key for the provider, signed with one of its current keys (key rotation).
    AddKey {
        /// A current secret key file of the provider.
        #[arg(long)]
        key: PathBuf,
        /// The provider's organisation number.
        #[arg(long)]
        provider: String,
        /// The new public key, 64 hex characters.
        #[arg(long)]
        new_public_key: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke one of the provider's keys, signed with one of its current keys.
    RevokeKey {
        /// A current secret key file of the provider.
        #[arg(long)]
        key: PathBuf,
        /// The provider's organisation number.
        #[arg(long)]
        provider: String,
        /// The key ID (64 hex characters) to revoke.
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `insyn municipality …`.
#[derive(Debug, clap::Args)]
pub struct MunicipalityArgs {
    /// The municipality's secret key file.
    #[arg(long, global = true)]
    key: Option<PathBuf>,
    /// The municipality's SCB code, e.g. 0180.
    #[arg(long, global = true)]
    municipality: Option<String>,
    #[command(subcommand)]
    command: MunicipalityCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MunicipalityCommand {
    /// Register a provider (organisation number), with an optional profile JSON as payload.
    RegisterProvider {
        /// The provider's organisation number.
        provider: String,
        /// A profile JSON file to attach.
        #[arg(long)]
        profile: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Register a contract with a registered provider.
    RegisterContract {
        /// The municipality's reference for the contract.
        reference: String,
        /// The provider's organisation number.
        #[arg(long)]
        provider: String,
        /// First period covered, `YYYY-MM`.
        #[arg(long)]
        first: String,
        /// Last period covered, `YYYY-MM`.
        #[arg(long)]
        last: String,
        /// Budget in whole kronor.
        #[arg(long)]
        budget: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Add a key for a provider this municipality registered.
    AddProviderKey {
        /// The provider's organisation number.
        provider: String,
        /// The provider's public key, 64 hex characters.
        #[arg(long)]
        public_key: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a key of a provider this municipality registered.
    RevokeProviderKey {
        /// The provider's organisation number.
        provider: String,
        /// The key ID to revoke.
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn read_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    SigningKey::from_text(text.trim())
        .with_context(|| format!("{} is not an Insyn secret key", path.display()))
}

fn public_key(hex_text: &str) -> Result<PublicKey> {
    let bytes = hex::decode(hex_text.trim()).context("the public key must be 64 hex characters")?;
    PublicKey::from_slice(&bytes).context("not a usable Ed25519 public key")
}

fn log_verifier(s: &ServerArgs) -> Result<LogVerifier> {
    LogVerifier::from_verifier_key(&s.log_key).context("--log-key is not a note verifier key")
}

/// Creates a key file and prints the public key and key ID.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn keygen(out: &Path) -> Result<SigningKey> {
    let key = SigningKey::generate();
    crate::keyfile::write_new_secret(out, &key.to_text())?;
    println!("wrote {}", out.display());
    println!("public key: {}", hex::encode(key.public_key().to_bytes()));
    println!("key ID: {}", key.key_id());
    Ok(key)
}

async fn submit(file: &SignedFile, server: &ServerArgs) -> Result<()> {
    let log = log_verifier(server)?;
    let client = LogClient::new(&server.server)?;
    let done = client.submit(file, &log).await?;
    let path = ReceiptStore::new(&server.receipts).save(&done.receipt)?;
    println!(
        "{} as entry {}; receipt verified against checkpoint size {}; stored in {}",
        if done.new {
            "integrated"
        } else {
            "already in the log"
        },
        done.receipt.index,
        done.checkpoint.size(),
        path.display()
    );
    Ok(())
}

/// Runs `insyn provider …`.
///
/// # Errors
/// Whatever made the command fail.
pub async fn run_provider(args: ProviderArgs) -> Result<()> {
    match args.command {
        ProviderCommand::Keygen { out } => keygen(&out).map(|_| ()),
        ProviderCommand::Sign {
            report,
            key,
            contract,
            period,
            corrects,
            out,
        } => {
            let key = read_key(&key)?;
            let bytes = std::fs::read(&report)
                .with_context(|| format!("cannot read {}", report.display()))?;
            let contract = contract.map(|c| parse_contract(&c)).transpose()?;
            let period: Option<Period> = period
                .map(|p| p.parse().map_err(|e| anyhow!("--period: {e}")))
                .transpose()?;
            let file = sign_report(&key, &bytes, contract, period, corrects)?;
            write_new(&out, &file.to_json())?;
            println!("signed; wrote {}", out.display());
            Ok(())
        }
        ProviderCommand::Submit { signed, server } => {
            let text = std::fs::read_to_string(&signed)
                .with_context(|| format!("cannot read {}", signed.display()))?;
            let file = SignedFile::from_json(&text)?;
            submit(&file, &server).await
        }
        ProviderCommand::Receipts { receipts } => {
            let list = ReceiptStore::new(&receipts).list()?;
            if list.is_empty() {
                println!("no receipts in {}", receipts.display());
            }
            for r in list {
                let st = r.entry.statement();
                println!(
                    "{:>8}  {:<18} {:<24} key {}",
                    r.index,
                    st.kind().name(),
                    insyn_store::actor_key(st.actor()),
                    st.key_id()
                );
            }
            Ok(())
        }
        ProviderCommand::Prove { index, server } => {
            let log = log_verifier(&server)?;
            let receipt = ReceiptStore::new(&server.receipts).load(index)?;
            let client = LogClient::new(&server.server)?;
            let proved = client.prove(&receipt, &log).await?;
            println!(
                "entry {index} is in the log: its receipt's checkpoint (size {}) is consistent with the latest checkpoint (size {})",
                proved.receipt_checkpoint.size(),
                proved.latest.size()
            );
            Ok(())
        }
        ProviderCommand::AddKey {
            key,
            provider,
            new_public_key,
            server,
        } => {
            let key = read_key(&key)?;
            let provider: OrgNumber = provider.parse().map_err(|e| anyhow!("--provider: {e}"))?;
            let pk = public_key(&new_public_key)?;
            let subject = Actor::Provider(provider);
            let body = Body::KeyAdded {
                subject: subject.clone(),
                public_key: pk.to_bytes(),
            };
            submit(&sign_statement(&key, subject, body, None)?, &server).await
        }
        ProviderCommand::RevokeKey {
            key,
            provider,
            key_id,
            server,
        } => {
            let key = read_key(&key)?;
            let provider: OrgNumber = provider.parse().map_err(|e| anyhow!("--provider: {e}"))?;
            let key_id: KeyId = key_id.parse().map_err(|e| anyhow!("--key-id: {e}"))?;
            let subject = Actor::Provider(provider);
            let body = Body::KeyRevoked {
                subject: subject.clone(),
                key_id,
            };
            submit(&sign_statement(&key, subject, body, None)?, &server).await
        }
    }
}

/// Runs `insyn municipality …`.
///
/// # Errors
/// Whatever made the command fail.
pub async fn run_municipality(args: MunicipalityArgs) -> Result<()> {
    let key = read_key(&args.key.ok_or_else(|| anyhow!("--key is required"))?)?;
    let m: MunicipalityCode = args
        .municipality
        .ok_or_else(|| anyhow!("--municipality is required"))?
        .parse()
        .map_err(|e| anyhow!("--municipality: {e}"))?;
    let actor = Actor::Municipality(m);
    let org = |p: &str| -> Result<OrgNumber> { p.parse().map_err(|e| anyhow!("provider: {e}")) };
    let (file, server) = match args.command {
        MunicipalityCommand::RegisterProvider {
            provider,
            profile,
            server,
        } => {
            let payload = profile
                .map(|p| std::fs::read(&p).with_context(|| format!("cannot read {}", p.display())))
                .transpose()?;
            let body = Body::ProviderRegistered {
                provider: org(&provider)?,
            };
            (
                sign_statement(&key, actor, body, payload.as_deref())?,
                server,
            )
        }
        MunicipalityCommand::RegisterContract {
            reference,
            provider,
            first,
            last,
            budget,
            server,
        } => {
            let body = Body::ContractRegistered {
                contract: ContractRef {
                    municipality: m,
                    reference: reference.parse().map_err(|e| anyhow!("reference: {e}"))?,
                },
                provider: org(&provider)?,
                first: first.parse().map_err(|e| anyhow!("--first: {e}"))?,
                last: last.parse().map_err(|e| anyhow!("--last: {e}"))?,
                budget: Sek(budget),
            };
            (sign_statement(&key, actor, body, None)?, server)
        }
        MunicipalityCommand::AddProviderKey {
            provider,
            public_key: pk,
            server,
        } => {
            let body = Body::KeyAdded {
                subject: Actor::Provider(org(&provider)?),
                public_key: public_key(&pk)?.to_bytes(),
            };
            (sign_statement(&key, actor, body, None)?, server)
        }
        MunicipalityCommand::RevokeProviderKey {
            provider,
            key_id,
            server,
        } => {
            let body = Body::KeyRevoked {
                subject: Actor::Provider(org(&provider)?),
                key_id: key_id.parse().map_err(|e| anyhow!("--key-id: {e}"))?,
            };
            (sign_statement(&key, actor, body, None)?, server)
        }
    };
    submit(&file, &server).await
}

fn parse_contract(text: &str) -> Result<ContractRef> {
    let (m, r) = text.split_once('/').ok_or_else(|| {
        anyhow!("--contract must be MUNICIPALITY/REFERENCE, e.g. 0180/SOC-2025-017")
    })?;
    Ok(ContractRef {
        municipality: m.parse().map_err(|e| anyhow!("--contract: {e}"))?,
        reference: r.parse().map_err(|e| anyhow!("--contract: {e}"))?,
    })
}

fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if !text.ends_with('\n') {
        f.write_all(b"\n")?;
    }
    Ok(())
}
